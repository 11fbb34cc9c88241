import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { mergeShards, readScenario, runScenario, shardFile, type Scenario, type ShardFile } from '@allot/simulation';

import { planHash, JOB_FORMAT, type RunJobData } from './format.js';
import { mergeRun, RunMergeError } from './merge.js';

const ranking = fileURLToPath(new URL('../../../simulations/ranking.yaml', import.meta.url));
let scenario: Scenario;
let shards: ShardFile[];
let run: RunJobData;

beforeAll(async () => {
  scenario = readScenario(ranking);
  shards = [];
  for (let index = 0; index < 3; index++) shards.push(shardFile(await runScenario(scenario, { units: 3_000, seed: 5, workers: 1, shard: { index, count: 3 } })));
  run = { format: JOB_FORMAT, scenario: { sha256: '', gzip: '' }, units: 3_000, shards: 3, seeds: [{ seed: 5, plan: planHash(shards[0]!.plan) }] };
});

describe('mergeRun: one tally per (seed, shard index)', () => {
  it('merges the shards, in any order, into what mergeShards makes of them', () => {
    const [result] = mergeRun(run, [shards[2], shards[0], shards[1]]);
    expect(result!.tally).toEqual(mergeShards(shards).tally);
    expect(result!.seed).toBe(5);
  });

  it('counts a shard delivered twice once', () => {
    const [result] = mergeRun(run, [shards[0], shards[1], shards[1], shards[2], shards[0]]);
    expect(result!.tally).toEqual(mergeShards(shards).tally);
  });

  it('refuses a shard delivered twice with different counts', () => {
    const other = { ...shards[1]!, tally: { ...shards[1]!.tally, counts: shards[1]!.tally.counts.map((c) => c.map((x) => x + 1)) } };
    expect(() => mergeRun(run, [...shards, other])).toThrow(new RunMergeError('shard 2/3 of seed 5 was counted twice with different counts: a worker is not deterministic, so no result can be trusted'));
  });

  it('refuses a shard counted under another plan, a missing shard, a shard of another count or of no seed of the run', () => {
    const otherPlan = { ...shards[0]!, plan: { ...shards[0]!.plan, description: 'changed' } };
    expect(() => mergeRun(run, [otherPlan, shards[1], shards[2]])).toThrow(/shard 1\/3 of seed 5 was counted under a different plan/);
    expect(() => mergeRun(run, [shards[0], shards[2]])).toThrow(new RunMergeError('seed 5: missing shard 2/3'));
    expect(() => mergeRun({ ...run, shards: 4 }, shards)).toThrow(/shard 1\/3 of seed 5: the run has 4 shards per seed/);
    expect(() => mergeRun({ ...run, seeds: [{ seed: 6, plan: run.seeds[0]!.plan }] }, shards)).toThrow(/belongs to no seed of this run/);
    expect(() => mergeRun(run, [{ tally: {} }])).toThrow(/not a simulation shard file/);
  });
});
