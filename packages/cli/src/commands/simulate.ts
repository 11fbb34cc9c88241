/**
 * `allot simulate FILE`: runs a scenario through the simulation harness, writes report.json,
 * report.md and report.html, prints the Markdown summary, and exits 0 exactly when every
 * check passes. `--shard k/n` writes a shard file of raw counts instead; `allot simulate
 * merge` adds shard files up into the report an unsharded run would have written. `--queue`
 * runs the shards on BullMQ workers (`allot simulate worker`): see simulate-queue.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import {
  buildReport,
  mergeShards,
  progressBar,
  readScenario,
  readShard,
  renderHtml,
  renderMarkdown,
  runScenario,
  ScenarioError,
  shardFile,
  type Plan,
  type Tally,
} from '@allot/simulation';

import { optionalString, parse } from '../args.js';
import { CliError } from '../cli-error.js';
import type { Command } from '../command.js';
import type { Io } from '../io.js';

const usage =
  'allot simulate FILE [--units N] [--workers K] [--seed S] [--out DIR] [--shard k/n]\n       allot simulate merge SHARD.json... [--out DIR]\n       allot simulate FILE --queue redis://HOST:PORT [--shards N] [--seed S | --seeds A..B] [--units N] [--out DIR]\n       allot simulate worker --queue redis://HOST:PORT [--concurrency C] [--stalled-seconds S] [--exit-when-idle S]';

function integer(text: string | undefined, name: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < min) throw new CliError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}\nusage: ${usage}`);
  return n;
}

function writeReport(io: Io, plan: Plan, tally: Tally, run: { workers: number; seconds: number; shards: number }, dir: string): number {
  const report = buildReport(plan, tally, run);
  mkdirSync(dir, { recursive: true });
  const markdown = renderMarkdown(report);
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), markdown);
  writeFileSync(join(dir, 'report.html'), renderHtml(report));
  io.out(markdown);
  io.out(`reports written to ${dir}/report.{json,md,html}`);
  return report.passed ? 0 : 1;
}

async function merge(argv: readonly string[], io: Io): Promise<number> {
  const args = parse('simulate merge', argv, { out: { type: 'string' } }, usage);
  if (args.positionals.length === 0) throw new CliError(`simulate merge: give the shard files to merge\nusage: ${usage}`);
  let merged;
  try {
    merged = mergeShards(args.positionals.map((p) => readShard(resolve(io.cwd, p))));
  } catch (error) {
    throw new CliError(`simulate merge: ${(error as Error).message}`, 1);
  }
  const dir = resolve(io.cwd, optionalString(args, 'out') ?? join('simulation-reports', merged.plan.scenario));
  return Promise.resolve(writeReport(io, merged.plan, merged.tally, { workers: merged.workers, seconds: merged.seconds, shards: args.positionals.length }, dir));
}

async function worker(argv: readonly string[], io: Io): Promise<number> {
  const args = parse('simulate worker', argv, { queue: { type: 'string' }, concurrency: { type: 'string' }, 'stalled-seconds': { type: 'string' }, 'exit-when-idle': { type: 'string' } }, usage);
  if (args.positionals.length > 0) throw new CliError(`simulate worker takes no file: the scenario comes with each run\nusage: ${usage}`);
  const { queueWorker } = await import('./simulate-queue.js');
  return queueWorker(
    {
      queue: optionalString(args, 'queue'),
      concurrency: integer(optionalString(args, 'concurrency'), 'concurrency', 1),
      stalledSeconds: integer(optionalString(args, 'stalled-seconds'), 'stalled-seconds', 1),
      idleSeconds: integer(optionalString(args, 'exit-when-idle'), 'exit-when-idle', 1),
    },
    io,
  );
}

export const simulate: Command = {
  name: 'simulate',
  usage,
  async run(argv, io) {
    if (argv[0] === 'merge') return merge(argv.slice(1), io);
    if (argv[0] === 'worker') return worker(argv.slice(1), io);
    const queueOptions = { queue: { type: 'string' }, shards: { type: 'string' }, seeds: { type: 'string' } } as const;
    const args = parse('simulate', argv, { units: { type: 'string' }, workers: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, shard: { type: 'string' }, ...queueOptions }, usage);
    const queue = optionalString(args, 'queue');
    if (queue === undefined && (args.values.shards !== undefined || args.values.seeds !== undefined)) throw new CliError(`--shards and --seeds run on a queue: add --queue redis://host:port\nusage: ${usage}`);
    if (queue !== undefined && (args.values.workers !== undefined || args.values.shard !== undefined)) {
      throw new CliError(`with --queue the workers count the shards: drop --workers and --shard, and give the shard count with --shards N\nusage: ${usage}`);
    }
    if (args.values.seed !== undefined && args.values.seeds !== undefined) throw new CliError(`give --seed S for one run or --seeds A..B for a sweep, not both`);
    const file = args.positionals[0];
    if (file === undefined || args.positionals.length > 1) throw new CliError(`simulate: give one scenario file\nusage: ${usage}`);
    let shard: { index: number; count: number } | undefined;
    const shardText = optionalString(args, 'shard');
    if (shardText !== undefined) {
      const m = /^(\d+)\/(\d+)$/.exec(shardText);
      const k = Number(m?.[1]);
      const n = Number(m?.[2]);
      if (m === null || n < 1 || k < 1 || k > n) throw new CliError(`--shard must be k/n with 1 ≤ k ≤ n (e.g. 3/8), got ${JSON.stringify(shardText)}`);
      shard = { index: k - 1, count: n };
    }
    let scenario;
    try {
      scenario = readScenario(resolve(io.cwd, file));
    } catch (error) {
      if (error instanceof ScenarioError) throw new CliError(`${file}: ${error.message}`, 2);
      throw error;
    }
    const units = integer(optionalString(args, 'units'), 'units', 1);
    const seed = integer(optionalString(args, 'seed'), 'seed', 0);
    const workers = integer(optionalString(args, 'workers'), 'workers', 0);
    if (queue !== undefined) {
      const { queuedRun } = await import('./simulate-queue.js');
      const seeds = optionalString(args, 'seeds');
      const name = basename(file).replace(/\.ya?ml$/, '');
      const dir = resolve(io.cwd, optionalString(args, 'out') ?? join('simulation-reports', seeds === undefined ? name : `${name}-seeds-${seeds}`));
      return queuedRun(scenario, { queue, units, seed, seeds, shards: integer(optionalString(args, 'shards'), 'shards', 1), dir, writeReport: (plan, tally, run, to) => writeReport(io, plan, tally, run, to) }, io);
    }
    const bar = io.isTty ? progressBar((t) => process.stderr.write(t)) : null;
    const run = await runScenario(scenario, {
      ...(units === undefined ? {} : { units }),
      ...(seed === undefined ? {} : { seed }),
      ...(workers === undefined ? {} : { workers }),
      ...(shard === undefined ? {} : { shard }),
      ...(bar === null ? {} : { onProgress: (done: number, total: number) => { bar.update(done, total); } }),
    });
    bar?.finish();
    const name = basename(file).replace(/\.ya?ml$/, '');
    if (shard !== undefined) {
      const dir = resolve(io.cwd, optionalString(args, 'out') ?? join('simulation-reports', name, 'shards'));
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `shard-${shard.index + 1}-of-${shard.count}.json`);
      writeFileSync(path, JSON.stringify(shardFile(run)));
      io.out(`shard ${shard.index + 1}/${shard.count}: ${run.tally.counts[0]![0]!.toLocaleString('en-US')} units in ${run.seconds.toFixed(1)} s → ${path}`);
      io.out('merge every shard with: allot simulate merge SHARD.json... [--out DIR]');
      return 0;
    }
    const dir = resolve(io.cwd, optionalString(args, 'out') ?? join('simulation-reports', name));
    return writeReport(io, run.plan, run.tally, { workers: run.workers, seconds: run.seconds, shards: 1 }, dir);
  },
};
