/**
 * A simulation worker: BullMQ workers on the shard queue (sandboxed processors, `concurrency`
 * processes, one shard each at a time) and on the run queue (the merge, which is light and
 * runs in this process). Start any number, on any machines that reach the Redis server.
 */
import { availableParallelism, hostname } from 'node:os';

import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

import { connect, parseQueueUrl, reachable } from './connection.js';
import { EVENTS_MAX_LEN, JOB_FORMAT, PREFIX, QUEUE_URL_ENV, RUN_QUEUE, SHARD_QUEUE, type RunJobData, type RunJobResult, type ShardJobData } from './format.js';
import { mergeRun, RunMergeError } from './merge.js';

export interface WorkerOptions {
  /** The Redis server, `redis://host:port[/db]`. */
  readonly queue: string;
  /** Shards counted at once, each in its own process (default: the machine's parallelism). */
  readonly concurrency?: number;
  /**
   * Seconds after which a shard whose worker stopped renewing its lock (killed, cut off) is
   * handed to another worker (default 30).
   */
  readonly stalledSeconds?: number;
  /**
   * Stop after this many seconds with nothing to count (no shard or merge in progress, none
   * finished meanwhile), for workers that should end with the work (a Kubernetes Job's pods).
   * Default: run until closed.
   */
  readonly idleSeconds?: number;
  /** Told of each shard this worker completed or failed. */
  readonly onShard?: (event: ShardEvent) => void;
  /** Told of errors that do not stop the worker (a lost connection, a job it could not finish). */
  readonly onError?: (error: Error) => void;
}

export interface ShardEvent {
  readonly run: string;
  readonly seed: number;
  readonly shard: { readonly index: number; readonly count: number };
  readonly units: number;
  readonly seconds: number;
  /** Null when the shard completed; else why this attempt failed. */
  readonly error: string | null;
  readonly attempt: number;
}

export interface QueueWorker {
  /** Waits for the shards in progress to finish, then disconnects (`force`: abandons them to be retried elsewhere). */
  close(force?: boolean): Promise<void>;
  /** Settles once the worker has closed: by `close`, or after `idleSeconds` with nothing to do. */
  readonly closed: Promise<void>;
}

/** The compiled processor file (tests run from src/, where only the .ts exists). */
function processorUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(here.replace('/src/worker.ts', '/dist/shard-processor.js'));
  return new URL('./shard-processor.js', here);
}

async function mergeJob(job: Job<RunJobData>): Promise<RunJobResult> {
  const format: unknown = job.data.format; // from Redis: written by whichever version submitted the run
  if (format !== JOB_FORMAT) throw new UnrecoverableError(`run format ${String(format)}: this worker reads ${JOB_FORMAT}`);
  const values = await job.getChildrenValues();
  try {
    return { format: JOB_FORMAT, results: mergeRun(job.data, Object.values(values)) };
  } catch (error) {
    if (error instanceof RunMergeError) throw new UnrecoverableError(error.message);
    throw error;
  }
}

export async function startQueueWorker(options: WorkerOptions): Promise<QueueWorker> {
  const url = parseQueueUrl(options.queue);
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  const stalledMs = (options.stalledSeconds ?? 30) * 1000;
  if (!(stalledMs >= 1000)) throw new RangeError(`stalledSeconds must be at least 1, got ${options.stalledSeconds}`);
  const connections: Redis[] = [];
  const connection = (): Redis => {
    const c = connect(url);
    connections.push(c);
    return c;
  };
  const quit = (): void => {
    for (const c of connections) c.disconnect();
  };
  try {
    await reachable(connection(), url);
    // Declares the bound on each queue's event stream (BullMQ keeps it in the queue's meta).
    for (const name of [SHARD_QUEUE, RUN_QUEUE]) await new Queue(name, { connection: connection(), prefix: PREFIX, streams: { events: { maxLen: EVENTS_MAX_LEN } } }).close();
  } catch (error) {
    quit();
    throw error;
  }
  const onError = (error: Error): void => options.onError?.(error);
  // The name BullMQ records on each job this worker takes (`processedBy`): host and process id.
  const common = { name: `${hostname()}:${process.pid}`, prefix: PREFIX, lockDuration: stalledMs, stalledInterval: stalledMs, maxStalledCount: 2 };
  const shards = new Worker<ShardJobData>(SHARD_QUEUE, processorUrl(), {
    ...common,
    connection: connection(),
    concurrency,
    workerForkOptions: { env: { ...process.env, [QUEUE_URL_ENV]: url.href } },
  });
  const runs = new Worker<RunJobData, RunJobResult>(RUN_QUEUE, mergeJob, { ...common, connection: connection(), concurrency: 1 });
  const report = (job: Job<ShardJobData>, error: string | null): void => {
    const d = job.data;
    const seconds = job.finishedOn !== undefined && job.processedOn !== undefined ? (job.finishedOn - job.processedOn) / 1000 : 0;
    const units = Math.floor((d.units * (d.shard.index + 1)) / d.shard.count) - Math.floor((d.units * d.shard.index) / d.shard.count);
    options.onShard?.({ run: job.parent?.id ?? '?', seed: d.seed, shard: d.shard, units, seconds, error, attempt: job.attemptsMade });
  };
  shards.on('completed', (job) => { report(job, null); });
  shards.on('failed', (job, error) => {
    if (job !== undefined) report(job, error.message);
  });
  shards.on('error', onError);
  runs.on('error', onError);
  runs.on('failed', (job, error) => { onError(new Error(`run ${job?.id ?? '?'} failed: ${error.message}`)); });
  await Promise.all([shards.waitUntilReady(), runs.waitUntilReady()]);
  let closing: Promise<void> | null = null;
  let idleTimer: NodeJS.Timeout | undefined;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const close = (force = false): Promise<void> => {
    clearInterval(idleTimer);
    closing ??= Promise.all([shards.close(force), runs.close(force)])
      .then(() => undefined)
      .finally(() => {
        quit();
        resolveClosed();
      });
    return closing;
  };
  if (options.idleSeconds !== undefined) {
    let busy = 0;
    let since = Date.now();
    const change = (by: number) => (): void => {
      busy += by;
      since = Date.now();
    };
    for (const w of [shards, runs] as Worker[]) {
      w.on('active', change(1));
      w.on('completed', change(-1));
      w.on('failed', change(-1));
    }
    const idleMs = options.idleSeconds * 1000;
    idleTimer = setInterval(() => {
      if (busy <= 0 && Date.now() - since >= idleMs) void close().catch(onError);
    }, Math.min(1000, idleMs));
  }
  return { close, closed };
}
