/**
 * A provider polling `GET /v1/state` (the provider's own `httpSource`, with If-None-Match)
 * picks up an allocation made over the API within one poll, and an unchanged state costs
 * it only 304s.
 */
import { WorkspaceFile } from '@allot/admin';
import { AllotProvider, httpSource } from '@allot/openfeature-provider';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, type TestServer } from './testing/test-server.js';

const POLL_MS = 100;

function stateResponses(log: readonly string[]): string[] {
  return log.filter((l) => l.startsWith('GET /v1/state ')).map((l) => l.split(' ')[2]!);
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000, step?: () => Promise<void>): Promise<void> {
  const start = Date.now();
  for (;;) {
    await step?.();
    if (condition()) return;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a provider polling GET /v1/state', () => {
  let server: TestServer;
  let provider: AllotProvider | undefined;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await provider?.onClose();
    provider = undefined;
    await server.stop();
  });

  it('picks up an allocation within one poll, and gets 304s while nothing changes', async () => {
    // The rule serves segment "launch", whose audience is segment "beta": allocating beta
    // (one write, the change under test) is what lets units in.
    const create = (id: string, body: unknown): Promise<{ status: number }> => server.call('POST', `/v1/segments?segmentId=${id}`, body);
    expect((await create('beta', { allocation: { proportion: { value: '1' } } })).status).toBe(200);
    const launch = await create('launch', {
      targeting: { criteria: { b: { segment: { segment: 'segments/beta' } } }, expression: { ref: 'b' } },
      allocation: { proportion: { value: '1' } },
    });
    expect(launch.status).toBe(200);
    expect((await server.call('POST', '/v1/segments/launch:allocate')).status).toBe(200);
    const flag = await server.call('POST', '/v1/flags?flagId=checkout', {
      variants: [
        { name: 'off', value: { enabled: false } },
        { name: 'on', value: { enabled: true } },
      ],
    });
    expect(flag.status).toBe(200);
    const rule = await server.call('POST', '/v1/flags/checkout/rules?ruleId=launch', { kind: 'rollout', segment: 'segments/launch', reach: '1', variant: 'on', enabled: true });
    expect(rule.status).toBe(200);

    const { workspace } = await new WorkspaceFile(server.workspace).read();
    provider = new AllotProvider({
      source: httpSource(`${server.url}/v1/state`, { pollIntervalMs: POLL_MS, headers: { authorization: `Bearer ${READ_TOKEN}` } }),
      clientSecret: workspace.clients[0]!.secret,
    });
    await OpenFeature.setProviderAndWait('server-polling', provider);
    const client = OpenFeature.getClient('server-polling');
    const changes: string[][] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (e) => changes.push(e?.flagsChanged ?? []));
    const value = (): Promise<boolean> => client.getBooleanValue('checkout.enabled', false, { targetingKey: 'user-1' });

    expect(await value()).toBe(false);
    await until(() => stateResponses(server.log).filter((s) => s === '304').length >= 2, 'two unchanged polls');
    expect(stateResponses(server.log)).toEqual(['200', ...stateResponses(server.log).slice(1).map(() => '304')]);

    const before = stateResponses(server.log).length;
    expect((await server.call('POST', '/v1/segments/beta:allocate')).status).toBe(200);
    let enabled = false;
    await until(() => enabled, 'the provider to serve the rule', 10_000, async () => {
      enabled = await value();
    });

    // The first poll after the change fetched it (or the second, when one was in flight).
    const after = stateResponses(server.log).slice(before);
    expect(after.indexOf('200')).toBeGreaterThanOrEqual(0);
    expect(after.indexOf('200')).toBeLessThanOrEqual(1);
    expect(changes.flat()).toContain('checkout'); // flagsChanged carries the key apps call
  });

  it('answers 304 to a matching If-None-Match, with the same strong ETag', async () => {
    const first = await server.request('/v1/state', { token: READ_TOKEN });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await server.request('/v1/state', { token: READ_TOKEN, headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
    const stale = await server.request('/v1/state', { token: READ_TOKEN, headers: { 'if-none-match': '"0000"' } });
    expect(stale.status).toBe(200);
    expect(JSON.parse(await stale.text())).toHaveProperty('flags');
  });
});
