/**
 * A fuzz test over the HTTP API of a real `allot serve` (no tokens, loopback): fast-check
 * generates methods, paths with ids, query strings, headers (Host, Origin, Content-Type,
 * If-Match and arbitrary ones) and bodies (arbitrary JSON, segment- and flag-shaped bodies
 * with generated targeting expressions and proportions, raw bytes). Every answer must be
 * JSON (a success, or `{"error": {"code", "message"}}`), arrive within 2 s, and a refused
 * request must leave the workspace file byte-identical. Runs are few (CI time); a failure
 * prints the request that caused it.
 */
import { fc, test } from '@fast-check/vitest';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect } from 'vitest';

import { startServe, type ServeProcess } from './testing/serve-process.js';
import { PAGE_FILES } from './web/page.js';

let serve: ServeProcess;
beforeAll(async () => {
  serve = await startServe(['--quiet']);
  const json = { 'content-type': 'application/json' };
  for (const [path, body] of [
    ['/v1/segments?segmentId=beta', '{"targeting": "country in [SE, NO]", "allocation": {"proportion": "0.2", "exclusivityTags": ["t"], "exclusiveTo": ["t"]}}'],
    ['/v1/segments/beta:allocate', ''],
    ['/v1/segments?segmentId=gamma', '{}'],
    ['/v1/flags?flagId=f', '{"variants": [{"name": "on", "value": true}, {"name": "off", "value": false}]}'],
  ] as const) {
    const res = await serve.send('POST', path, { headers: json, body });
    expect(res.status, `${path}: ${res.text}`).toBe(200);
  }
});
afterAll(async () => {
  await serve.cleanup();
});

const printable = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme-ascii', maxLength });
const id = fc.oneof(fc.constantFrom('beta', 'gamma', 'f', 'nope', 'a'.repeat(64), '..', '%2e%2e%2f', '%00', '%E0%A4%A', 'segments%2Fbeta'), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), printable(12).map(encodeURIComponent));

const path = fc.oneof(
  fc.constantFrom('/healthz', '/v1/state', '/v1/segments', '/v1/segments:availableSpace', '/v1/flags', '/v1/groups', '/v1/flags:resolve', '/', '/v1', '/v2/segments'),
  id.map((x) => `/v1/segments/${x}`),
  fc.tuple(id, fc.constantFrom('allocate', 'archive', 'nope', '')).map(([x, verb]) => `/v1/segments/${x}:${verb}`),
  id.map((x) => `/v1/flags/${x}`),
  id.map((x) => `/v1/groups/${x}`),
  printable(30).map((s) => `/${encodeURI(s)}`),
);

const query = fc
  .array(fc.tuple(fc.constantFrom('segmentId', 'flagId', 'groupId', 'updateMask', 'force', 'tag', 'state', 'exclusivityTags', 'segment', 'x'), fc.oneof(id, printable(20))), { maxLength: 3 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`));

/** Targeting expressions from the language's grammar, with some noise. */
const expression: fc.Arbitrary<string> = fc.letrec<{ expr: string; condition: string }>((tie) => ({
  condition: fc.oneof(
    fc.tuple(fc.constantFrom('country', 'age', 'app_version', 'a.b'), fc.constantFrom('==', '!=', '<', '>=', '='), fc.constantFrom('SE', '"x"', '18', '2.1.0', 'banana', 'true', '2026-01-01', 'version("1.2.3")')).map((p) => p.join(' ')),
    fc.tuple(fc.constantFrom('country', 'id'), fc.constantFrom('in', 'not in'), fc.array(fc.constantFrom('SE', '"NO"', '1'), { maxLength: 4 })).map(([a, op, vs]) => `${a} ${op} [${vs.join(', ')}]`),
    fc.constantFrom('segment beta', 'segment gamma', 'segment nope', 'x is null', 'x is not null', 'e ends with "@x"'),
  ),
  expr: fc.oneof(
    { depthSize: 'small' },
    tie('condition'),
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map((p) => p.join(' ')),
    tie('expr').map((e) => `not (${e})`),
    tie('expr').map((e) => `(${e}`),
  ),
})).expr;

const targeting = fc.oneof(
  { arbitrary: fc.oneof(expression, fc.constant('')), weight: 4 },
  printable(40),
  fc.integer({ min: 1, max: 3_000 }).map((n) => Array.from({ length: n }, (_, i) => `c == ${i}`).join(' or ')),
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ criteria: fc.dictionary(fc.constantFrom('c1', 'c2'), fc.jsonValue({ maxDepth: 3 })), expression: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
);
const proportion = fc.oneof(
  { arbitrary: fc.constantFrom('0.01', 0.02, { value: '0.005' }, '0.000001'), weight: 4 },
  fc.double({ noNaN: false }),
  fc.constantFrom('1e-7', '-0', 'x', '1.5'),
  fc.record({ value: fc.oneof(fc.string(), fc.double()) }),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  printable(60),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        displayName: fc.oneof(fc.string(), fc.integer()),
        targeting,
        allocation: fc.record({ proportion, exclusivityTags: fc.array(fc.oneof(fc.constantFrom('t', 'u', 'group:x'), printable(8)), { maxLength: 3 }) }, { requiredKeys: [] }),
        etag: fc.string(),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc
    .record({ variants: fc.array(fc.record({ name: id, value: fc.jsonValue({ maxDepth: 2 }) }), { maxLength: 3 }), clientSecret: fc.string(), evaluationContext: fc.jsonValue({ maxDepth: 3 }), flags: fc.array(fc.string()) }, { requiredKeys: [] })
    .map((v) => JSON.stringify(v)),
);

const OWN = 'own';
const weighted = <T>(common: fc.Arbitrary<T>, rare: fc.Arbitrary<T>, odds = 6): fc.Arbitrary<T> => fc.oneof({ arbitrary: common, weight: odds }, { arbitrary: rare, weight: 1 });
const headers = fc
  .record({
    host: weighted(fc.constant(OWN), fc.constantFrom('localhost', 'evil.example', '127.0.0.1:1', '')),
    'content-type': weighted(fc.constantFrom('application/json', 'application/json; charset=utf-8'), fc.constantFrom(undefined, 'text/plain', 'multipart/form-data', 'APPLICATION/JSON')),
    origin: weighted(fc.constantFrom(undefined, OWN), fc.constantFrom('http://evil.example', 'null', 'http://localhost')),
    'if-match': weighted(fc.constant(undefined), fc.oneof(printable(20), fc.constant('*'), fc.constant('W/"x"')), 4),
    'x-fuzz': weighted(fc.constant(undefined), printable(40), 2),
  })
  .map((h) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) {
      if (v === undefined) continue;
      out[k] = v === OWN ? (k === 'origin' ? `http://127.0.0.1:${serve.port}` : `127.0.0.1:${serve.port}`) : v;
    }
    return out;
  });

const segmentBody = fc
  .record(
    {
      displayName: weighted(fc.string(), fc.integer().map((n) => n as unknown as string)),
      targeting,
      allocation: fc.record({ proportion, exclusivityTags: fc.array(fc.oneof(fc.constantFrom('t', 'u', 'group:x'), printable(8)), { maxLength: 3 }) }, { requiredKeys: [] }),
      etag: weighted(fc.constant(undefined), fc.string(), 4),
    },
    { requiredKeys: [] },
  )
  .map((v) => JSON.stringify(v));

/** Requests shaped like the API's own, so that many get past the checks and change the workspace. */
const plausible = fc.oneof(
  fc.record({ method: fc.constant('POST'), path: fc.constant('/v1/segments'), query: weighted(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), id).map((x) => `?segmentId=${x}`), body: segmentBody }),
  fc.record({ method: fc.constant('PATCH'), path: fc.constantFrom('/v1/segments/beta', '/v1/segments/gamma'), query: fc.constantFrom('', '?updateMask=targeting', '?updateMask=allocation.proportion&force=true', '?updateMask=*'), body: segmentBody }),
  fc.record({ method: fc.constant('POST'), path: fc.tuple(id, fc.constantFrom('allocate', 'archive')).map(([x, v]) => `/v1/segments/${x}:${v}`), query: fc.constant(''), body: fc.constantFrom(undefined, '', '{}', '{"etag": "x"}') }),
  fc.record({ method: fc.constant('POST'), path: fc.constant('/v1/flags:resolve'), query: fc.constant(''), body: fc.record({ clientSecret: fc.string(), evaluationContext: fc.jsonValue({ maxDepth: 3 }), flags: fc.array(fc.constantFrom('flags/f', 'f', 'x')) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) }),
  fc.record({ method: fc.constant('GET'), path: fc.constantFrom('/v1/segments', '/v1/segments:availableSpace', '/v1/state', '/healthz', '/v1/flags/f', '/v1/segments/beta'), query, body: fc.constant(undefined) }),
);

const anything = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PATCH', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'),
  path,
  query,
  body,
});

const request = fc.tuple(fc.oneof({ arbitrary: plausible, weight: 2 }, { arbitrary: anything, weight: 1 }), headers).map(([r, h]) => ({ ...r, headers: h }));

const PAGE_TYPES = new Map(PAGE_FILES.map((f) => [f.path, f.type]));

describe('HTTP API fuzz', () => {
  test.prop([request], { numRuns: 300, endOnFailure: true })('every answer is JSON within 2 s; refusals change nothing', async (r) => {
    const before = await readFile(serve.workspace);
    const res = await serve.send(r.method, `${r.path}${r.query}`, { headers: r.headers, ...(r.body === undefined ? {} : { body: r.body }) });
    expect(res.ms).toBeLessThan(2_000);
    if (r.method === 'HEAD' || res.status === 304) {
      expect(res.text).toBe('');
    } else if (res.status === 200 && r.method === 'GET' && PAGE_TYPES.has(r.path)) {
      expect(res.headers['content-type']).toBe(PAGE_TYPES.get(r.path)); // the coordination map's own files
    } else {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json, res.text).toBeDefined();
    }
    if (res.status >= 400) {
      if (r.method !== 'HEAD') {
        const error = res.json!.error as { code?: unknown; message?: unknown } | undefined;
        expect(typeof error?.code, res.text).toBe('string');
        expect(typeof error?.message, res.text).toBe('string');
      }
      expect((await readFile(serve.workspace)).equals(before), `${res.status} ${res.text} changed the workspace`).toBe(true);
    } else {
      expect(res.status).toBeLessThan(300);
    }
  });
});
