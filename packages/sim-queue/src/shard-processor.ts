/**
 * BullMQ's sandboxed processor for one shard: it runs in a process of its own, so the
 * CPU-bound count never stalls the worker's lock renewal, and BullMQ keeps the process for the
 * worker's next shards. It reads the scenario from the run's parent job (once per scenario per
 * process), checks it against the hash the shard names, plans and prepares the run once per
 * (scenario, units, seed) for every shard of it this process counts, checks that it planned
 * exactly what the submitter planned, counts the shard on this process's thread, and returns
 * the shard file.
 */
import { Worker } from 'node:worker_threads';

import { Queue, type SandboxedJob } from 'bullmq';

import type { Scenario, ShardFile } from '@allot/simulation';

import { connect, parseQueueUrl } from './connection.js';
import { JOB_FORMAT, PREFIX, QUEUE_URL_ENV, RUN_QUEUE, SIMULATION_VERSION, scenarioOfPayload, type RunJobData, type ShardJobData } from './format.js';
import type { ThreadData, ThreadMessage } from './shard-thread.js';

// Only BullMQ's sandboxed processes load this file (the worker names it; nothing imports it).
// A worker that dies without closing its processes (SIGKILL to it alone, the OOM killer)
// leaves them running: BullMQ's child never exits on its own, counts on for nobody (its
// progress messages piling up unsent, hundreds of MB a minute) and, its Redis connection
// open, stays after. BullMQ never closes the channel itself, so its end means the worker is
// gone: stop (silently: its stderr was a pipe to that worker). The shard's lock lapses and
// another worker counts it.
if (process.send !== undefined) {
  process.once('disconnect', () => {
    process.exit(1);
  });
}

const scenarios = new Map<string, Scenario>();

/** A thread counting one run's shards (see shard-thread.ts), once it has planned the run. */
interface RunThread {
  readonly worker: Worker;
  /** The hash of the plan it made. */
  readonly ready: Promise<string>;
}
/** Threads by scenario, units and seed: the last two (a sweep moves from seed to seed). */
const threads = new Map<string, RunThread>();

function startThread(key: string, data: ThreadData): RunThread {
  const worker = new Worker(new URL('./shard-thread.js', import.meta.url), { workerData: data });
  worker.unref();
  const ready = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: ThreadMessage) => {
      if (m.type === 'ready') resolve(m.plan);
      else reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type} from the counting thread`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => { reject(new Error(`the counting thread exited with status ${code}`)); });
  });
  const thread = { worker, ready };
  // A thread that failed is not kept: the shard's retry starts another.
  worker.once('exit', () => { if (threads.get(key) === thread) threads.delete(key); });
  worker.once('error', () => { if (threads.get(key) === thread) threads.delete(key); });
  return thread;
}

/** Counts a shard on `thread`, telling `progress` the units done now and then. */
function countOn(thread: RunThread, shard: ShardJobData['shard'], progress: (done: number) => void): Promise<ShardFile> {
  const { worker } = thread;
  return new Promise<ShardFile>((resolve, reject) => {
    const onMessage = (m: ThreadMessage): void => {
      if (m.type === 'progress') {
        progress(m.done);
        return;
      }
      off();
      if (m.type === 'done') resolve(m.file);
      else reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type} from the counting thread`));
    };
    const onError = (error: Error): void => { off(); reject(error); };
    const onExit = (code: number): void => { off(); reject(new Error(`the counting thread exited with status ${code}`)); };
    const off = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(shard);
  });
}
let runs: Queue | null = null;

async function scenarioOf(job: SandboxedJob<ShardJobData>): Promise<Scenario> {
  const known = scenarios.get(job.data.scenario);
  if (known !== undefined) return known;
  const parentId = job.parent?.id;
  if (parentId === undefined) throw new Error('this shard has no run (parent job) to read its scenario from');
  if (runs === null) {
    const text = process.env[QUEUE_URL_ENV];
    if (text === undefined) throw new Error(`${QUEUE_URL_ENV} is not set: shards run only under allot simulate worker`);
    runs = new Queue(RUN_QUEUE, { connection: connect(parseQueueUrl(text)), prefix: PREFIX, skipMetasUpdate: true });
    // Unheard, BullMQ prints each error (a stack per lost connection) into the worker's output;
    // the connection waits out an outage, and a shard it fails fails with its own message.
    runs.on('error', () => undefined);
  }
  const run = await runs.getJob(parentId);
  if (run === undefined) throw new Error(`run ${parentId} is no longer in Redis (removed, or Redis lost its data)`);
  const scenario = scenarioOfPayload((run.data as RunJobData).scenario, job.data.scenario);
  if (scenarios.size >= 4) scenarios.delete(scenarios.keys().next().value!);
  scenarios.set(job.data.scenario, scenario);
  return scenario;
}

export default async function countShard(job: SandboxedJob<ShardJobData>): Promise<ShardFile> {
  const data = job.data;
  const format: unknown = data.format; // from Redis: written by whichever version submitted the run
  if (format !== JOB_FORMAT) throw new Error(`job format ${String(format)}: this worker reads ${JOB_FORMAT}; run workers of the version that submitted the run`);
  if (data.simulation !== SIMULATION_VERSION) {
    throw new Error(`the run was planned with @allot/simulation ${data.simulation}, this worker has ${SIMULATION_VERSION}: run workers of the submitter's version`);
  }
  const key = `${data.scenario}/${data.units}/${data.seed}`;
  let thread = threads.get(key);
  if (thread === undefined) {
    const scenario = await scenarioOf(job);
    for (const [k, t] of threads) {
      if (threads.size < 2) break;
      threads.delete(k);
      void t.worker.terminate();
    }
    thread = startThread(key, { scenario, units: data.units, seed: data.seed });
    threads.set(key, thread);
  }
  const plan = await thread.ready;
  if (plan !== data.plan) {
    throw new Error(`this worker planned the scenario as ${plan.slice(0, 12)}…, the submitter as ${data.plan.slice(0, 12)}…: run workers of the submitter's version`);
  }
  return countOn(thread, data.shard, (done) => { void job.updateProgress(done).catch(() => undefined); });
}
