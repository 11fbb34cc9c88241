import { afterEach, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, WRITE_TOKEN, type TestServer } from '../testing/test-server.js';
import { jsonLogger } from './request-log.js';

describe('request logs and metrics', () => {
  let t: TestServer | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('logs one JSON line per request: method, route, path, status, latency, actor by name, revision', async () => {
    const lines: string[] = [];
    t = await startTestServer({
      tokens: [{ name: 'admin', token: WRITE_TOKEN, scope: 'write' }, { name: 'ci', token: READ_TOKEN, scope: 'read' }],
      logger: jsonLogger((line) => lines.push(line)),
    });
    expect((await t.call('POST', '/v1/segments?segmentId=exp-1', { allocation: { proportion: { value: '0.1' } } })).status).toBe(200);
    expect((await t.call('GET', '/v1/segments/exp-1', undefined, READ_TOKEN)).status).toBe(200);
    expect((await t.call('GET', '/v1/nothing-here', undefined, READ_TOKEN)).status).toBe(404);
    expect((await t.call('GET', '/v1/segments', undefined, 'wrong-token')).status).toBe(401);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(4);
    expect(records[0]).toMatchObject({ level: 'info', msg: 'request', method: 'POST', route: '/v1/segments', path: '/v1/segments', status: 200, actor: 'admin', revision: null });
    expect(records[1]).toMatchObject({ method: 'GET', route: '/v1/segments/{segment}', path: '/v1/segments/exp-1', status: 200, actor: 'ci' });
    expect(records[2]).toMatchObject({ route: null, status: 404, actor: null });
    expect(records[3]).toMatchObject({ route: '/v1/segments', status: 401, actor: null });
    for (const r of records) {
      expect(typeof r.latencyMs).toBe('number');
      expect(Date.parse(r.time as string)).toBeGreaterThan(0);
    }
    expect(lines.join('\n')).not.toContain(WRITE_TOKEN);
    expect(lines.join('\n')).not.toContain(READ_TOKEN);
    // The text callback is not used when a logger is given.
    expect(t.log).toEqual([]);
  });

  it('keeps the text lines of the log option when no logger is given', async () => {
    t = await startTestServer();
    await t.call('GET', '/v1/segments');
    expect(t.log).toHaveLength(1);
    expect(t.log[0]).toMatch(/^GET \/v1\/segments 200 \d+ms$/);
  });

  it('serves Prometheus metrics to a read token: requests by route and status, write latency, revision, notification lag', async () => {
    t = await startTestServer();
    await t.call('POST', '/v1/segments?segmentId=exp-1', { allocation: { proportion: { value: '0.1' } } });
    await t.call('POST', '/v1/segments/exp-1:allocate?validateOnly=true', {});
    await t.call('POST', '/v1/segments/exp-1:allocate', {});
    await t.call('POST', '/v1/segments/missing:allocate', {});
    await t.call('GET', '/v1/segments', undefined, READ_TOKEN);
    expect((await t.request('/metrics', { token: null })).status).toBe(401);
    t.server.metrics.observeNotificationLag(0.25);
    const res = await t.request('/metrics', { token: READ_TOKEN });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('allot_http_requests_total{method="POST",route="/v1/segments",status="200"} 1');
    expect(text).toContain('allot_http_requests_total{method="POST",route="/v1/segments/{segment}:allocate",status="200"} 2');
    expect(text).toContain('allot_http_requests_total{method="POST",route="/v1/segments/{segment}:allocate",status="404"} 1');
    expect(text).toContain('allot_http_requests_total{method="GET",route="/v1/segments",status="200"} 1');
    // Writes (accepted or refused) only: the preview is not one.
    expect(text).toContain('allot_write_duration_seconds_count{route="/v1/segments/{segment}:allocate"} 2');
    expect(text).toContain('allot_http_requests_total{method="GET",route="/metrics",status="401"} 1');
    expect(text).toMatch(/allot_write_duration_seconds_bucket\{le="5",route="\/v1\/segments"\} 1/);
    expect(text).toContain('\nallot_revision 0\n');
    expect(text).toContain('\nallot_notification_lag_seconds 0.25\n');
  });
});
