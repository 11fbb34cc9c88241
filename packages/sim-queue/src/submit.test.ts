/**
 * `runOnQueue` when Redis goes away for good: against a real redis-server, stopped once the
 * run is submitted and never started again. No worker runs: the run waits, as a queued run
 * does, until Redis has been silent for `outageSeconds`.
 */
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { RedisServer, redisServerPath } from '@allot/redis-store/testing';
import { readScenario } from '@allot/simulation';

import { QueueConnectionError } from './connection.js';
import { runOnQueue } from './submit.js';

const ranking = fileURLToPath(new URL('../../../simulations/ranking.yaml', import.meta.url));
let server: RedisServer | null = null;

afterAll(async () => {
  await server?.kill();
});

describe.skipIf(redisServerPath === null)('runOnQueue', { timeout: 30_000 }, () => {
  it('stops waiting once Redis has been gone for outageSeconds, naming the connections’ last error, and prints nothing itself', async () => {
    server = await RedisServer.start();
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    };
    try {
      const gone: { stopped?: Promise<void> } = {};
      const run = runOnQueue(readScenario(ranking), {
        queue: server.url,
        units: 1_000,
        outageSeconds: 2,
        // Told 0 of 1,000 once the run is submitted: then Redis goes.
        onProgress: () => {
          gone.stopped ??= server!.kill();
        },
      });
      const error = await run.then(
        () => null,
        (e: unknown) => e,
      );
      await gone.stopped;
      expect(error).toBeInstanceOf(QueueConnectionError);
      expect((error as Error).message).toMatch(
        /^Redis at redis:\/\/127\.0\.0\.1:\d+ has not answered for 2 s \(last error: (connect ECONNREFUSED|read ECONNRESET|Connection is closed)[^)]*\); the run may still finish on the workers, but this command stops waiting$/,
      );
    } finally {
      process.stderr.write = write;
    }
    // BullMQ prints an error nobody listens to: every one is heard.
    expect(written.join('')).toBe('');
  });
});
