/**
 * The run's parent job: once every shard has completed, their shard files (the very format
 * `allot simulate --shard k/n` writes) are merged per seed by @allot/simulation's
 * `mergeShards`. Delivery is at least once, so one tally is kept per (seed, shard index): a
 * shard counted twice (retried after its worker was thought lost, or added twice) counts once,
 * and only if both counts agree; a shard whose plan is not the one the run planned is refused.
 */
import { mergeShards, type ShardFile } from '@allot/simulation';

import { planHash, type RunJobData, type SeedResult } from './format.js';

export class RunMergeError extends Error {
  readonly code = 'RUN_MERGE';
  override readonly name = 'RunMergeError';
}

function isShardFile(value: unknown): value is ShardFile {
  const v = value as Partial<ShardFile> | null;
  return typeof v === 'object' && v !== null && v.format === 'allot-simulation-shard/1' && typeof v.shard?.index === 'number' && typeof v.plan === 'object';
}

/** Merges the shards' results (children's return values, in any order) into one result per seed. */
export function mergeRun(run: RunJobData, values: Iterable<unknown>): SeedResult[] {
  const bySeed = new Map<number, Map<number, ShardFile>>(run.seeds.map((s) => [s.seed, new Map()]));
  const hashes = new Map(run.seeds.map((s) => [s.seed, s.plan]));
  for (const value of values) {
    if (!isShardFile(value)) throw new RunMergeError('a shard returned something that is not a simulation shard file: its worker runs another version of @allot/sim-queue');
    const seed = value.plan.seed;
    const name = `shard ${value.shard.index + 1}/${value.shard.count} of seed ${seed}`;
    const shards = bySeed.get(seed);
    if (shards === undefined) throw new RunMergeError(`${name} belongs to no seed of this run`);
    if (value.shard.count !== run.shards) throw new RunMergeError(`${name}: the run has ${run.shards} shards per seed`);
    if (planHash(value.plan) !== hashes.get(seed)) throw new RunMergeError(`${name} was counted under a different plan than the run's (a worker of another version, or another scenario)`);
    const earlier = shards.get(value.shard.index);
    if (earlier === undefined) shards.set(value.shard.index, value);
    else if (JSON.stringify(earlier.tally) !== JSON.stringify(value.tally)) throw new RunMergeError(`${name} was counted twice with different counts: a worker is not deterministic, so no result can be trusted`);
  }
  return run.seeds.map(({ seed, plan }) => {
    let merged;
    try {
      merged = mergeShards([...bySeed.get(seed)!.values()].sort((a, b) => a.shard.index - b.shard.index));
    } catch (error) {
      throw new RunMergeError(`seed ${seed}: ${(error as Error).message}`);
    }
    if (merged.plan.units !== run.units || merged.plan.seed !== seed) throw new RunMergeError(`seed ${seed}: the shards counted ${merged.plan.units} units, the run asked for ${run.units}`);
    return { seed, plan, tally: merged.tally, seconds: merged.seconds, workers: merged.workers };
  });
}
