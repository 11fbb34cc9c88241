/**
 * One run (a scenario at a number of units and a seed) planned and prepared once — states
 * loaded and compiled, populations and reference models built — then counting any of its
 * shards, one at a time, on the calling thread. For a process that counts many shards of one
 * run, as a queue's worker does: `runScenario` plans and prepares again for every shard, and
 * V8 warms the counting loop again over the freshly compiled states. Each shard's counts are
 * exactly `runScenario`'s for that shard, whichever shards were counted before, in any order.
 */
import { planScenario } from '../plan/plan.js';
import type { Plan, Scenario } from '../types.js';
import { CHUNK, RangeCounter } from './count-range.js';
import { shardRange, type RunResult } from './runner.js';

export interface PreparedRunOptions {
  /** Units to simulate (default: the scenario population's count). */
  readonly units?: number;
  readonly seed?: number;
}

/** Lets the event loop run (messages, timers) between two chunks. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class PreparedRun {
  readonly plan: Plan;
  private readonly counter: RangeCounter;
  private counting = false;

  constructor(scenario: Scenario, options: PreparedRunOptions = {}) {
    const units = options.units ?? scenario.population.units;
    const seed = options.seed ?? scenario.population.seed;
    const sized: Scenario = { ...scenario, population: { ...scenario.population, units, seed } };
    const { plan, clientSecret } = planScenario(sized, units, seed);
    this.plan = plan;
    this.counter = new RangeCounter({ scenario: sized, plan, clientSecret, start: 0, end: units });
  }

  /** Counts shard `index` of `count` (0-based index), as `runScenario` with one thread and that shard would. */
  async countShard(shard: { readonly index: number; readonly count: number }, onProgress?: (done: number, total: number) => void): Promise<RunResult> {
    if (this.counting) throw new Error('a prepared run counts one shard at a time');
    this.counting = true;
    const started = performance.now();
    const { start, end } = shardRange(this.plan.units, shard.index, shard.count);
    try {
      this.counter.reset();
      for (let from = start; from < end; from += CHUNK) {
        const to = Math.min(end, from + CHUNK);
        this.counter.count(from, to);
        onProgress?.(to - start, end - start);
        await turn();
      }
      const workers = Math.min(1, Math.ceil((end - start) / 10_000)); // as runScenario counts it
      return { plan: this.plan, tally: this.counter.tally(), shard: { index: shard.index, count: shard.count }, workers, seconds: (performance.now() - started) / 1000 };
    } finally {
      this.counting = false;
    }
  }
}
