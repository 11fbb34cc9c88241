/**
 * BullMQ's sandboxed processor for one shard: it runs in a process of its own, so the
 * CPU-bound count never stalls the worker's lock renewal, and BullMQ keeps the process for the
 * worker's next shards. It reads the scenario from the run's parent job (once per scenario per
 * process), checks it against the hash the shard names, plans and prepares the run once per
 * (scenario, units, seed) for every shard of it this process counts, checks that it planned
 * exactly what the submitter planned, counts the shard on this process's thread, and returns
 * the shard file.
 */
import { Queue, type SandboxedJob } from 'bullmq';

import { PreparedRun, shardFile, type Scenario, type ShardFile } from '@allot/simulation';

import { connect, parseQueueUrl } from './connection.js';
import { JOB_FORMAT, PREFIX, RUN_QUEUE, SIMULATION_VERSION, planHash, scenarioOfPayload, type RunJobData, type ShardJobData } from './format.js';

/** Set by the worker for its sandboxed processes. */
export const QUEUE_URL_ENV = 'ALLOT_SIM_QUEUE_URL';

const PROGRESS_EVERY_MS = 250;
const scenarios = new Map<string, Scenario>();
/** Prepared runs by scenario, units and seed, with their plan's hash: the last two (a sweep moves from seed to seed). */
const prepared = new Map<string, { run: PreparedRun; plan: string }>();
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
  let run = prepared.get(key);
  if (run === undefined) {
    const scenario = await scenarioOf(job);
    const made = new PreparedRun(scenario, { units: data.units, seed: data.seed });
    run = { run: made, plan: planHash(made.plan) };
    if (prepared.size >= 2) prepared.delete(prepared.keys().next().value!);
    prepared.set(key, run);
  }
  if (run.plan !== data.plan) {
    throw new Error(`this worker planned the scenario as ${run.plan.slice(0, 12)}…, the submitter as ${data.plan.slice(0, 12)}…: run workers of the submitter's version`);
  }
  let last = 0;
  const counted = await run.run.countShard(data.shard, (done) => {
    const now = Date.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    last = now;
    void job.updateProgress(done).catch(() => undefined);
  });
  return shardFile(counted);
}
