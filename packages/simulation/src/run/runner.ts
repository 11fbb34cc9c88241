/**
 * Runs a scenario: plans it, then counts the (shard's) units in several threads, the calling
 * thread and worker threads, which take chunks of CHUNK units in turn from one shared counter,
 * and adds up their tallies. Context i depends only on (seed, i), so the result is the same
 * for any number of threads, any sharding and whichever thread counts a chunk.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { planScenario } from '../plan/plan.js';
import { StepLayout } from '../plan/layout.js';
import type { Plan, Scenario, Tally } from '../types.js';
import { chunkedJob, takeChunk, type ChunkedJob } from './chunks.js';
import { RangeCounter } from './count-range.js';
import { addTallies, emptyTally } from './tally.js';

export interface RunOptions {
  /** Units to simulate (default: the scenario population's count). */
  readonly units?: number;
  readonly seed?: number;
  /**
   * Threads that count: the calling thread and `workers - 1` worker threads (0 and 1: the
   * calling thread alone). Default: the machine's parallelism.
   */
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
  /** Threads that counted (0: the calling thread alone, as asked). */
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

type WorkerMessage = { type: 'progress'; units: number } | { type: 'done'; tally: Tally };

function startWorker(job: ChunkedJob, progress: (units: number) => void): { tally: Promise<Tally>; worker: Worker } {
  const worker = new Worker(workerUrl(), { workerData: job });
  const tally = new Promise<Tally>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') progress(m.units);
      else resolve(m.tally);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`simulation worker exited with status ${code}`));
    });
  });
  return { tally, worker };
}

/** Lets the event loop run (worker messages, progress callbacks) between two chunks. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const units = options.units ?? scenario.population.units;
  const seed = options.seed ?? scenario.population.seed;
  const sized: Scenario = { ...scenario, population: { ...scenario.population, units, seed } };
  const { plan, clientSecret } = planScenario(sized, units, seed);
  const shard = options.shard ?? { index: 0, count: 1 };
  const { start, end } = shardRange(units, shard.index, shard.count);
  const total = end - start;
  // A thread costs a fixed start (and its code compiled again): none for fewer than ~10k units each.
  const workers = Math.max(0, Math.min(options.workers ?? availableParallelism(), Math.ceil(total / 10_000)));
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };
  const job = chunkedJob({ scenario: sized, plan, clientSecret, start, end });
  // Worker threads start first, and the calling thread counts while they do.
  const threads = Array.from({ length: Math.max(0, workers - 1) }, () => startWorker(job, progress));
  // A failed worker stops the calling thread at its next chunk; Promise.all below throws its error.
  const failed = { any: false };
  for (const t of threads) void t.tally.catch(() => (failed.any = true));
  let tally = emptyTally(plan.steps.map((s) => new StepLayout(s).size));
  try {
    const counter = new RangeCounter(job);
    for (let chunk = takeChunk(job); chunk !== null && !failed.any; chunk = takeChunk(job)) {
      counter.count(chunk.from, chunk.to);
      progress(chunk.to - chunk.from);
      if (threads.length > 0) await turn(); // the workers' messages
    }
    tally = addTallies(tally, counter.tally());
    for (const t of await Promise.all(threads.map((x) => x.tally))) tally = addTallies(tally, t);
  } finally {
    // Workers have ended unless something failed: then they stop here.
    for (const t of threads) void t.worker.terminate();
  }
  return { plan, tally, shard, workers, seconds: (performance.now() - started) / 1000 };
}
