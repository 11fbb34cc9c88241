/**
 * The queue's overhead: the ranking scenario through BullMQ on a local redis-server with two
 * worker processes (`allot simulate worker --concurrency 1`, each counting one shard at a
 * time on one core), against the same run in one process with two counting threads
 * (`allot simulate --workers 2`). A plain timed script: both rows are the `allot` command as a
 * user runs it, wall-clock from start to exit, rows interleaved, median of the rounds.
 *
 *   node bench/dist/sim-queue.bench.js [units] [rounds] [shards]
 *
 * `units` defaults to 10,000,000, `rounds` to 3, `shards` to the command's default. The
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
const shards = process.argv[4];

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
  const queueArgs = ['simulate', scenario, '--queue', server.url, '--units', String(units), ...(shards === undefined ? [] : ['--shards', shards]), '--out', 'queue'];
  const localArgs = ['simulate', scenario, '--units', String(units), '--workers', '2', '--out', 'local'];
  const rows = { queue: { wall: [] as number[], cpu: [] as number[], loads: [] as number[], busy: [] as number[] }, local: { wall: [] as number[], cpu: [] as number[], loads: [] as number[], busy: [] as number[] } };
  const traffic: { commands: number; input: number; output: number }[] = [];
  let shardCount = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['queue', 'local'] as const) : (['local', 'queue'] as const);
    for (const row of order) {
      const cpuBefore = cpuTicks('self', true) + groupTicks(group.pid!) + cpuTicks(redisPid);
      const loadFrom = loads.length;
      const linesFrom = shardLines.length;
      const before = await stats();
      const wall = await timed(row === 'queue' ? queueArgs : localArgs);
      const after = await stats();
      const cpu = (cpuTicks('self', true) + groupTicks(group.pid!) + cpuTicks(redisPid) - cpuBefore) / TICKS;
      rows[row].wall.push(wall);
      rows[row].cpu.push(cpu);
      rows[row].loads.push(...loads.slice(loadFrom));
      if (row === 'queue') {
        traffic.push({ commands: after.commands - before.commands, input: after.input - before.input, output: after.output - before.output });
        // Each worker prints "…: N units in S s" per shard: the share of the two workers' time spent inside shards.
        const lines = shardLines.slice(linesFrom);
        shardCount = lines.length;
        rows.queue.busy.push(lines.reduce((s, l) => s + Number(/ in ([\d.]+) s/.exec(l)?.[1]), 0) / (2 * wall));
      }
    }
    const q = report('queue');
    const l = report('local');
    if (q.rest !== l.rest) throw new Error(`round ${round + 1}: the queued run's report differs from the local run's`);
    if (l.run.workers !== 2) throw new Error(`round ${round + 1}: the local run counted on ${l.run.workers} threads, not 2`);
  }
  const q = rows.queue;
  const l = rows.local;
  const t = traffic[Math.floor(traffic.length / 2)]!;
  console.log(`ranking scenario, ${units.toLocaleString('en-US')} units, ${shardCount} shards; median of ${rounds} rounds (range); reports identical every round`);
  console.log(`                               wall                 CPU (all processes)   1-min load average`);
  console.log(`queue, 2 worker processes     ${median(q.wall).toFixed(1)} s (${range(q.wall)})   ${median(q.cpu).toFixed(1)} s (${range(q.cpu)})   ${range(q.loads)}`);
  console.log(`local, --workers 2             ${median(l.wall).toFixed(1)} s (${range(l.wall)})   ${median(l.cpu).toFixed(1)} s (${range(l.cpu)})   ${range(l.loads)}`);
  console.log(`queue / local                  ${(median(q.wall) / median(l.wall)).toFixed(3)} wall, ${(median(q.cpu) / median(l.cpu)).toFixed(3)} CPU; per round: ${q.wall.map((x, i) => (x / l.wall[i]!).toFixed(2)).join(' ')} wall`);
  console.log(`workers inside shards          ${(median(q.busy) * 100).toFixed(1)}% of 2 × the queued run's wall-clock`);
  console.log(`Redis per queued run           ${t.commands.toLocaleString('en-US')} commands, ${(t.input / 1024).toFixed(0)} KiB in, ${(t.output / 1024).toFixed(0)} KiB out`);
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
