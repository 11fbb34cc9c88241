/**
 * `runOnQueue` when Redis goes away for good: against a real redis-server, stopped once the
 * run is submitted and never started again. No worker runs: the run waits, as a queued run
 * does, until Redis has been silent for `outageSeconds`. It runs in a process of its own (the
 * built package), so that everything it prints, through whatever console, is seen.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { RedisServer, redisServerPath } from '@allot/redis-store/testing';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const ranking = fileURLToPath(new URL('../../../simulations/ranking.yaml', import.meta.url));
let server: RedisServer | null = null;

afterAll(async () => {
  await server?.kill();
});

/** Submits a run of 1,000 units; says `submitted` once it is, then the error's class and message as JSON. */
const script = `
import { readScenario } from '@allot/simulation';
import { runOnQueue } from '@allot/sim-queue';
const [queue, file] = process.argv.slice(-2);
let told = false;
try {
  await runOnQueue(readScenario(file), { queue, units: 1000, outageSeconds: 2, onProgress: () => { if (!told) { told = true; process.stdout.write('submitted\\n'); } } });
  process.stdout.write(JSON.stringify({ name: 'none' }) + '\\n');
} catch (error) {
  process.stdout.write(JSON.stringify({ name: error.name, message: error.message }) + '\\n');
}
`;

describe.skipIf(redisServerPath === null)('runOnQueue', { timeout: 30_000 }, () => {
  it('stops waiting once Redis has been gone for outageSeconds, naming the connections’ last error, and prints nothing itself', async () => {
    server = await RedisServer.start();
    const redis = server;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, redis.url, ranking], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let gone: Promise<void> | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (gone === undefined && stdout.includes('submitted\n')) gone = redis.kill();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    await gone;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' }); // BullMQ prints each error nobody listens to: every one is heard
    const [, result] = stdout.trim().split('\n');
    const error = JSON.parse(result!) as { name: string; message?: string };
    expect(error.name).toBe('QueueConnectionError');
    expect(error.message).toMatch(
      /^Redis at redis:\/\/127\.0\.0\.1:\d+ has not answered for 2 s \(last error: (connect ECONNREFUSED|read ECONNRESET|Connection is closed)[^)]*\); the run may still finish on the workers, but this command stops waiting$/,
    );
  });
});
