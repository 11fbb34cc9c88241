/**
 * `GET /v1/segments:bucketMap`: per tag family the members' buckets per cell, exact totals,
 * the free space, and the `cells` parameter checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, type TestServer } from '../testing/test-server.js';
import type { BucketMap, CellCounts, TagFamily } from './bucket-map.js';

const total = (c: CellCounts): number => c.cells.reduce((a, b) => a + b, 0);

/** Every bucket drawn once: the members' own, the shared and the free add up to 1,000,000, cell by cell. */
function expectWholeSpace(f: TagFamily): void {
  for (const c of [...f.members.map((m) => m.own), f.shared, f.free]) expect(total(c)).toBe(c.buckets);
  expect(f.members.reduce((sum, m) => sum + m.own.buckets, 0) + f.shared.buckets + f.free.buckets, String(f.tag)).toBe(1_000_000);
  expect(f.freeBuckets).toBe(f.free.buckets);
}

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
    for (const f of map.families) expectWholeSpace(f);
    const untagged = map.families.find((f) => f.tag === null)!;
    expect(untagged.freeBuckets).toBeGreaterThanOrEqual(700_000);
    expect(untagged.freeBuckets).toBeLessThanOrEqual(800_000);
    // c and d do not conflict, so they share about 0.2 × 0.1 of the space by chance.
    expect(untagged.shared.buckets).toBeGreaterThan(15_000);
  });

  it('puts a segment in the family of a tag it is exclusive to without carrying it, as the allocator counts it', async () => {
    // The README tour's workspace: mixed-experiment is tagged search and exclusive to ranking.
    const t = await startTestServer();
    try {
      const make = async (id: string, p: string, tags: string[], exclusiveTo: string[]): Promise<void> => {
        expect((await t.call('POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: p }, exclusivityTags: tags, exclusiveTo } })).status).toBe(200);
        expect((await t.call('POST', `/v1/segments/${id}:allocate`)).status).toBe(200);
      };
      await make('ranking-exp-1', '0.1', ['ranking'], ['ranking']);
      await make('ranking-exp-2', '0.1', ['ranking'], ['ranking']);
      await make('mixed-experiment', '0.05', ['search'], ['search', 'ranking', 'mixer']);
      const map = (await t.call('GET', '/v1/segments:bucketMap?cells=200')).body as unknown as BucketMap;
      expect(map.families.map((f) => [f.tag, f.members.map((m) => [m.segment, m.own.buckets]), f.shared.buckets, f.freeBuckets])).toEqual([
        ['mixer', [['mixed-experiment', 50_000]], 0, 950_000],
        ['ranking', [['mixed-experiment', 50_000], ['ranking-exp-1', 100_000], ['ranking-exp-2', 100_000]], 0, 750_000],
        ['search', [['mixed-experiment', 50_000]], 0, 950_000],
      ]);
      for (const f of map.families) expectWholeSpace(f);
      const space = (await t.call('GET', '/v1/segments:availableSpace?exclusivityTags=ranking&exclusiveTo=ranking')).body;
      expect(space.availableBuckets).toBe(750_000);
    } finally {
      await t.stop();
    }
  });

  it('shows buckets that members which do not conflict with each other both hold once, as shared', async () => {
    const t = await startTestServer();
    try {
      // x and y are both in the "ranking" family (tagged ranking) but exclusive to different
      // tags, so they do not conflict with each other and overlap by chance.
      for (const [id, to] of [['x', 'one'], ['y', 'two']] as const) {
        expect((await t.call('POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: '0.5' }, exclusivityTags: ['ranking'], exclusiveTo: [to] } })).status).toBe(200);
        expect((await t.call('POST', `/v1/segments/${id}:allocate`)).status).toBe(200);
      }
      const map = (await t.call('GET', '/v1/segments:bucketMap?cells=100')).body as unknown as BucketMap;
      const ranking = map.families.find((f) => f.tag === 'ranking')!;
      expect(ranking.members.map((m) => m.segment)).toEqual(['x', 'y']);
      expect(ranking.shared.buckets).toBeGreaterThan(240_000);
      expect(ranking.shared.buckets).toBeLessThan(260_000);
      for (const m of ranking.members) expect(m.own.buckets + ranking.shared.buckets).toBe(500_000);
      expectWholeSpace(ranking);
    } finally {
      await t.stop();
    }
  });

  it('comes with a preview when asked (bucketMapCells), equal to the map after the real write', async () => {
    const t = await startTestServer();
    try {
      for (const id of ['p', 'q']) {
        expect((await t.call('POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: '0.25' }, exclusivityTags: ['pricing'], exclusiveTo: ['pricing'] } })).status).toBe(200);
      }
      expect((await t.call('POST', '/v1/segments/p:allocate')).status).toBe(200);
      const bytes = await t.fileBytes();
      const refused = await t.call('POST', '/v1/segments/q:allocate?bucketMapCells=50');
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ field: 'bucketMapCells' });
      expect((await t.call('POST', '/v1/segments/q:allocate?validateOnly=true&bucketMapCells=0', undefined, READ_TOKEN)).status).toBe(400);
      expect(await t.fileBytes()).toBe(bytes);
      const preview = await t.call('POST', '/v1/segments/q:allocate?validateOnly=true&bucketMapCells=50', undefined, READ_TOKEN);
      expect(preview.status).toBe(200);
      const after = (preview.body.impact as { bucketMap: BucketMap }).bucketMap;
      expect(after.families.map((f) => [f.tag, f.members.map((m) => m.segment), f.freeBuckets])).toEqual([['pricing', ['p', 'q'], 500_000]]);
      expect(await t.fileBytes()).toBe(bytes);
      expect((await t.call('POST', '/v1/segments/q:allocate')).status).toBe(200);
      expect((await t.call('GET', '/v1/segments:bucketMap?cells=50')).body).toEqual(after);
    } finally {
      await t.stop();
    }
  });

  it('checks cells', async () => {
    for (const bad of ['0', '10001', '1.5', 'x', '']) {
      const res = await s.call('GET', `/v1/segments:bucketMap?cells=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error).toMatchObject({ field: 'cells' });
    }
    const uneven = (await s.call('GET', '/v1/segments:bucketMap?cells=3')).body as unknown as BucketMap;
    expect(uneven.cellSize).toBe(333_334);
    for (const f of uneven.families) expectWholeSpace(f);
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
