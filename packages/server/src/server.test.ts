/**
 * The server as a whole: auth over HTTP, the no-tokens rule, graceful shutdown with a
 * request in flight, etags on update (412), and `allot serve` as a process.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { AllotServer, ServerConfigError } from './server.js';
import { READ_TOKEN, startTestServer, testStoreKind, WRITE_TOKEN, type TestServer } from './testing/test-server.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/dist/bin.js');
/** Tests of the workspace file itself, or that start their own servers: run once, on the file store. */
const otherStore = testStoreKind() !== 'file';
const servers: TestServer[] = [];

async function start(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const s = await startTestServer(...args);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe('auth', () => {
  it('answers 401 (with a Bearer challenge) without a token or with a wrong one, 403 for a read token that writes', async () => {
    const s = await start();
    const none = await s.request('/v1/segments', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="allot"');
    expect(await none.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED', field: 'authorization' } });
    expect((await s.request('/v1/segments', { token: `${WRITE_TOKEN}x` })).status).toBe(401);

    const denied = await s.call('POST', '/v1/segments?segmentId=a', {}, READ_TOKEN);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: 'PERMISSION_DENIED' } });
    expect((await s.call('GET', '/v1/segments/a', undefined, READ_TOKEN)).status).toBe(404);

    expect((await s.call('GET', '/v1/segments', undefined, READ_TOKEN)).status).toBe(200);
    expect((await s.call('POST', '/v1/segments?segmentId=a', {}, WRITE_TOKEN)).status).toBe(200);
    expect((await s.call('GET', '/healthz', undefined, null)).status).toBe(200);
  });

  it('checks the token before reading the body or the ids', async () => {
    const s = await start();
    const res = await s.call('POST', '/v1/segments?segmentId=../x', { bogus: 1 }, null);
    expect(res.status).toBe(401);
  });

  it('never writes a token to the log', async () => {
    const s = await start();
    await s.request('/v1/segments', { token: 'not-a-real-token-1234' });
    await s.request('/v1/segments');
    expect(s.log.join('\n')).not.toMatch(/token/);
  });

  it.skipIf(otherStore)('refuses to start off loopback without tokens, and is open on loopback without them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-server-'));
    try {
      await expect(AllotServer.start({ workspace: join(dir, 'w.yaml'), host: '0.0.0.0', port: 0 })).rejects.toBeInstanceOf(ServerConfigError);
      const open = await start({ tokens: [] });
      expect(open.server.open).toBe(true);
      expect((await open.call('POST', '/v1/segments?segmentId=a', {}, null)).status).toBe(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('etags', () => {
  it('refuses an update based on a stale etag with 412, in the body or as If-Match', async () => {
    const s = await start();
    const created = await s.call('POST', '/v1/segments?segmentId=a', { allocation: { proportion: { value: '0.2' } } });
    const etag = created.body.etag as string;
    const renamed = await s.call('PATCH', '/v1/segments/a?updateMask=displayName', { displayName: 'A', etag });
    expect(renamed.status).toBe(200);
    expect(renamed.body.etag).not.toBe(etag);

    const bytes = await s.fileBytes();
    const stale = await s.call('PATCH', '/v1/segments/a?updateMask=displayName', { displayName: 'B', etag });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ error: { code: 'ETAG_MISMATCH', field: 'etag' } });
    const staleHeader = await s.request('/v1/segments/a:allocate', { method: 'POST', headers: { 'if-match': `"${etag}"` } });
    expect(staleHeader.status).toBe(412);
    expect(await s.fileBytes()).toBe(bytes);

    const current = await s.request('/v1/segments/a');
    const fresh = await s.request('/v1/segments/a:allocate', { method: 'POST', headers: { 'if-match': current.headers.get('etag')! } });
    expect(fresh.status).toBe(200);
  });
});

describe('a workspace file broken or removed behind the server', () => {
  it.skipIf(otherStore)('keeps serving reads from the last good state, refuses writes with 409 FAILED_PRECONDITION naming the problem and the repair, 503 when the file is gone, and recovers when it is fixed', async () => {
    const s = await start();
    expect((await s.call('POST', '/v1/segments?segmentId=a', {})).status).toBe(200);
    const good = await s.fileBytes();
    await writeFile(s.workspace, good.replace(/^account: .*$/m, 'account: 42\nbogus: true'));
    const read = await s.call('GET', '/v1/segments');
    expect(read.status).toBe(200);
    expect(read.body.segments).toEqual([expect.objectContaining({ name: 'segments/a' })]);
    expect((await s.call('GET', '/v1/state')).status).toBe(200);
    const health = await s.call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'degraded', error: { code: 'FAILED_PRECONDITION' } });
    const write = await s.call('POST', '/v1/segments?segmentId=b', {});
    expect(write.status).toBe(409);
    expect(write.body.error).toMatchObject({ code: 'FAILED_PRECONDITION', issues: expect.arrayContaining([expect.objectContaining({ path: 'bogus' })]) });
    const message = (write.body.error as { message: string }).message;
    expect(message).toContain('no change can be applied until the stored workspace is repaired, so nothing was written');
    expect(message).toContain('bogus: unknown field');
    expect(message).toContain(`repair: fix what is listed above in ${s.workspace}`);
    expect(await s.fileBytes()).toContain('bogus: true');
    await rm(s.workspace);
    expect((await s.call('GET', '/v1/state')).body.error).toMatchObject({ code: 'UNAVAILABLE' });
    await writeFile(s.workspace, good);
    expect((await s.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await s.call('POST', '/v1/segments?segmentId=b', {})).status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, and its write reaches the file, before close resolves', async () => {
    const s = await start();
    const url = new URL(s.url);
    const body = JSON.stringify({ displayName: 'late' });
    let sendTheRest!: () => void;
    const rest = new Promise<void>((r) => (sendTheRest = r));
    const response = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, method: 'POST', path: '/v1/segments?segmentId=late', headers: { authorization: `Bearer ${WRITE_TOKEN}`, 'content-type': 'application/json', 'content-length': String(body.length) } },
        (res) => {
          res.resume();
          res.on('end', () => { resolve(res.statusCode ?? 0); });
        },
      );
      req.on('error', reject);
      // Part of the body now, the rest once close() has been called and found waiting.
      req.write(body.slice(0, 5));
      void rest.then(() => req.end(body.slice(5)));
    });
    // close() once the server is handling the request (it is waiting for the rest of the body).
    await vi.waitFor(() => { expect((s.server as unknown as { inFlight: number }).inFlight).toBe(1); }, { timeout: 5_000, interval: 5 });
    let closed = false;
    const closing = s.server.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    // New connections are refused while it drains.
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    expect(closed).toBe(false);
    sendTheRest();
    expect(await response).toBe(200);
    await closing;
    expect(await s.fileBytes()).toContain('late');
  });
});

describe('allot serve', () => {
  it.skipIf(otherStore || !existsSync(CLI))('prints "listening on http://HOST:PORT" with the real port, serves, and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-serve-'));
    try {
      const child = spawn(process.execPath, [CLI, 'serve', '--workspace', join(dir, 'w.yaml'), '--port', '0'], {
        env: { ...process.env, ALLOT_TOKENS: `${WRITE_TOKEN}:write` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/m.exec(out);
          if (m !== null) resolve(m[1]!);
        });
        child.on('exit', (code) => { reject(new Error(`exited ${code}: ${stderr}`)); });
      });
      expect(url).not.toMatch(/:0$/);
      const res = await fetch(`${url}/v1/segments`, { headers: { authorization: `Bearer ${WRITE_TOKEN}` } });
      expect(res.status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/"method":"GET","route":"\/v1\/segments","path":"\/v1\/segments","status":200,/);
      expect(stderr).not.toContain(WRITE_TOKEN);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(otherStore || !existsSync(CLI))('refuses a non-loopback host without tokens (exit 2, nothing listening)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-serve-'));
    try {
      const env = { ...process.env };
      delete env.ALLOT_TOKENS;
      const result = await promisify(execFile)(process.execPath, [CLI, 'serve', '--workspace', join(dir, 'w.yaml'), '--host', '0.0.0.0', '--port', '0'], { env }).then(
        () => ({ code: 0, stderr: '' }),
        (e: unknown) => e as { code: number; stderr: string },
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without tokens/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
