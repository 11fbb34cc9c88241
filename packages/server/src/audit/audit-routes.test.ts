import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, testStoreKind, WRITE_TOKEN, type TestServer } from '../testing/test-server.js';
import type { ChainedEntry } from './entry.js';

const OTHER = 'second-writer-token-0123456789abcdef';

/**
 * The file store's log starts with the entry of the workspace file's creation (resource
 * null); on PostgreSQL the account is created without one, so the writes' entries come first.
 */
const created = testStoreKind() === 'file' ? 1 : 0;

describe('GET /v1/auditLog', () => {
  let t: TestServer;
  let middle: string;
  beforeAll(async () => {
    t = await startTestServer({
      tokens: [{ name: 'alice', token: WRITE_TOKEN, scope: 'write' }, { name: 'bob', token: OTHER, scope: 'write' }, { token: READ_TOKEN, scope: 'read' }],
    });
    for (let i = 0; i < 3; i++) await t.call('POST', `/v1/segments?segmentId=a-${i}`, { allocation: { proportion: { value: '0.01' } } }, WRITE_TOKEN);
    middle = new Date().toISOString();
    await new Promise((done) => setTimeout(done, 5));
    for (let i = 0; i < 3; i++) await t.call('POST', `/v1/segments?segmentId=b-${i}`, { allocation: { proportion: { value: '0.01' } } }, OTHER);
    await t.call('POST', '/v1/segments/a-1:allocate', {}, OTHER);
  });
  afterAll(async () => {
    await t.stop();
  });

  const page = async (query: string): Promise<{ status: number; entries: ChainedEntry[]; next: string; body: Record<string, unknown> }> => {
    const r = await t.call('GET', `/v1/auditLog${query}`, undefined, READ_TOKEN);
    return { status: r.status, entries: (r.body.entries ?? []) as ChainedEntry[], next: (r.body.nextPageToken ?? '') as string, body: r.body };
  };

  it('pages through every entry, oldest first (AIP-158), the last page with an empty nextPageToken', async () => {
    const seen: number[] = [];
    let token = '';
    let pages = 0;
    do {
      const p = await page(`?pageSize=3${token === '' ? '' : `&pageToken=${token}`}`);
      expect(p.status).toBe(200);
      expect(p.entries.length).toBeLessThanOrEqual(3);
      seen.push(...p.entries.map((e) => e.seq ?? 0));
      token = p.next;
      pages++;
    } while (token !== '');
    expect(seen).toEqual(Array.from({ length: 7 + created }, (_, i) => i + 1));
    expect(pages).toBe(3);
    expect((await page('')).entries).toHaveLength(7 + created);
  });

  it('filters by resource (named or changed), actor and time range', async () => {
    expect((await page('?resource=segments/a-1')).entries.map((e) => e.operation)).toEqual(['POST /v1/segments', 'POST /v1/segments/{segment}:allocate']);
    expect((await page('?actor=bob')).entries.map((e) => e.resource)).toEqual(['segments/b-0', 'segments/b-1', 'segments/b-2', 'segments/a-1']);
    expect((await page(`?startTime=${middle}&actor=alice`)).entries).toEqual([]);
    expect((await page(`?endTime=${middle}`)).entries.map((e) => e.resource)).toEqual([...(created === 1 ? [null] : []), 'segments/a-0', 'segments/a-1', 'segments/a-2']);
  });

  it('refuses a page token made for other filters, and bad parameters, naming them', async () => {
    const first = await page('?actor=bob&pageSize=1');
    expect(first.next).not.toBe('');
    const second = await page(`?actor=bob&pageSize=1&pageToken=${first.next}`);
    expect(second.entries.map((e) => e.resource)).toEqual(['segments/b-1']);
    const other = await page(`?actor=alice&pageSize=1&pageToken=${first.next}`);
    expect(other.status).toBe(400);
    expect(other.body.error).toMatchObject({ field: 'pageToken' });
    expect((await page('?pageToken=garbage')).body.error).toMatchObject({ field: 'pageToken' });
    expect((await page('?startTime=yesterday')).body.error).toMatchObject({ field: 'startTime' });
    expect((await page('?pageSize=-1')).body.error).toMatchObject({ field: 'pageSize' });
    expect((await t.call('GET', '/v1/auditLog', undefined, null)).status).toBe(401);
  });
});
