/**
 * `allot simulate --queue` and `allot simulate worker` as a user runs them: a real
 * redis-server on a free port, worker processes of the built CLI, runs submitted by the CLI.
 * Every process started here is stopped afterwards, whatever happened (workers by their
 * process group: a worker and its sandboxed processes die together, as a machine would).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RedisServer, freePort, redisServerPath } from '@allot/redis-store/testing';
import { buildReport, readScenario, runScenario } from '@allot/simulation';

const bin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
const ranking = fileURLToPath(new URL('../../../../simulations/ranking.yaml', import.meta.url));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: RedisServer;
/** The run the damage test failed: kept in Redis for inspection. */
let damagedRun = '';
/** The server once started: stopped afterwards even when a test failed. */
let started: RedisServer | null = null;
let work: string;
const workers: { child: ChildProcess; output: () => string }[] = [];

/** `allot ARGS` to completion. */
function allot(args: readonly string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, stdout, stderr }); });
  });
}

/** `allot simulate worker` in a process group of its own, one shard at a time, lost shards retried after 3 s. */
function startWorker(queue = server.url): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [bin, 'simulate', 'worker', '--queue', queue, '--concurrency', '1', '--stalled-seconds', '3'], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const worker = { child, output: () => text };
  workers.push(worker);
  return worker;
}

/** SIGKILL to the worker's whole process group, and wait until it is gone. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    return;
  }
  await gone;
}

/** The processes whose parent is `pid` (Linux: from /proc). */
function childrenOf(pid: number): number[] {
  const children = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Whether `pid` runs: a zombie (exited, not yet reaped by whoever adopted it) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A report without its run facts (seconds, threads, shards), which differ between a local and a queued run. */
function countsOf(dir: string): unknown {
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Record<string, unknown>;
  delete report.run;
  return report;
}

/** Shard jobs in progress with some units counted, least counted first, with the worker counting each (`host:pid`). */
async function shardsCounting(redis: Redis): Promise<{ id: string; progress: number; worker: string }[]> {
  const counting = [];
  for (const id of await redis.lrange('allot:sim-shards:active', 0, -1)) {
    const [progress, worker] = await redis.hmget(`allot:sim-shards:${id}`, 'progress', 'pb');
    if (Number(progress) > 0 && typeof worker === 'string') counting.push({ id, progress: Number(progress), worker });
  }
  return counting.sort((a, b) => a.progress - b.progress);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'allot-sim-queue-'));
  if (redisServerPath !== null) started = server = await RedisServer.start();
});

afterAll(async () => {
  await Promise.all(workers.map((w) => killGroup(w.child)));
  await started?.kill();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(redisServerPath === null)('allot simulate --queue', { timeout: 60_000 }, () => {
  it('says what is wrong with a bad URL, an unreachable Redis, or options that do not go together', async () => {
    const scheme = await allot(['simulate', ranking, '--queue', 'http://127.0.0.1:6379']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toContain('the queue is a Redis server, redis://host:port or rediss://host:port, not http://');
    const port = await freePort();
    const down = await allot(['simulate', ranking, '--queue', `redis://127.0.0.1:${port}`, '--units', '1000']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}): is redis-server running there`);
    const both = await allot(['simulate', ranking, '--queue', server.url, '--workers', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('with --queue the workers count the shards');
    const noQueue = await allot(['simulate', ranking, '--seeds', '1..3']);
    expect(noQueue.code).toBe(2);
    expect(noQueue.stderr).toContain('--shards and --seeds run on a queue: add --queue');
    const workerDown = await allot(['simulate', 'worker', '--queue', `redis://127.0.0.1:${port}`]);
    expect(workerDown.code).toBe(1);
    expect(workerDown.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
  });

  it('a worker stops on SIGTERM, or by itself after --exit-when-idle seconds with nothing to count', async () => {
    const idle = await allot(['simulate', 'worker', '--queue', server.url, '--concurrency', '1', '--exit-when-idle', '1']);
    // Whole exits compared, so that a failure shows what the worker said.
    expect({ code: idle.code, stderr: idle.stderr }).toEqual({ code: 0, stderr: '' });
    expect(idle.stdout).toContain('worker stopped: nothing to count for 1 s');
    const worker = startWorker();
    await until('the worker to be ready', () => worker.output().includes('worker ready'));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => worker.child.once('exit', (code, signal) => { resolve({ code, signal }); }));
    worker.child.kill('SIGTERM');
    expect({ ...(await exited), output: worker.output() }).toMatchObject({ code: 0, signal: null });
  });

  it.skipIf(process.platform !== 'linux')("a worker killed alone leaves no shard process counting for nobody; another worker counts its shard", async () => {
    // A database of its own: this run's jobs are no other test's.
    const queue = `${server.url}/5`;
    const redis = new Redis(server.port, '127.0.0.1', { db: 5 });
    const killed = startWorker(queue);
    let other: ReturnType<typeof startWorker> | undefined;
    try {
      // Shards of 2,000,000 units (seconds each): the one caught less than half counted is still counting when its worker is killed.
      const run = allot(['simulate', ranking, '--queue', queue, '--units', '4000000', '--seed', '5', '--shards', '2', '--out', 'q-orphan']);
      await until('a shard to be counting, less than half done', async () => (await shardsCounting(redis)).some((s) => s.progress < 1_000_000));
      const [shardProcess] = childrenOf(killed.child.pid!);
      expect(shardProcess).toBeDefined();
      // SIGKILL to the worker alone, as the OOM killer would: not to its process group.
      killed.child.kill('SIGKILL');
      await until(`shard process ${shardProcess} to stop once its worker is gone`, () => !alive(shardProcess!), 10_000);
      other = startWorker(queue);
      const queued = await run;
      const local = await allot(['simulate', ranking, '--units', '4000000', '--seed', '5', '--workers', '1', '--out', 'l-orphan']);
      expect(queued.stderr).toBe('');
      expect(queued.code).toBe(local.code);
      expect(countsOf(join(work, 'q-orphan'))).toEqual(countsOf(join(work, 'l-orphan')));
    } finally {
      try {
        process.kill(-killed.child.pid!, 'SIGKILL'); // what it left behind, if anything
      } catch {
        // nothing left
      }
      if (other !== undefined) await killGroup(other.child);
      await redis.flushdb();
      redis.disconnect();
    }
  });

  it('a shard that fails every attempt fails the run with a message naming it, and no report', async () => {
    const redis = new Redis(server.port, '127.0.0.1');
    try {
      const run = allot(['simulate', ranking, '--queue', server.url, '--units', '20000', '--shards', '2', '--out', 'q-damaged']);
      // Before any worker starts, the run's scenario is damaged in Redis: no shard can prove it counts the planned scenario.
      let key = '';
      await until('the run to be submitted', async () => {
        key = (await redis.keys('allot:sim-runs:*')).find((k) => /^allot:sim-runs:[0-9a-f]{16}$/.test(k)) ?? '';
        return key !== '';
      });
      const data = JSON.parse((await redis.hget(key, 'data'))!) as { scenario: { gzip: string } };
      data.scenario.gzip = gzipSync(JSON.stringify({ name: 'something else' })).toString('base64');
      await redis.hset(key, 'data', JSON.stringify(data));
      const worker = startWorker();
      const failed = await run.finally(() => killGroup(worker.child));
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/shard [12]\/2 failed after 3 attempts: the run's scenario has SHA-256 [0-9a-f]{64}, the shard names [0-9a-f]{64}: the run's data is damaged\. No report is written from a partial run/);
      expect(existsSync(join(work, 'q-damaged', 'report.json'))).toBe(false);
      // The failed run and its failed shard are kept for inspection (bounded by count and age).
      damagedRun = key.split(':').pop()!;
      expect(await redis.zrange('allot:sim-runs:failed', '0', '-1')).toEqual([damagedRun]);
      expect((await redis.zrange('allot:sim-shards:failed', '0', '-1')).some((id) => id.startsWith(`${damagedRun}-`))).toBe(true);
    } finally {
      redis.disconnect();
    }
  });

  describe('with 3 workers', () => {
    beforeAll(() => {
      for (let i = 0; i < 3; i++) startWorker();
    });

    it("writes the local run's report (counts, p-values, verdicts) and exits as it does; Redis keeps nothing of the run", async () => {
      const failing = join(work, 'ranking-wrong-claim.yaml');
      // The mixed experiment serves treatment to 2.5% of users; this claims 5%: the run must fail.
      writeFileSync(failing, readFileSync(ranking, 'utf8').replace('variant: treatment, p: 0.025', 'variant: treatment, p: 0.05'));
      const queued = await allot(['simulate', ranking, '--queue', server.url, '--units', '200000', '--seed', '7', '--shards', '4', '--out', 'q-pass']);
      const local = await allot(['simulate', ranking, '--units', '200000', '--seed', '7', '--workers', '1', '--out', 'l-pass']);
      expect(queued.stderr).toBe('');
      expect([queued.code, local.code]).toEqual([0, 0]);
      expect(countsOf(join(work, 'q-pass'))).toEqual(countsOf(join(work, 'l-pass')));
      expect((JSON.parse(readFileSync(join(work, 'q-pass', 'report.json'), 'utf8')) as { run: { shards: number } }).run.shards).toBe(4);
      expect(existsSync(join(work, 'q-pass', 'report.html'))).toBe(true);

      const queuedFail = await allot(['simulate', failing, '--queue', server.url, '--units', '50000', '--shards', '2', '--out', 'q-fail']);
      const localFail = await allot(['simulate', failing, '--units', '50000', '--workers', '1', '--out', 'l-fail']);
      expect([queuedFail.code, localFail.code]).toEqual([1, 1]);
      expect(countsOf(join(work, 'q-fail'))).toEqual(countsOf(join(work, 'l-fail')));

      const redis = new Redis(server.port, '127.0.0.1');
      try {
        // Only each queue's bookkeeping is left: no job, no tally, no scenario (but the failed run kept for inspection).
        const keys = (await redis.keys('*')).filter((k) => !(damagedRun !== '' && k.includes(damagedRun)) && !k.endsWith(':failed'));
        expect(keys.filter((k) => !/^allot:sim-(shards|runs):(meta|events|id|stalled-check)$/.test(k))).toEqual([]);
        expect(await redis.hget('allot:sim-shards:meta', 'opts.maxLenEvents')).toBe('1000');
      } finally {
        redis.disconnect();
      }
    });

    it('--seeds a..b: one flow over the seeds, each run judged as locally, the false-alarm rate with its interval', async () => {
      const sweep = await allot(['simulate', ranking, '--queue', server.url, '--units', '30000', '--seeds', '1..4', '--shards', '2', '--out', 'sweep']);
      const summary = JSON.parse(readFileSync(join(work, 'sweep', 'sweep.json'), 'utf8')) as { seeds: number; failed: number[]; low: number; high: number; calibrated: boolean; runs: { seed: number; passed: boolean }[] };
      const scenario = readScenario(ranking);
      const expected = [];
      for (const seed of [1, 2, 3, 4]) {
        const r = await runScenario(scenario, { units: 30_000, seed, workers: 1 });
        expected.push({ seed, passed: buildReport(r.plan, r.tally, { workers: 1, seconds: r.seconds, shards: 1 }).passed });
      }
      expect(summary.runs.map((r) => ({ seed: r.seed, passed: r.passed }))).toEqual(expected);
      expect(summary.seeds).toBe(4);
      expect(summary.failed).toEqual(expected.filter((e) => !e.passed).map((e) => e.seed));
      expect(summary.low).toBeLessThanOrEqual(summary.failed.length / 4);
      expect(summary.high).toBeGreaterThanOrEqual(summary.failed.length / 4);
      expect(sweep.code).toBe(summary.calibrated ? 0 : 1);
      expect(sweep.stdout).toContain(`${summary.failed.length} of 4 runs failed`);
    });

    it('one worker killed with SIGKILL in the middle of a shard: the shard is counted elsewhere, the report is identical', async () => {
      const redis = new Redis(server.port, '127.0.0.1');
      try {
        // Shards of 1,500,000 units (a few seconds each), so that one caught less than half
        // counted is still counting when its worker is killed, however busy the machine.
        const run = allot(['simulate', ranking, '--queue', server.url, '--units', '4500000', '--seed', '11', '--shards', '3', '--out', 'q-kill']);
        let lost: Awaited<ReturnType<typeof shardsCounting>>[number] | undefined;
        await until('a shard to be counting, less than half done', async () => {
          lost = (await shardsCounting(redis)).find((s) => s.progress < 750_000);
          return lost !== undefined;
        });
        const victim = workers.find((w) => lost!.worker.endsWith(`:${w.child.pid}`))!;
        await killGroup(victim.child);
        const queued = await run;
        expect(queued.stderr).toBe('');
        const local = await allot(['simulate', ranking, '--units', '4500000', '--seed', '11', '--workers', '1', '--out', 'l-kill']);
        expect(queued.code).toBe(local.code);
        expect(countsOf(join(work, 'q-kill'))).toEqual(countsOf(join(work, 'l-kill')));
        // The lost shard was completed by one of the other workers, not by the one killed.
        const line = `shard ${Number(lost!.id.split('-').pop()) + 1}/3: 1,500,000 units`;
        expect(workers.filter((w) => w !== victim).some((w) => w.output().includes(line))).toBe(true);
        expect(victim.output()).not.toContain(line);
      } finally {
        redis.disconnect();
      }
    });

    it('Redis frozen for 4 s mid-run (SIGSTOP, then SIGCONT): the run completes with the identical report', async () => {
      const redis = new Redis(server.port, '127.0.0.1');
      try {
        // Shards of 1,000,000 units: still counting when Redis freezes.
        const run = allot(['simulate', ranking, '--queue', server.url, '--units', '2000000', '--seed', '3', '--shards', '2', '--out', 'q-frozen']);
        await until('a shard to be counting, less than half done', async () => (await shardsCounting(redis)).some((s) => s.progress < 500_000));
        server.stop();
        await new Promise((r) => setTimeout(r, 4_000));
        server.resume();
        const queued = await run;
        const local = await allot(['simulate', ranking, '--units', '2000000', '--seed', '3', '--workers', '1', '--out', 'l-frozen']);
        expect(queued.code).toBe(local.code);
        expect(countsOf(join(work, 'q-frozen'))).toEqual(countsOf(join(work, 'l-frozen')));
      } finally {
        server.resume();
        redis.disconnect();
      }
    });

    it('Redis restarted (without persistence) mid-run: the run fails saying why and writes no report; the workers carry on', async () => {
      const redis = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      redis.on('error', () => undefined);
      try {
        // Shards of 1,000,000 units: still counting when Redis restarts.
        const run = allot(['simulate', ranking, '--queue', server.url, '--units', '3000000', '--shards', '3', '--out', 'q-restart']);
        await until('a shard to be counting, less than half done', async () => (await shardsCounting(redis)).some((s) => s.progress < 500_000));
        await server.kill();
        await server.start();
        const lost = await run;
        expect(lost.code).toBe(1);
        expect(lost.stderr).toMatch(/no longer in Redis .*Redis restarted without persistence.*no report is written/);
        // Its message alone: no stack of each connection lost (BullMQ prints the errors nobody listens to).
        expect(lost.stderr).not.toMatch(/ECONN|\n\s+at /);
        expect(existsSync(join(work, 'q-restart', 'report.json'))).toBe(false);
        // The same workers, reconnected, count the next run.
        const again = await allot(['simulate', ranking, '--queue', server.url, '--units', '100000', '--shards', '2', '--out', 'q-after']);
        expect(again.stderr).toBe('');
        const local = await allot(['simulate', ranking, '--units', '100000', '--workers', '1', '--out', 'l-after']);
        expect(again.code).toBe(local.code);
        expect(countsOf(join(work, 'q-after'))).toEqual(countsOf(join(work, 'l-after')));
      } finally {
        redis.disconnect();
      }
    });
  });
});
