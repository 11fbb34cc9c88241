/**
 * @allot/sim-queue: a simulation past one machine. A scenario's shards become a BullMQ flow on
 * Redis; workers on any machine count them in sandboxed processes; the run's parent job merges
 * their tallies with @allot/simulation's `mergeShards`, one tally per shard, so that the report
 * is exactly the one a local run writes.
 *
 * ```ts
 * const worker = await startQueueWorker({ queue: 'redis://127.0.0.1:6379' }); // anywhere
 * const run = await runOnQueue(readScenario('simulations/ranking.yaml'), { queue: 'redis://127.0.0.1:6379', units: 100_000_000 });
 * const { plan, tally, workers } = run.results[0]!;
 * const report = buildReport(plan, tally, { workers, seconds: run.seconds, shards: run.shards });
 * ```
 */
export { runOnQueue, QueueRunError, DEFAULT_SHARD_UNITS, type QueueRunOptions, type QueueRunResult, type QueueSeedResult } from './submit.js';
export { startQueueWorker, type QueueWorker, type ShardEvent, type WorkerOptions } from './worker.js';
export { parseQueueUrl, QueueConnectionError } from './connection.js';
export { mergeRun, RunMergeError } from './merge.js';
export { summarizeSweep, renderSweep, type SweepSummary } from './sweep.js';
export {
  JOB_FORMAT,
  SHARD_QUEUE,
  RUN_QUEUE,
  PREFIX,
  planHash,
  scenarioPayload,
  type RunJobData,
  type RunJobResult,
  type SeedResult,
  type ShardJobData,
  type ScenarioPayload,
} from './format.js';
