/**
 * Hostile input: every case gets a 4xx with a stable code, a message and the field at fault,
 * and leaves the workspace file byte for byte as it was.
 */
import { request as httpRequest } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, WRITE_TOKEN, type TestServer } from './testing/test-server.js';

const LIMIT = 4096;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  /** A string is sent as is; anything else as JSON. */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly message?: RegExp;
}

const segment = (allocation: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ displayName: 'x', targeting: {}, allocation, ...extra });

const CASES: readonly Case[] = [
  // Bodies that are not JSON, or not an object.
  { name: 'malformed JSON', method: 'POST', path: '/v1/segments?segmentId=a', body: '{"displayName": ', status: 400, code: 'INVALID_ARGUMENT', field: 'body', message: /not valid JSON/ },
  { name: 'a JSON array body', method: 'POST', path: '/v1/segments?segmentId=a', body: '[1,2]', status: 400, code: 'INVALID_ARGUMENT', field: 'body', message: /expected an object, got an array/ },
  { name: 'invalid UTF-8', method: 'POST', path: '/v1/segments?segmentId=a', body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString('latin1'), status: 400, code: 'INVALID_ARGUMENT', field: 'body' },
  { name: 'a body that is not JSON', method: 'POST', path: '/v1/segments?segmentId=a', body: 'displayName=x', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' },
  { name: 'nesting 1,000 levels deep', method: 'POST', path: '/v1/flags:resolve', body: `{"clientSecret": "s", "evaluationContext": ${'['.repeat(1000)}${']'.repeat(1000)}}`, status: 400, code: 'INVALID_ARGUMENT', message: /nested deeper than 64 levels/ },
  // Wrong types.
  { name: 'a proportion that is a boolean', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ proportion: { value: true } }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.proportion.value' },
  { name: 'a proportion that is not a decimal', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ proportion: { value: '10%' } }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.proportion.value' },
  { name: 'a proportion out of range', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ proportion: { value: '1.5' } }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.proportion', message: /must be in \(0, 1\]/ },
  { name: 'tags that are a string', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ exclusivityTags: 'ranking' }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.exclusivityTags' },
  { name: 'a tag that is a number', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ exclusiveTo: ['ranking', 7] }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.exclusiveTo[1]' },
  { name: 'a displayName that is a number', method: 'POST', path: '/v1/segments?segmentId=a', body: { displayName: 5 }, status: 400, code: 'INVALID_ARGUMENT', field: 'displayName' },
  { name: 'a reserved group tag', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ exclusivityTags: ['group:x'] }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.exclusivityTags[0]' },
  { name: 'targeting that is a number', method: 'POST', path: '/v1/segments?segmentId=a', body: { targeting: 3 }, status: 400, code: 'INVALID_ARGUMENT', field: 'targeting' },
  { name: 'targeting with an unknown criterion ref', method: 'POST', path: '/v1/segments?segmentId=a', body: { targeting: { criteria: {}, expression: { ref: 'c9' } } }, status: 400, code: 'INVALID_ARGUMENT', field: 'targeting.expression.ref' },
  { name: 'targeting text that does not parse', method: 'POST', path: '/v1/segments?segmentId=a', body: { targeting: 'country in [SE, ]' }, status: 400, code: 'INVALID_ARGUMENT', field: 'targeting', message: /column/ },
  { name: 'an evaluationContext that is a list', method: 'POST', path: '/v1/flags:resolve', body: { clientSecret: 's', evaluationContext: [] }, status: 400, code: 'INVALID_ARGUMENT', field: 'evaluationContext' },
  { name: 'a rule weight that is a fraction', method: 'POST', path: '/v1/flags/f/rules', body: { kind: 'ab-test', weights: { on: 0.5 } }, status: 400, code: 'INVALID_ARGUMENT', field: 'weights.on' },
  // Unknown fields and parameters.
  { name: 'an unknown top-level field', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({}, { owner: 'me' }), status: 400, code: 'INVALID_ARGUMENT', field: 'owner', message: /unknown field/ },
  { name: 'an unknown nested field', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ proportion: { value: '0.1' }, bitset: 'ALL' }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.bitset' },
  { name: 'an unknown field in a decimal', method: 'POST', path: '/v1/segments?segmentId=a', body: segment({ proportion: { value: '0.1', units: 3 } }), status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.proportion.units' },
  { name: 'an unknown query parameter', method: 'POST', path: '/v1/segments?segmentId=a&dryRun=true', body: {}, status: 400, code: 'INVALID_ARGUMENT', field: 'dryRun' },
  { name: 'an unknown field in an update mask', method: 'PATCH', path: '/v1/segments/exp?updateMask=state', body: {}, status: 400, code: 'INVALID_ARGUMENT', field: 'updateMask' },
  { name: 'an action body with fields', method: 'POST', path: '/v1/segments/exp:allocate', body: { force: true }, status: 400, code: 'INVALID_ARGUMENT', field: 'force' },
  // Ids: path traversal and other non-ids.
  { name: 'an encoded path traversal', method: 'POST', path: '/v1/segments/..%2F..%2Fetc%2Fpasswd:allocate', status: 400, code: 'INVALID_ARGUMENT', field: 'segment', message: /not a valid id/ },
  { name: 'a dot-dot id', method: 'GET', path: '/v1/segments/..', status: 400, code: 'INVALID_ARGUMENT', field: 'segment' },
  { name: 'an encoded dot-dot id', method: 'PATCH', path: '/v1/segments/%2e%2e', body: { displayName: 'x' }, status: 400, code: 'INVALID_ARGUMENT', field: 'segment' },
  { name: 'a traversal in a query id', method: 'POST', path: '/v1/segments?segmentId=../../x', body: {}, status: 400, code: 'INVALID_ARGUMENT', field: 'segmentId' },
  { name: 'a NUL in an id', method: 'GET', path: '/v1/segments/a%00b', status: 400, code: 'INVALID_ARGUMENT', field: 'segment' },
  { name: 'broken percent-encoding', method: 'GET', path: '/v1/flags/%E0%A4%A', status: 400, code: 'INVALID_ARGUMENT', field: 'flag' },
  { name: 'an id of 10,000 characters', method: 'POST', path: `/v1/segments?segmentId=${'a'.repeat(10_000)}`, body: {}, status: 400, code: 'INVALID_ARGUMENT', field: 'segmentId' },
  { name: 'an uppercase id', method: 'POST', path: '/v1/segments?segmentId=Ranking', body: {}, status: 400, code: 'INVALID_ARGUMENT', field: 'segmentId' },
  { name: 'a traversal in a member segment', method: 'POST', path: '/v1/groups?groupId=g', body: { members: ['segments/../exp'] }, status: 400, code: 'INVALID_ARGUMENT', field: 'members[0]' },
  // Prototype keys.
  { name: 'a top-level __proto__ key', method: 'POST', path: '/v1/segments?segmentId=a', body: '{"__proto__": {"state": "ALLOCATED"}}', status: 400, code: 'INVALID_ARGUMENT', field: '__proto__' },
  { name: 'a nested __proto__ key', method: 'POST', path: '/v1/segments?segmentId=a', body: '{"allocation": {"__proto__": {"proportion": 1}}}', status: 400, code: 'INVALID_ARGUMENT', field: 'allocation.__proto__' },
  { name: 'a __proto__ in an evaluation context', method: 'POST', path: '/v1/flags:resolve', body: '{"clientSecret": "s", "evaluationContext": {"user": {"__proto__": {"admin": true}}}}', status: 400, code: 'INVALID_ARGUMENT', field: 'evaluationContext.user.__proto__' },
  { name: 'a __proto__ variant weight', method: 'POST', path: '/v1/flags/f/rules', body: '{"kind": "ab-test", "weights": {"__proto__": 1}}', status: 400, code: 'INVALID_ARGUMENT', field: 'weights.__proto__' },
  // Routing.
  { name: 'an unknown endpoint', method: 'GET', path: '/v1/experiments', status: 404, code: 'NOT_FOUND' },
  { name: 'an unknown custom method', method: 'POST', path: '/v1/segments/exp:delete', status: 404, code: 'NOT_FOUND' },
  { name: 'a method the endpoint does not take', method: 'DELETE', path: '/v1/segments/exp', status: 405, code: 'METHOD_NOT_ALLOWED' },
];

describe('hostile input', () => {
  let server: TestServer;
  let bytes: string;
  beforeAll(async () => {
    server = await startTestServer({ maxBodyBytes: LIMIT });
    expect((await server.call('POST', '/v1/segments?segmentId=exp', segment({ proportion: { value: '0.1' } }))).status).toBe(200);
    expect((await server.call('POST', '/v1/flags?flagId=f', { variants: [{ name: 'on', value: { on: true } }] })).status).toBe(200);
    bytes = await server.fileBytes();
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(CASES)('$name → $status $code', async (c) => {
    const body = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    const res = await send(server, c.method, c.path, body, c.contentType);
    expect(res.status).toBe(c.status);
    const error = (JSON.parse(res.body) as { error: { code: string; message: string; field?: string } }).error;
    expect(error.code).toBe(c.code);
    expect(error.message.length).toBeGreaterThan(10);
    if (c.field !== undefined) expect(error.field).toBe(c.field);
    if (c.message !== undefined) expect(error.message).toMatch(c.message);
    expect(await server.fileBytes()).toBe(bytes);
    expect(Object.prototype).not.toHaveProperty('state');
    expect(Object.prototype).not.toHaveProperty('admin');
  });

  it('refuses a body over the limit from its Content-Length, before reading it', async () => {
    const res = await send(server, 'POST', '/v1/segments?segmentId=big', JSON.stringify({ displayName: 'x'.repeat(LIMIT) }));
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', field: 'body' } });
    expect(await server.fileBytes()).toBe(bytes);
  });

  it('refuses a chunked body once it passes the limit', async () => {
    const res = await send(server, 'POST', '/v1/segments?segmentId=big', JSON.stringify({ displayName: 'x'.repeat(LIMIT * 4) }), 'application/json', true);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await server.fileBytes()).toBe(bytes);
    // The server still serves.
    expect((await server.call('GET', '/v1/segments/exp')).status).toBe(200);
  });

  it('keeps a state that resolves after all of it', async () => {
    const res = await server.call('POST', '/v1/segments/exp:allocate');
    expect(res.status).toBe(200);
  });
});

/** One raw request (node:http, so bodies, paths and framing are exactly as given). */
function send(server: TestServer, method: string, path: string, body: string | undefined, contentType = 'application/json', chunked = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const headers: Record<string, string> = { authorization: `Bearer ${WRITE_TOKEN}` };
    if (body !== undefined) {
      headers['content-type'] = contentType;
      if (!chunked) headers['content-length'] = String(Buffer.byteLength(body, 'latin1'));
    }
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', reject);
    });
    // The server may answer (413) and close before the whole body is written.
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e);
    });
    if (body === undefined) {
      req.end();
    } else if (chunked) {
      const data = Buffer.from(body, 'latin1');
      for (let i = 0; i < data.length; i += 1024) req.write(data.subarray(i, i + 1024));
      req.end();
    } else {
      req.end(Buffer.from(body, 'latin1'));
    }
  });
}
