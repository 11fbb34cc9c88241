/**
 * Submits a scenario as one BullMQ flow — a parent job (the run: the scenario, gzipped, and the
 * plan's hash per seed) over one child job per (seed, shard) — follows its progress, and
 * returns the merged counts with the plan this process planned, for the report.
 */
import { randomBytes } from 'node:crypto';

import { FlowProducer, Queue, QueueEvents, type FlowJobNode } from 'bullmq';
import type { Redis } from 'ioredis';

import { planScenario, shardRange, type Plan, type Scenario, type Tally } from '@allot/simulation';

import { connect, displayUrl, parseQueueUrl, QueueConnectionError, reachable } from './connection.js';
import {
  EVENTS_MAX_LEN,
  JOB_FORMAT,
  PREFIX,
  RUN_QUEUE,
  SHARD_QUEUE,
  SIMULATION_VERSION,
  planHash,
  scenarioPayload,
  shardJobId,
  type RunJobData,
  type RunJobResult,
  type ShardJobData,
} from './format.js';

/** Units per shard when `shards` is not given: a few seconds of one core's work, so that per-shard costs stay small. */
export const DEFAULT_SHARD_UNITS = 5_000_000;
const ATTEMPTS = 3;
const DAY = 86_400;

export interface QueueRunOptions {
  /** The Redis server, `redis://host:port[/db]`. */
  readonly queue: string;
  /** Units per seed (default: the scenario population's count). */
  readonly units?: number;
  /** The seed (default: the population's); ignored when `seeds` is given. */
  readonly seed?: number;
  /** A sweep: the same scenario at each of these seeds, in one flow. */
  readonly seeds?: readonly number[];
  /** Shards per seed (default: one per 5,000,000 units, at least 1). */
  readonly shards?: number;
  /** Told the units counted so far (over every seed) and the total; a retried shard starts again from 0. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Told once when no shard has reported within `idleNoticeSeconds` (default 15): are workers running? */
  readonly onIdle?: (message: string) => void;
  readonly idleNoticeSeconds?: number;
  /** Give up when Redis has not answered for this long (default 60 s); the run may still finish on the workers. */
  readonly outageSeconds?: number;
  /** Aborting removes the run's jobs that have not started, and rejects. */
  readonly signal?: AbortSignal;
}

export interface QueueSeedResult {
  readonly seed: number;
  readonly plan: Plan;
  readonly tally: Tally;
  /** Counting threads over all shards (one per shard), as `simulate merge` reports them. */
  readonly workers: number;
}

export interface QueueRunResult {
  readonly run: string;
  readonly shards: number;
  readonly results: readonly QueueSeedResult[];
  /** From submission to merged result. */
  readonly seconds: number;
}

export class QueueRunError extends Error {
  readonly code = 'QUEUE_RUN_FAILED';
  override readonly name = 'QueueRunError';
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * `redis`, whose duplicates are added to `connections`: a blocking reader (`QueueEvents`)
 * reads on a duplicate of the connection it is given, which would otherwise not be ours to cut.
 */
function duplicated(redis: Redis, connections: Redis[]): Redis {
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>): Redis => {
    const copy = duplicate(...args);
    copy.on('error', () => undefined);
    connections.push(copy);
    return copy;
  };
  return redis;
}

/** How long the queues' own close may take before their connections are cut. */
const CLOSE_MS = 2_000;

/** `promise`'s value, or undefined after `ms`, whichever comes first (the timer cleared: it keeps no process alive). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => { resolve(undefined); }, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last error BullMQ reported on this command's connections ('' if none). */
interface LastError {
  message: string;
}

/** `promise`, or a QueueConnectionError once Redis has been silent for `ms`, naming the connections' last error. */
async function answered<T>(promise: Promise<T>, ms: number, url: URL, last: LastError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const why = last.message === '' ? '' : ` (last error: ${last.message})`;
          reject(new QueueConnectionError(`Redis at ${displayUrl(url)} has not answered for ${ms / 1000} s${why}; the run may still finish on the workers, but this command stops waiting`));
        }, ms);
      }),
    ]);
    // Redis answered: an error before this is not why it may be silent later.
    last.message = '';
    return answer;
  } finally {
    clearTimeout(timer);
  }
}

export async function runOnQueue(scenario: Scenario, options: QueueRunOptions): Promise<QueueRunResult> {
  const started = performance.now();
  const url = parseQueueUrl(options.queue);
  const units = options.units ?? scenario.population.units;
  const seeds = options.seeds ?? [options.seed ?? scenario.population.seed];
  if (seeds.length === 0) throw new RangeError('no seeds to run');
  const shards = options.shards ?? Math.max(1, Math.ceil(units / DEFAULT_SHARD_UNITS));
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > units) throw new RangeError(`shards must be an integer from 1 to the units (${units}), got ${shards}`);
  const outageMs = (options.outageSeconds ?? 60) * 1000;

  // The plan is the same at every seed but for its seed field; each worker's own plan is checked against these hashes.
  const first = seeds[0]!;
  const base = planScenario({ ...scenario, population: { ...scenario.population, units, seed: first } }, units, first).plan;
  const plans = seeds.map((seed) => ({ ...base, seed }));
  const hashes = plans.map(planHash);
  const payload = scenarioPayload(scenario);
  const run = randomBytes(8).toString('hex');
  const data: RunJobData = { format: JOB_FORMAT, scenario: payload, units, shards, seeds: seeds.map((seed, i) => ({ seed, plan: hashes[i]! })) };
  const children: FlowJobNode[] = seeds.flatMap((seed, position) =>
    Array.from({ length: shards }, (_, index): FlowJobNode => {
      const shard: ShardJobData = { format: JOB_FORMAT, simulation: SIMULATION_VERSION, scenario: payload.sha256, plan: hashes[position]!, units, seed, shard: { index, count: shards } };
      return {
        name: 'shard',
        queueName: SHARD_QUEUE,
        data: shard,
        opts: {
          jobId: shardJobId(run, position, index),
          attempts: ATTEMPTS,
          backoff: { type: 'exponential', delay: 1_000 },
          removeOnComplete: true,
          removeOnFail: { age: 7 * DAY, count: 1_000 },
          failParentOnFailure: true,
        },
      };
    }),
  );

  const connections: Redis[] = [];
  const connection = (): Redis => {
    const c = connect(url);
    connections.push(c);
    return c;
  };
  const streams = { events: { maxLen: EVENTS_MAX_LEN } };
  let runs: Queue | undefined;
  let shardQueue: Queue | undefined;
  let events: QueueEvents | undefined;
  let flows: FlowProducer | undefined;
  let submitted = false;
  const lastError: LastError = { message: '' };
  try {
    await reachable(connection(), url);
    runs = new Queue(RUN_QUEUE, { connection: connection(), prefix: PREFIX, streams });
    shardQueue = new Queue(SHARD_QUEUE, { connection: connection(), prefix: PREFIX, streams });
    events = new QueueEvents(SHARD_QUEUE, { connection: duplicated(connection(), connections), prefix: PREFIX });
    flows = new FlowProducer({ connection: connection(), prefix: PREFIX });
    // Unheard, BullMQ prints each error (a stack per lost connection). An outage is judged by
    // `answered`, which names the last one.
    const heard = (error: Error): void => {
      lastError.message = error.message;
    };
    runs.on('error', heard);
    shardQueue.on('error', heard);
    events.on('error', heard);
    flows.on('error', heard);

    // Progress: each shard's latest count (a retry reports from 0 again), summed.
    const total = units * seeds.length;
    const done = new Map<string, number>();
    let sum = 0;
    let lastReport = Date.now();
    const set = (jobId: string, n: number): void => {
      sum += n - (done.get(jobId) ?? 0);
      done.set(jobId, n);
      lastReport = Date.now();
      options.onProgress?.(sum, total);
    };
    const sizeOf = (jobId: string): number => {
      const index = Number(jobId.slice(jobId.lastIndexOf('-') + 1));
      const { start, end } = shardRange(units, index, shards);
      return end - start;
    };
    const mine = `${run}-`;
    events.on('progress', ({ jobId, data: n }) => {
      if (jobId.startsWith(mine) && typeof n === 'number') set(jobId, n);
    });
    events.on('completed', ({ jobId }) => {
      if (jobId.startsWith(mine)) set(jobId, sizeOf(jobId));
    });
    await answered(events.waitUntilReady(), outageMs, url, lastError);

    await answered(
      flows.add({
        name: 'run',
        queueName: RUN_QUEUE,
        data,
        opts: { jobId: run, attempts: 2, removeOnComplete: { age: DAY, count: 100 }, removeOnFail: { age: 7 * DAY, count: 100 } },
        children,
      }),
      outageMs,
      url,
      lastError,
    );
    submitted = true;
    options.onProgress?.(0, total);

    let idleNoticed = false;
    const idleMs = (options.idleNoticeSeconds ?? 15) * 1000;
    for (;;) {
      if (options.signal?.aborted === true) throw new QueueRunError(`run ${run} cancelled`);
      const state = await answered(runs.getJobState(run), outageMs, url, lastError);
      if (state === 'completed') break;
      if (state === 'failed') {
        // The run and its failed shard stay for inspection (bounded); shards not yet started would be wasted work.
        submitted = false;
        const reason = await failure(runs, shardQueue, run, seeds);
        await stopWaitingShards(runs, run);
        throw new QueueRunError(reason);
      }
      if (state === 'unknown') {
        throw new QueueRunError(`run ${run} is no longer in Redis at ${displayUrl(url)}: Redis restarted without persistence, was flushed, or the run was removed. Its shards' counts are lost with it, so no report is written; run the command again`);
      }
      if (!idleNoticed && sum === 0 && Date.now() - lastReport > idleMs) {
        idleNoticed = true;
        options.onIdle?.(`no shard has started in ${idleMs / 1000} s: is a worker running? start one with: allot simulate worker --queue ${displayUrl(url)}`);
      }
      await pause(250);
    }
    const job = await answered(runs.getJob(run), outageMs, url, lastError);
    const result = job?.returnvalue as RunJobResult | undefined;
    if (result?.format !== JOB_FORMAT) throw new QueueRunError(`run ${run} completed without a result this version reads`);
    const results = result.results.map((r, i): QueueSeedResult => {
      if (r.seed !== seeds[i] || r.plan !== hashes[i]) throw new QueueRunError(`run ${run}: the merged result of seed ${r.seed} does not match the plan submitted`);
      return { seed: r.seed, plan: plans[i]!, tally: r.tally, workers: r.workers };
    });
    await job?.remove().catch(() => undefined);
    submitted = false;
    options.onProgress?.(total, total);
    return { run, shards, results, seconds: (performance.now() - started) / 1000 };
  } finally {
    if (submitted && runs !== undefined) await abandon(runs, run);
    // Bounded: after a Redis restart `QueueEvents.close` could wait forever (seen once in
    // about 50 restarts, our connections reconnected and idle). The likely cause, from the
    // sources: it waits for an `end` that ioredis does not emit when told to disconnect while
    // reconnecting. Every connection, the blocking reader's duplicate included, is ours: cut
    // them all.
    await within(CLOSE_MS, Promise.allSettled([events, flows, runs, shardQueue].flatMap((q) => (q === undefined ? [] : [q.close()]))));
    for (const c of connections) c.disconnect();
  }
}

/** Removes the shards of a run that have not started (each step bounded: Redis may be the reason to stop). */
async function stopWaitingShards(runs: Queue, run: string, thenRemoveRun = false): Promise<void> {
  try {
    const job = await within(2_000, runs.getJob(run));
    if (job === undefined) return;
    await within(2_000, job.removeUnprocessedChildren().then(() => (thenRemoveRun ? job.remove() : undefined)));
  } catch {
    // Shards in progress hold locks: the run cannot be removed while they finish; its bounded retention removes it later.
  }
}

/** What is left of a run that will not be reported (cancelled, or given up on): its waiting shards, then the run. */
function abandon(runs: Queue, run: string): Promise<void> {
  return stopWaitingShards(runs, run, true);
}

/** Why a run failed: the shard that failed every attempt, by name, when the run says which. */
async function failure(runs: Queue, shards: Queue, run: string, seeds: readonly number[]): Promise<string> {
  const job = await runs.getJob(run);
  const reason = job?.failedReason ?? 'unknown reason';
  const child = /^child \S*:([^:\s]+) failed$/.exec(reason)?.[1];
  if (child !== undefined) {
    const m = /-(\d+)-(\d+)$/.exec(child);
    const failed = await shards.getJob(child);
    if (m !== null) {
      const seed = seeds[Number(m[1])];
      const index = Number(m[2]);
      const count = (failed?.data as ShardJobData | undefined)?.shard.count;
      const attempts = failed?.attemptsMade ?? ATTEMPTS;
      return `shard ${index + 1}${count === undefined ? '' : `/${count}`}${seeds.length > 1 ? ` of seed ${seed}` : ''} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${failed?.failedReason ?? 'its reason is no longer in Redis'}. No report is written from a partial run`;
    }
  }
  return `run ${run} failed: ${reason}. No report is written from a partial run`;
}
