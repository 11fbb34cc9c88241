/**
 * The queue's overhead: the ranking scenario through BullMQ on a local redis-server with two
 * worker processes (`allot simulate worker --concurrency 1`, each counting one shard at a
 * time on one core), against the same run in one process with two counting threads
 * (`allot simulate --workers 2`). A plain timed script: both rows are the `allot` command as a
 * user runs it, wall-clock from start to exit, rows interleaved, median of the rounds.
 *
 *   node bench/dist/sim-queue.bench.js [units] [rounds] [shards]
 *
 * `units` defaults to 10,000,000, `rounds` to 3, `shards` to the command's default (one per
 * 5,000,000 units). The workers run for the whole bench, as a deployment's would: one small
 * queued run first warms their sandboxed processes and is not measured. Per queued run it also
 * reports what passed through Redis (`INFO stats`: commands, bytes in and out), the numbers
 * the package README scales up on paper.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';

import { RedisServer } from '@allot/redis-store/testing';

const cli = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const scenario = fileURLToPath(new URL('../../simulations/ranking.yaml', import.meta.url));

const units = Number(process.argv[2] ?? 10_000_000);
const rounds = Number(process.argv[3] ?? 3);
const shards = process.argv[4];

const server = await RedisServer.start();
const out = mkdtempSync(join(tmpdir(), 'allot-sim-queue-bench-'));
const workers: ChildProcess[] = [];
const redis = new Redis(server.port, '127.0.0.1');

/** Wall seconds of `allot ARGS` (its exit status is the checks' verdict, not an error). */
function timed(args: readonly string[]): number {
  const started = performance.now();
  try {
    execFileSync(process.execPath, [cli, ...args], { stdio: 'ignore', cwd: out });
  } catch (error) {
    if ((error as { status?: number }).status !== 1) throw error;
  }
  return (performance.now() - started) / 1000;
}

async function stats(): Promise<{ commands: number; input: number; output: number }> {
  const info = await redis.info('stats');
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
  return { commands: field('total_commands_processed'), input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: readonly number[]): string => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

try {
  for (let i = 0; i < 2; i++) {
    workers.push(spawn(process.execPath, [cli, 'simulate', 'worker', '--queue', server.url, '--concurrency', '1'], { stdio: 'ignore', detached: true }));
  }
  timed(['simulate', scenario, '--queue', server.url, '--units', '200000', '--shards', '2', '--out', 'warm-up']);
  const queueArgs = ['simulate', scenario, '--queue', server.url, '--units', String(units), ...(shards === undefined ? [] : ['--shards', shards]), '--out', 'queue'];
  const localArgs = ['simulate', scenario, '--units', String(units), '--workers', '2', '--out', 'local'];
  const queued: number[] = [];
  const local: number[] = [];
  const traffic: { commands: number; input: number; output: number }[] = [];
  const loadBefore = loadavg().map((x) => x.toFixed(1)).join(' ');
  for (let round = 0; round < rounds; round++) {
    const rows = round % 2 === 0 ? ['queue', 'local'] : ['local', 'queue'];
    for (const row of rows) {
      if (row === 'local') {
        local.push(timed(localArgs));
      } else {
        const before = await stats();
        queued.push(timed(queueArgs));
        const after = await stats();
        traffic.push({ commands: after.commands - before.commands, input: after.input - before.input, output: after.output - before.output });
      }
    }
  }
  const q = median(queued);
  const l = median(local);
  const t = traffic[Math.floor(traffic.length / 2)]!;
  console.log(`ranking scenario, ${units.toLocaleString('en-US')} units, shards: ${shards ?? 'default'}; median of ${rounds} rounds (range); load average before ${loadBefore}, after ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`queue, 2 worker processes     ${q.toFixed(1)} s (${range(queued)})`);
  console.log(`local, --workers 2             ${l.toFixed(1)} s (${range(local)})`);
  console.log(`queue / local                  ${(q / l).toFixed(3)} (overhead ${((q / l - 1) * 100).toFixed(1)}%)`);
  console.log(`Redis per queued run           ${t.commands.toLocaleString('en-US')} commands, ${(t.input / 1024).toFixed(0)} KiB in, ${(t.output / 1024).toFixed(0)} KiB out`);
} finally {
  for (const w of workers) {
    try {
      process.kill(-w.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  redis.disconnect();
  await server.kill();
  rmSync(out, { recursive: true, force: true });
}
