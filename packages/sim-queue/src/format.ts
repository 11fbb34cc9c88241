/**
 * What travels through Redis: the run (parent job) carries the scenario once, gzipped and
 * named by the SHA-256 of its JSON; each shard (child job) names the scenario and the plan by
 * their hashes, so a worker needs no file and can prove it computed what the submitter planned.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { gunzipSync, gzipSync } from 'node:zlib';

import type { Plan, Scenario, Tally } from '@allot/simulation';

/** Version of the job formats below; a worker refuses jobs of another. */
export const JOB_FORMAT = 'allot-sim-queue/1';

/** BullMQ key prefix and queue names. */
export const PREFIX = 'allot';
export const SHARD_QUEUE = 'sim-shards';
export const RUN_QUEUE = 'sim-runs';
/** Set by the worker for its sandboxed processes: the Redis server they read a run's scenario from. */
export const QUEUE_URL_ENV = 'ALLOT_SIM_QUEUE_URL';

/** Events kept per queue stream (BullMQ trims it to about this many). */
export const EVENTS_MAX_LEN = 1000;

/** The version of @allot/simulation loaded here: shards are counted by one version only. */
export const SIMULATION_VERSION: string = (createRequire(import.meta.url)('@allot/simulation/package.json') as { version: string }).version;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The plan's hash: what every shard of one seed must have planned. */
export function planHash(plan: Plan): string {
  return sha256(JSON.stringify(plan));
}

export interface ScenarioPayload {
  /** SHA-256 of the scenario's JSON. */
  readonly sha256: string;
  /** The scenario's JSON, gzipped, base64. */
  readonly gzip: string;
}

export function scenarioPayload(scenario: Scenario): ScenarioPayload {
  const json = JSON.stringify(scenario);
  return { sha256: sha256(json), gzip: gzipSync(json).toString('base64') };
}

/** The scenario of a payload, after checking it is the one its hash names. */
export function scenarioOfPayload(payload: ScenarioPayload, expected: string): Scenario {
  const json = gunzipSync(Buffer.from(payload.gzip, 'base64')).toString('utf8');
  const actual = sha256(json);
  if (actual !== expected || payload.sha256 !== expected) throw new Error(`the run's scenario has SHA-256 ${actual}, the shard names ${expected}: the run's data is damaged`);
  return JSON.parse(json) as Scenario;
}

/** Data of the run's parent job. */
export interface RunJobData {
  readonly format: typeof JOB_FORMAT;
  readonly scenario: ScenarioPayload;
  readonly units: number;
  readonly shards: number;
  /** Per seed: the hash of its plan. */
  readonly seeds: readonly { readonly seed: number; readonly plan: string }[];
}

/** Data of one shard's job. */
export interface ShardJobData {
  readonly format: typeof JOB_FORMAT;
  readonly simulation: string;
  readonly scenario: string;
  readonly plan: string;
  readonly units: number;
  readonly seed: number;
  readonly shard: { readonly index: number; readonly count: number };
}

/** The merged counts of one seed, as the run's parent job returns them. */
export interface SeedResult {
  readonly seed: number;
  readonly plan: string;
  readonly tally: Tally;
  /** The longest shard's seconds, and the counting threads over all shards. */
  readonly seconds: number;
  readonly workers: number;
}

export interface RunJobResult {
  readonly format: typeof JOB_FORMAT;
  readonly results: readonly SeedResult[];
}

/** Job ids: `<run>` for the parent, `<run>-<seed position>-<shard index>` for a shard (BullMQ ids take no colon). */
export function shardJobId(runId: string, seedPosition: number, index: number): string {
  return `${runId}-${seedPosition}-${index}`;
}
