/**
 * The queue's overhead: the ranking scenario through BullMQ on a local redis-server with two
 * worker processes (`allot simulate worker --concurrency 1`, each counting one shard at a
 * time on one core), against the same run in one process with two counting threads
 * (`allot simulate --workers 2`). A plain timed script: both rows are the `allot` command as a
 * user runs it, wall-clock from start to exit, rows interleaved, median of the rounds.
 *
 *   node bench/dist/sim-queue.bench.js [units] [rounds] [shards,…]
 *
 * `units` defaults to 10,000,000, `rounds` to 3, `shards` to the command's default; several
 * shard counts (`20,40`) make one queued row each, interleaved with the others. The
 * workers run for the whole bench, as a deployment's would: one small queued run first warms
 * their sandboxed processes and is not measured. Every round checks that both rows wrote the
 * same report (all but the run's timings) and that the local row counted on 2 threads.
 *
 * Fair shares on a shared machine: Linux's autogroup scheduler shares the CPU between sessions
 * before threads, so the two workers run in one session of their own, and each measured
 * command in one of its own: each row's two counting threads are one scheduling group.
 * Besides wall-clock, each row's CPU seconds are summed over every process it used (the
 * command; for the queue also both workers, their sandboxed processes and redis-server),
 * which the machine's other load disturbs far less than wall-clock.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';

import { RedisServer } from '@allot/redis-store/testing';

const cli = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const scenario = fileURLToPath(new URL('../../simulations/ranking.yaml', import.meta.url));

const units = Number(process.argv[2] ?? 10_000_000);
const rounds = Number(process.argv[3] ?? 3);
const shardCounts: (string | undefined)[] = process.argv[4]?.split(',') ?? [undefined];

const TICKS = 100; // clock ticks per second (USER_HZ) on Linux
/** Fields 14–17 of /proc/PID/stat: user and system ticks of the process, and of its reaped children. */
function cpuTicks(pid: number | 'self', children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): field n is fields[n - 3]
    const at = (n: number): number => Number(fields[n - 3]);
    return children ? at(16) + at(17) : at(14) + at(15);
  } catch {
    return 0; // exited meanwhile
  }
}
/** CPU ticks of every live process in process group `pgid`. */
function groupTicks(pgid: number): number {
  let sum = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[5 - 3]) === pgid) sum += Number(fields[14 - 3]) + Number(fields[15 - 3]);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

const server = await RedisServer.start();
const out = mkdtempSync(join(tmpdir(), 'allot-sim-queue-bench-'));
const redis = new Redis(server.port, '127.0.0.1');
const redisPid = Number((await redis.info('server')).match(/^process_id:(\d+)/m)?.[1]);

/** Both workers in one new session (one scheduling group, one process group to stop). */
const worker = `"${process.execPath}" "${cli}" simulate worker --queue ${server.url} --concurrency 1`;
const group = spawn('sh', ['-c', `${worker} & ${worker} & wait`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
const shardLines: string[] = [];
group.stdout.setEncoding('utf8').on('data', (text: string) => shardLines.push(...text.split('\n').filter((l) => / units in /.test(l))));

const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0]!), 1000);

/** Wall seconds of `allot ARGS` in a session of its own (its exit status 1 is the checks' verdict, not an error). */
async function timed(args: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [cli, ...args], { stdio: 'ignore', cwd: out, detached: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('exit', resolve);
    child.on('error', reject);
  });
  if (code !== 0 && code !== 1) throw new Error(`allot ${args.join(' ')} exited with ${code}`);
  return (performance.now() - started) / 1000;
}

async function stats(): Promise<{ commands: number; input: number; output: number }> {
  const info = await redis.info('stats');
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
  return { commands: field('total_commands_processed'), input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
}

function report(dir: string): { run: { workers: number; shards: number }; rest: string } {
  const r = JSON.parse(readFileSync(join(out, dir, 'report.json'), 'utf8')) as { run: { workers: number; shards: number } };
  const { run, ...rest } = r;
  return { run, rest: JSON.stringify(rest) };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: readonly number[], digits = 1): string => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

try {
  await timed(['simulate', scenario, '--queue', server.url, '--units', '200000', '--shards', '2', '--out', 'warm-up']);
  const localArgs = ['simulate', scenario, '--units', String(units), '--workers', '2', '--out', 'local'];
  interface Row {
    readonly name: string;
    readonly args: readonly string[];
    readonly queued: boolean;
    readonly wall: number[];
    readonly cpu: number[];
    readonly loads: number[];
    readonly busy: number[];
    readonly traffic: { commands: number; input: number; output: number }[];
    shards: number;
  }
  const row = (name: string, args: readonly string[], queued: boolean): Row => ({ name, args, queued, wall: [], cpu: [], loads: [], busy: [], traffic: [], shards: 0 });
  const local = row('local, --workers 2', localArgs, false);
  const queues = shardCounts.map((n, i) =>
    row(`queue, ${n ?? 'default'} shards`, ['simulate', scenario, '--queue', server.url, '--units', String(units), ...(n === undefined ? [] : ['--shards', n]), '--out', `queue-${i}`], true),
  );
  const all = [...queues, local];
  for (let round = 0; round < rounds; round++) {
    // Each round in another order: no row always runs first or last.
    const order = all.map((_, i) => all[(i + round) % all.length]!);
    for (const r of order) {
      const cpuBefore = cpuTicks('self', true) + groupTicks(group.pid!) + cpuTicks(redisPid);
      const loadFrom = loads.length;
      const linesFrom = shardLines.length;
      const before = await stats();
      const wall = await timed(r.args);
      const after = await stats();
      r.cpu.push((cpuTicks('self', true) + groupTicks(group.pid!) + cpuTicks(redisPid) - cpuBefore) / TICKS);
      r.wall.push(wall);
      r.loads.push(...loads.slice(loadFrom));
      if (r.queued) {
        r.traffic.push({ commands: after.commands - before.commands, input: after.input - before.input, output: after.output - before.output });
        // Each worker prints "…: N units in S s" per shard: the share of the two workers' time spent inside shards.
        const lines = shardLines.slice(linesFrom);
        r.shards = lines.length;
        r.busy.push(lines.reduce((sum, l) => sum + Number(/ in ([\d.]+) s/.exec(l)?.[1]), 0) / (2 * wall));
      }
    }
    const l = report('local');
    if (l.run.workers !== 2) throw new Error(`round ${round + 1}: the local run counted on ${l.run.workers} threads, not 2`);
    queues.forEach((_, i) => {
      if (report(`queue-${i}`).rest !== l.rest) throw new Error(`round ${round + 1}: the queued run's report (${queues[i]!.name}) differs from the local run's`);
    });
  }
  const cell = (xs: readonly number[]): string => `${median(xs).toFixed(1)} s (${range(xs)})`.padEnd(22);
  console.log(`ranking scenario, ${units.toLocaleString('en-US')} units; median of ${rounds} rounds (range); every queued report identical to the local one, every round`);
  console.log(`${''.padEnd(24)}${'wall'.padEnd(22)}${'CPU, all processes'.padEnd(22)}load avg  queue/local: wall (per round), CPU; workers inside shards; Redis per run`);
  for (const r of all) {
    const head = `${r.name.padEnd(24)}${cell(r.wall)}${cell(r.cpu)}${range(r.loads).padEnd(10)}`;
    if (!r.queued) {
      console.log(head);
      continue;
    }
    const t = r.traffic[Math.floor(r.traffic.length / 2)]!;
    const ratio = `${(median(r.wall) / median(local.wall)).toFixed(3)} (${r.wall.map((x, i) => (x / local.wall[i]!).toFixed(2)).join(' ')}), ${(median(r.cpu) / median(local.cpu)).toFixed(3)}`;
    console.log(`${head}${ratio}; ${(median(r.busy) * 100).toFixed(1)}% of 2 × wall in ${r.shards} shards; ${t.commands.toLocaleString('en-US')} commands, ${(t.input / 1024).toFixed(0)} KiB in, ${(t.output / 1024).toFixed(0)} KiB out`);
  }
} finally {
  clearInterval(sampler);
  try {
    process.kill(-group.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  redis.disconnect();
  await server.kill();
  rmSync(out, { recursive: true, force: true });
}
