/**
 * Shard files: the plan and the raw counts of one shard (never p-values, which do not add).
 * `mergeShards` checks that the shards share one plan and cover every shard exactly once,
 * then adds their counts: the merged result is exactly that of one unsharded run.
 */
import { readFileSync } from 'node:fs';

import type { Plan, Tally } from '../types.js';
import type { RunResult } from './runner.js';
import { addTallies } from './tally.js';

export interface ShardFile {
  readonly format: 'allot-simulation-shard/1';
  readonly shard: { readonly index: number; readonly count: number };
  readonly plan: Plan;
  readonly tally: Tally;
  readonly seconds: number;
  readonly workers: number;
}

export function shardFile(run: RunResult): ShardFile {
  return { format: 'allot-simulation-shard/1', shard: run.shard, plan: run.plan, tally: run.tally, seconds: run.seconds, workers: run.workers };
}

export function readShard(path: string): ShardFile {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Partial<ShardFile>;
  if (data.format !== 'allot-simulation-shard/1') throw new Error(`${path}: not a simulation shard file (format allot-simulation-shard/1)`);
  return data as ShardFile;
}

export function mergeShards(shards: readonly ShardFile[]): { plan: Plan; tally: Tally; seconds: number; workers: number } {
  const first = shards[0];
  if (first === undefined) throw new Error('no shards to merge');
  const plan = JSON.stringify(first.plan);
  const count = first.shard.count;
  const seen = new Set<number>();
  for (const s of shards) {
    if (JSON.stringify(s.plan) !== plan) throw new Error(`shard ${s.shard.index + 1}/${s.shard.count} was run with a different scenario, size or seed`);
    if (s.shard.count !== count) throw new Error(`shards disagree on the shard count (${count} and ${s.shard.count})`);
    if (seen.has(s.shard.index)) throw new Error(`shard ${s.shard.index + 1}/${count} is given twice`);
    seen.add(s.shard.index);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new Error(`missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i + 1}/${count}`).join(', ')}`);
  let tally = first.tally;
  for (const s of shards.slice(1)) tally = addTallies(tally, s.tally);
  return { plan: first.plan, tally, seconds: Math.max(...shards.map((s) => s.seconds)), workers: shards.reduce((a, s) => a + s.workers, 0) };
}
