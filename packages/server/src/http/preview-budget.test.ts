/**
 * Issue 18 item 5: a read token may ask for previews (`?validateOnly=true`), which run the
 * allocator and the impact walk; its share of the server's time is bounded, answered 429
 * RESOURCE_EXHAUSTED with Retry-After once spent, without holding up anyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, WRITE_TOKEN, type TestServer } from '../testing/test-server.js';
import { PreviewBudget } from './preview-budget.js';

describe('PreviewBudget', () => {
  it('admits a caller until its burst is spent, then says how long to wait, and refills at the rate', () => {
    const budget = new PreviewBudget({ msPerSecond: 100, burstMs: 300 });
    budget.admit('a', 0);
    budget.charge('a', 250, 0);
    budget.admit('a', 0); // 50 ms left
    budget.charge('a', 250, 0); // 200 ms in debt
    let error: unknown;
    try {
      budget.admit('a', 0);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ status: 429, code: 'RESOURCE_EXHAUSTED', field: 'validateOnly', headers: { 'retry-after': '3' } });
    budget.admit('b', 0); // another caller is not affected
    expect(() => { budget.admit('a', 1_999); }).toThrow(/retry after 1 s/);
    budget.admit('a', 2_100); // 10 ms back in credit
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new PreviewBudget({ msPerSecond: 0 })).toThrow(RangeError);
  });
});

describe('previews over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    // A budget of 1 ms per second: the first preview spends it (every preview takes longer).
    s = await startTestServer({ previewBudget: { msPerSecond: 1, burstMs: 1 } });
    expect((await s.call('POST', '/v1/segments?segmentId=exp', { allocation: { proportion: { value: '0.3' }, exclusivityTags: ['t'], exclusiveTo: ['t'] } })).status).toBe(200);
  });
  afterAll(async () => {
    await s.stop();
  });

  it('a read token flooding previews gets 429 with Retry-After; its other reads, and other callers, are served', async () => {
    const first = await s.request('/v1/segments/exp:allocate?validateOnly=true', { method: 'POST', token: READ_TOKEN, json: {} });
    expect(first.status).toBe(200);
    const flooded = await s.request('/v1/segments/exp:allocate?validateOnly=true', { method: 'POST', token: READ_TOKEN, json: {} });
    expect(flooded.status).toBe(429);
    const retryAfter = Number(flooded.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    const body = (await flooded.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('RESOURCE_EXHAUSTED');
    expect(body.error.message).toContain(`retry after ${retryAfter} s`);
    expect((await s.call('GET', '/v1/segments/exp', undefined, READ_TOKEN)).status).toBe(200);
    expect((await s.call('POST', '/v1/segments/exp:allocate?validateOnly=true', {}, WRITE_TOKEN)).status).toBe(200);
    expect((await s.call('POST', '/v1/segments/exp:allocate', {}, WRITE_TOKEN)).status).toBe(200);
  });
});
