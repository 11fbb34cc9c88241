/**
 * Runs a scenario: plans it, splits the (shard's) unit range over worker threads, adds up
 * their tallies. Context i depends only on (seed, i), so the result is the same for any
 * number of workers and any sharding.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { planScenario } from '../plan/plan.js';
import { StepLayout } from '../plan/layout.js';
import type { Plan, Scenario, Tally } from '../types.js';
import { countRange, type RangeJob } from './count-range.js';
import { addTallies, emptyTally } from './tally.js';

export interface RunOptions {
  /** Units to simulate (default: the scenario population's count). */
  readonly units?: number;
  readonly seed?: number;
  /** Worker threads; 0 runs in the calling thread. Default: the machine's parallelism. */
  readonly workers?: number;
  /** Shard k of n (0-based k): only units [k·N/n, (k+1)·N/n) are simulated. */
  readonly shard?: { readonly index: number; readonly count: number };
  /** Told the number of units done so far, and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RunResult {
  readonly plan: Plan;
  readonly tally: Tally;
  readonly shard: { readonly index: number; readonly count: number };
  readonly workers: number;
  readonly seconds: number;
}

/** The units [start, end) of shard `index` of `count`. */
export function shardRange(units: number, index: number, count: number): { start: number; end: number } {
  return { start: Math.floor((units * index) / count), end: Math.floor((units * (index + 1)) / count) };
}

/** The compiled worker script (tests run from src/, where only the .ts exists). */
function workerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(here.replace('/src/run/runner.ts', '/dist/run/worker.js'));
  return new URL('./worker.js', here);
}

function runWorker(job: RangeJob, progress: (units: number) => void): Promise<Tally> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl(), { workerData: job });
    worker.on('message', (m: { type: 'progress'; units: number } | { type: 'done'; tally: Tally }) => {
      if (m.type === 'progress') progress(m.units);
      else resolve(m.tally);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`simulation worker exited with status ${code}`));
    });
  });
}

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const units = options.units ?? scenario.population.units;
  const seed = options.seed ?? scenario.population.seed;
  const sized: Scenario = { ...scenario, population: { ...scenario.population, units, seed } };
  const { plan, clientSecret } = planScenario(sized, units, seed);
  const shard = options.shard ?? { index: 0, count: 1 };
  const { start, end } = shardRange(units, shard.index, shard.count);
  const total = end - start;
  const workers = Math.max(0, Math.min(options.workers ?? availableParallelism(), Math.ceil(total / 10_000)));
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };
  let tally = emptyTally(plan.steps.map((s) => new StepLayout(s).size));
  if (workers === 0) {
    tally = addTallies(tally, countRange({ scenario: sized, plan, clientSecret, start, end }, progress));
  } else {
    const jobs = Array.from({ length: workers }, (_, w) => {
      const r = shardRange(total, w, workers);
      return { scenario: sized, plan, clientSecret, start: start + r.start, end: start + r.end };
    });
    for (const t of await Promise.all(jobs.map((job) => runWorker(job, progress)))) tally = addTallies(tally, t);
  }
  return { plan, tally, shard, workers, seconds: (performance.now() - started) / 1000 };
}
