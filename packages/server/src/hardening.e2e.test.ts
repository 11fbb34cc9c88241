/**
 * Issue 10 through real processes: `allot serve` (the CLI's bin) with no tokens on
 * 127.0.0.1, driven with raw HTTP requests (any Host, Origin, content type) and the CLI.
 * The bounds are generous ("within 2 s") because they catch hangs, not measure speed.
 */
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname } from 'node:os';

import { TARGETING_LIMITS, WORKSPACE_TARGETING_LIMITS } from '@allot/admin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startServe, type ServeProcess } from './testing/serve-process.js';

const JSON_TYPE = { 'content-type': 'application/json' };
/** The expression: 60,000 `or` clauses, about 900 KB. */
const HUGE = Array.from({ length: 60_000 }, (_, i) => `c == ${i}`).join(' or ');

let serve: ServeProcess;
beforeEach(async () => {
  serve = await startServe(['--quiet']);
  const created = await serve.send('POST', '/v1/segments?segmentId=beta', { headers: JSON_TYPE, body: '{"targeting": "country == SE"}' });
  expect(created.status).toBe(200);
});
afterEach(async () => {
  await serve.cleanup();
});

describe('a huge targeting expression', () => {
  it('is refused within 2 s with a 400 naming the limit, the file byte-identical; /healthz answers within 1 s after', async () => {
    expect(Buffer.byteLength(HUGE)).toBeGreaterThan(800_000);
    const before = await serve.fileBytes();
    for (const [method, path] of [
      ['POST', '/v1/segments?segmentId=huge'],
      ['PATCH', '/v1/segments/beta'],
    ] as const) {
      const res = await serve.send(method, path, { headers: JSON_TYPE, body: JSON.stringify({ targeting: HUGE }) });
      expect(res.ms).toBeLessThan(2_000);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({
        error: { code: 'INVALID_ARGUMENT', field: 'targeting', limit: { name: 'targeting.maxBytes', max: TARGETING_LIMITS.maxBytes } },
      });
      expect((res.json!.error as { message: string }).message).toContain('over the limit of 65536 bytes (targeting.maxBytes)');
      const health = await serve.send('GET', '/healthz');
      expect(health.ms).toBeLessThan(1_000);
      expect(health.json).toEqual({ status: 'ok' });
    }
    expect(await serve.fileBytes()).toBe(before);
  });

  it('in Confidence JSON: too many criteria, or references that would expand past the limits', async () => {
    const before = await serve.fileBytes();
    const criteria = Object.fromEntries(
      Array.from({ length: 5_000 }, (_, i) => [`c${i}`, { attribute: { attributeName: 'c', eqRule: { value: { numberValue: i } } } }]),
    );
    const many = await serve.send('POST', '/v1/segments?segmentId=huge', {
      headers: JSON_TYPE,
      body: JSON.stringify({ targeting: { criteria, expression: { ref: 'c0' } } }),
    });
    expect(many.status).toBe(400);
    expect(many.json).toMatchObject({ error: { field: 'targeting.criteria', limit: { name: 'targeting.maxClauses', max: 1000, actual: 5000 } } });
    // One long criterion referred to many times.
    const long = { attribute: { attributeName: 'id', setRule: { values: Array.from({ length: 2_000 }, (_, i) => ({ stringValue: `user-${i}` })) } } };
    const refs = await serve.send('POST', '/v1/segments?segmentId=huge', {
      headers: JSON_TYPE,
      body: JSON.stringify({ targeting: { criteria: { long }, expression: { or: { operands: Array.from({ length: 900 }, () => ({ ref: 'long' })) } } } }),
    });
    expect(refs.status).toBe(400);
    expect(refs.json).toMatchObject({ error: { field: 'targeting.expression', limit: { name: 'targeting.maxBytes' } } });
    expect(await serve.fileBytes()).toBe(before);
  });

  it('the CLI refuses it too, naming the limit, the file byte-identical', async () => {
    const before = await serve.fileBytes();
    const out = await serve.cli(['segments', 'update', 'beta', '--workspace', serve.workspace, '--update-mask', 'targeting', '--targeting', HUGE.slice(0, 100_000)]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('INVALID_ARGUMENT: segments.beta.targeting: the expression is');
    expect(out.stderr).toContain('(targeting.maxBytes)');
    expect(await serve.fileBytes()).toBe(before);
  });

  it('a workspace file holding one (edited by hand) makes /healthz degraded at once, reads keep the last good state, and requests answer fast', async () => {
    const before = await serve.fileBytes();
    await writeFile(serve.workspace, before.replace('targeting: country == SE', `targeting: ${HUGE}`));
    const health = await serve.send('GET', '/healthz');
    expect(health.ms).toBeLessThan(1_000);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: 'degraded', error: { code: 'FAILED_PRECONDITION' } });
    expect((health.json!.error as { message: string }).message).toContain('segments.beta.targeting: the expression is');
    const list = await serve.send('GET', '/v1/segments');
    expect(list.ms).toBeLessThan(2_000);
    expect(list.status).toBe(200);
    const write = await serve.send('POST', '/v1/segments?segmentId=late', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(write.ms).toBeLessThan(2_000);
    expect(write.status).toBe(409);
    // `allot compile` on that file is refused at once instead of running for minutes.
    const started = performance.now();
    const compiled = await serve.cli(['compile', '--workspace', serve.workspace, '--out', `${serve.dir}/state.json`]);
    expect(performance.now() - started).toBeLessThan(10_000); // a whole node process, on a loaded machine
    expect(compiled.code).toBe(1);
    expect(compiled.stderr).toContain('INVALID_WORKSPACE');
    expect(compiled.stderr).toContain('(targeting.maxBytes)');
    await writeFile(serve.workspace, before);
    expect((await serve.send('GET', '/healthz')).json).toEqual({ status: 'ok' });
  });
});

describe('a workspace full of targeting (WORKSPACE_TARGETING_LIMITS)', () => {
  it('still answers every request within 2 s, and refuses more targeting', async () => {
    const expression = Array.from({ length: TARGETING_LIMITS.maxClauses }, (_, i) => `c == ${i}`).join(' or ');
    const slowest: number[] = [];
    for (let i = 0; i < WORKSPACE_TARGETING_LIMITS.maxClauses / TARGETING_LIMITS.maxClauses - 1; i++) {
      const res = await serve.send('POST', `/v1/segments?segmentId=full-${i}`, { headers: JSON_TYPE, body: JSON.stringify({ targeting: expression }) });
      expect(res.status).toBe(200);
      slowest.push(res.ms);
    }
    // The last 999 conditions (beta holds one), then one too many.
    expect((await serve.send('POST', '/v1/segments?segmentId=last', { headers: JSON_TYPE, body: JSON.stringify({ targeting: expression.replace(' or c == 999', '') }) })).status).toBe(200);
    const before = await serve.fileBytes();
    const over = await serve.send('POST', '/v1/segments?segmentId=over', { headers: JSON_TYPE, body: '{"targeting": "a == 1"}' });
    expect(over.status).toBe(400);
    expect(over.json).toMatchObject({ error: { code: 'INVALID_ARGUMENT', limit: { name: 'workspace.maxClauses', max: 10_000, actual: 10_001 } } });
    expect(await serve.fileBytes()).toBe(before);
    const [state, health] = await Promise.all([serve.send('GET', '/v1/state'), serve.send('GET', '/healthz')]);
    expect(state.status).toBe(200);
    expect(health.status).toBe(200);
    slowest.push(over.ms, state.ms);
    expect(Math.max(...slowest)).toBeLessThan(2_000);
    expect(health.ms).toBeLessThan(2_000);
  });
});

describe('no-token loopback mode', () => {
  it('refuses a cross-origin archive with an empty text/plain body (403), nothing changed', async () => {
    const before = await serve.fileBytes();
    const res = await serve.send('POST', '/v1/segments/beta:archive', { headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: '' });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: { code: 'PERMISSION_DENIED', field: 'origin' } });
    expect(await serve.fileBytes()).toBe(before);
  });

  it('requires application/json on every change, even with an empty body (415)', async () => {
    const before = await serve.fileBytes();
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }]) {
      const res = await serve.send('POST', '/v1/segments/beta:archive', { headers });
      expect(res.status).toBe(415);
      expect(res.json).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' } });
    }
    expect(await serve.fileBytes()).toBe(before);
    const ok = await serve.send('POST', '/v1/segments/beta:allocate', { headers: { ...JSON_TYPE, origin: `http://localhost:${serve.port}` } });
    expect(ok.status).toBe(200);
  });

  it('answers only loopback Host names with its port (DNS rebinding): /v1/state is not readable as evil.example', async () => {
    for (const host of ['evil.example', `evil.example:${serve.port}`, '127.0.0.1.nip.io', `localhost:${serve.port + 1}`, 'localhost']) {
      const res = await serve.send('GET', '/v1/state', { headers: { host } });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'PERMISSION_DENIED', field: 'host' } });
      expect(res.text).not.toContain('secret');
    }
    const before = await serve.fileBytes();
    const write = await serve.send('POST', '/v1/segments/beta:archive', { headers: { host: `evil.example:${serve.port}`, origin: `http://evil.example:${serve.port}`, ...JSON_TYPE } });
    expect(write.status).toBe(403);
    expect(await serve.fileBytes()).toBe(before);
    for (const host of [`localhost:${serve.port}`, `127.0.0.1:${serve.port}`, `LOCALHOST:${serve.port}`]) {
      expect((await serve.send('GET', '/v1/state', { headers: { host } })).status).toBe(200);
    }
  });
});

describe('proportions', () => {
  it('below one bucket (1e-7) are refused by the API and the CLI; 0.000001 allocates one bucket', async () => {
    const before = await serve.fileBytes();
    const api = await serve.send('POST', '/v1/segments?segmentId=tiny', { headers: JSON_TYPE, body: '{"allocation": {"proportion": {"value": "1e-7"}}}' });
    expect(api.status).toBe(400);
    expect(api.json).toMatchObject({ error: { code: 'INVALID_ARGUMENT', field: 'allocation.proportion' } });
    expect((api.json!.error as { message: string }).message).toContain('must be at least 0.000001 (one bucket of 1,000,000)');
    const cli = await serve.cli(['segments', 'create', 'tiny', '--workspace', serve.workspace, '--proportion', '0.00001%']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('must be at least 0.000001');
    expect(await serve.fileBytes()).toBe(before);
    await serve.send('POST', '/v1/segments?segmentId=one', { headers: JSON_TYPE, body: '{"allocation": {"proportion": {"value": "0.000001"}}}' });
    const one = await serve.send('POST', '/v1/segments/one:allocate', { headers: JSON_TYPE });
    expect(one.json).toMatchObject({ state: 'ALLOCATED', allocatedBuckets: 1 });
  });
});

describe('version comparisons', () => {
  it('`app_version >= banana` is refused by the CLI and the API with what to write instead', async () => {
    const cli = await serve.cli(['segments', 'create', 'v', '--workspace', serve.workspace, '--targeting', 'app_version >= banana']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('">=" needs a number, a version (2.1.0 or version("2.1.0")), a timestamp or a quoted string, got the word "banana"');
    const api = await serve.send('POST', '/v1/segments?segmentId=v', { headers: JSON_TYPE, body: '{"targeting": "app_version >= banana"}' });
    expect(api.status).toBe(400);
    expect(api.json).toMatchObject({ error: { field: 'targeting' } });
  });
});

describe("node:http's own refusals", () => {
  const raw = (bytes: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect(serve.port, '127.0.0.1', () => socket.end(bytes));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('end', () => { resolve(text); });
      socket.on('error', reject);
    });
  const parse = (response: string): { status: number; body: unknown } => {
    const [head, body] = response.split('\r\n\r\n', 2) as [string, string];
    expect(head.toLowerCase()).toContain('content-type: application/json');
    return { status: Number(head.split(' ')[1]), body: JSON.parse(body) };
  };

  it('a malformed request is a JSON 400', async () => {
    expect(parse(await raw('GARBAGE\r\n\r\n'))).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', field: 'request' } } });
  });

  it('headers over 16 KiB are a JSON 431', async () => {
    const response = await raw(`GET /healthz HTTP/1.1\r\nhost: 127.0.0.1:${serve.port}\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(parse(response)).toMatchObject({ status: 431, body: { error: { code: 'HEADERS_TOO_LARGE' } } });
  });
});

describe('SIGTERM', () => {
  it('stops within 5 s even with a write stuck waiting for the workspace lock', async () => {
    // A lock held by a live process (this test's): the write waits (up to 10 s by default).
    await writeFile(`${serve.workspace}.lock`, JSON.stringify({ host: hostname(), pid: process.pid, token: 'held' }));
    const pending = serve.send('POST', '/v1/segments?segmentId=late', { headers: JSON_TYPE, body: '{}' }).catch(() => null);
    await new Promise((r) => setTimeout(r, 300));
    const { ms } = await serve.terminate();
    expect(ms).toBeLessThan(5_000);
    await pending;
  });
});

describe('operator edges', () => {
  it('CLI writers get their turn while the server is busy writing (no LOCK_TIMEOUT)', async () => {
    let stop = false;
    let serverWrites = 0;
    // A server write gives up on the lock after 1.5 s (503 LOCK_TIMEOUT, Retry-After: 1) when a
    // CLI run, slow on a busy machine, holds it that long; a client retries it, as the README says.
    const load = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const res = await serve.send('POST', `/v1/segments?segmentId=load-${n}-${i}`, { headers: JSON_TYPE, body: '{}' });
        if (res.status === 503) {
          expect((res.json?.error as { code?: string } | undefined)?.code).toBe('LOCK_TIMEOUT');
          await new Promise((r) => setTimeout(r, 1_000 * Number(res.headers['retry-after'] ?? 1)));
          i--;
          continue;
        }
        expect(res.status).toBe(200);
        serverWrites++;
      }
    };
    const loads = [0, 1, 2].map(load);
    const results: (number | null)[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const out = await serve.cli(['segments', 'create', `cli-${i}`, '--workspace', serve.workspace]);
        if (out.code !== 0) console.error(out.stderr);
        results.push(out.code);
      }
    } finally {
      stop = true;
      await Promise.all(loads);
    }
    expect(results).toEqual(Array.from({ length: 5 }, () => 0));
    expect(serverWrites).toBeGreaterThan(5);
    const list = (await serve.send('GET', '/v1/segments')).json as { segments: { name: string }[] };
    expect(list.segments.filter((s) => s.name.startsWith('segments/cli-'))).toHaveLength(5);
  });

  it('temp files left by a killed writer are removed by the next write', async () => {
    const dead = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('exit', () => { resolve(child.pid!); });
    });
    await writeFile(`${serve.dir}/.allot.yaml.${dead}.0123456789ab.tmp`, 'x'.repeat(1_000_000));
    expect((await readdir(serve.dir)).filter((n) => n.endsWith('.tmp'))).toHaveLength(1);
    expect((await serve.send('POST', '/v1/segments?segmentId=after', { headers: JSON_TYPE, body: '{}' })).status).toBe(200);
    expect((await readdir(serve.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
