/**
 * `GET /v1/segments:bucketMap`: per tag family the members' buckets per cell, exact totals,
 * the free space, and the `cells` parameter checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, type TestServer } from '../testing/test-server.js';
import type { BucketMap } from './bucket-map.js';

describe('the bucket map', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    const make = async (id: string, p: string, tags: string[]): Promise<void> => {
      expect((await s.call('POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: p }, exclusivityTags: tags, exclusiveTo: tags } })).status).toBe(200);
      expect((await s.call('POST', `/v1/segments/${id}:allocate`)).status).toBe(200);
    };
    await make('a', '0.3', ['search']);
    await make('b', '0.45', ['search', 'ads']);
    await make('c', '0.2', []);
    await make('d', '0.1', []);
  });
  afterAll(async () => {
    await s.stop();
  });

  it('draws each tag family with exact totals and its free space', async () => {
    const res = await s.call('GET', '/v1/segments:bucketMap?cells=1000', undefined, READ_TOKEN);
    expect(res.status).toBe(200);
    const map = res.body as unknown as BucketMap;
    expect(map).toMatchObject({ buckets: 1_000_000, cells: 1000, cellSize: 1000 });
    expect(map.families.map((f) => [f.tag, f.members.map((m) => m.segment), f.freeBuckets])).toEqual([
      ['ads', ['b'], 550_000],
      ['search', ['a', 'b'], 250_000],
      [null, ['c', 'd'], expect.any(Number)],
    ]);
    for (const f of map.families) {
      for (const m of f.members) {
        expect(m.cells).toHaveLength(1000);
        expect(m.cells.reduce((a, b) => a + b, 0)).toBe(m.buckets);
      }
    }
    // Exclusive members never share a bucket, so no cell holds more than its size.
    const search = map.families.find((f) => f.tag === 'search')!;
    for (let i = 0; i < 1000; i++) expect(search.members.reduce((sum, m) => sum + m.cells[i]!, 0)).toBeLessThanOrEqual(1000);
    const untagged = map.families.find((f) => f.tag === null)!;
    expect(untagged.freeBuckets).toBeGreaterThanOrEqual(700_000);
    expect(untagged.freeBuckets).toBeLessThanOrEqual(800_000);
  });

  it('checks cells', async () => {
    for (const bad of ['0', '10001', '1.5', 'x', '']) {
      const res = await s.call('GET', `/v1/segments:bucketMap?cells=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error).toMatchObject({ field: 'cells' });
    }
    const uneven = (await s.call('GET', '/v1/segments:bucketMap?cells=3')).body as unknown as BucketMap;
    expect(uneven.cellSize).toBe(333_334);
    expect(uneven.families[0]!.members[0]!.cells.reduce((a, b) => a + b, 0)).toBe(uneven.families[0]!.members[0]!.buckets);
  });

  it('serves the page without a token, with a strict content security policy', async () => {
    const page = await s.request('/', { token: null });
    // The page is built by packages/server/web/build.mjs; without it the answer says so.
    if (page.status === 404) {
      expect(await page.text()).toContain('build.mjs');
      return;
    }
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app.js"></script>');
    expect((await s.request('/app.js', { token: null })).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await s.request('/v1/segments:bucketMap', { token: null })).status).toBe(401);
  });
});
