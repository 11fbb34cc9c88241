import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AllotProvider } from '../provider.js';
import { SECRET, testState } from '../testing/states.js';
import { httpSource } from './http-source.js';

/** A state server whose answer the test sets: a body with its ETag, or a status. */
let server: Server;
let url: string;
let answer: { status: number; body: string; etag: string };
let requests: IncomingHttpHeaders[];
const providers: AllotProvider[] = [];

function stateWithColor(color: string): string {
  const state = testState();
  (state.flags as Record<string, { variants: { value: Record<string, unknown> }[] }>)['flags/banner']!.variants[0]!.value.color = color;
  return JSON.stringify(state);
}

beforeEach(async () => {
  requests = [];
  answer = { status: 200, body: stateWithColor('#000'), etag: '"v1"' };
  server = createServer((req, res) => {
    requests.push(req.headers);
    if (answer.status !== 200) {
      res.writeHead(answer.status).end('unavailable');
    } else if (req.headers['if-none-match'] === answer.etag) {
      res.writeHead(304).end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', etag: answer.etag }).end(answer.body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/state`;
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.onClose()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function polling(staleAfterMs = 60_000): { provider: AllotProvider; events: ProviderEvents[] } {
  const provider = new AllotProvider({
    source: httpSource(url, { pollIntervalMs: 25, timeoutMs: 1_000, headers: { authorization: 'Bearer t' } }),
    clientSecret: SECRET,
    staleAfterMs,
  });
  providers.push(provider);
  const events: ProviderEvents[] = [];
  for (const type of [ProviderEvents.ConfigurationChanged, ProviderEvents.Error, ProviderEvents.Stale, ProviderEvents.Ready]) {
    provider.events.addHandler(type, () => events.push(type));
  }
  return { provider, events };
}

async function color(provider: AllotProvider): Promise<string> {
  return (await provider.resolveStringEvaluation('banner.color', '', { targetingKey: 'u' })).value;
}

describe('httpSource', () => {
  it('polls with If-None-Match, and an unchanged state costs a 304', async () => {
    const { provider, events } = polling();
    await provider.initialize();
    expect(await color(provider)).toBe('#000');
    await vi.waitFor(() => { expect(requests.length).toBeGreaterThanOrEqual(3); }, { timeout: 3_000, interval: 10 });
    expect(requests[0]!['if-none-match']).toBeUndefined();
    expect(requests[0]!.authorization).toBe('Bearer t');
    expect(requests.slice(1).every((h) => h['if-none-match'] === '"v1"')).toBe(true);
    expect(events).toEqual([]);
  });

  it('applies a changed state and reports the changed flags', async () => {
    const { provider, events } = polling();
    await provider.initialize();
    answer = { status: 200, body: stateWithColor('#111'), etag: '"v2"' };
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#111'); }, { timeout: 3_000, interval: 10 });
    expect(events).toEqual([ProviderEvents.ConfigurationChanged]);
  });

  it('keeps the last good state through bad responses, goes stale, and recovers', async () => {
    const { provider, events } = polling(100);
    await provider.initialize();
    answer = { status: 200, body: '{"flags": 3}', etag: '"bad"' };
    await vi.waitFor(() => { expect(events).toContain(ProviderEvents.Stale); }, { timeout: 3_000, interval: 10 });
    answer = { status: 503, body: '', etag: '' };
    await vi.waitFor(() => { expect(events.filter((e) => e === ProviderEvents.Error).length).toBeGreaterThan(2); }, { timeout: 3_000, interval: 10 });
    expect(await color(provider)).toBe('#000');
    answer = { status: 200, body: stateWithColor('#222'), etag: '"v3"' };
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#222'); }, { timeout: 3_000, interval: 10 });
    expect(events[0]).toBe(ProviderEvents.Error);
    expect(events.filter((e) => e === ProviderEvents.Stale)).toHaveLength(1);
    expect(events.slice(-2)).toEqual([ProviderEvents.Ready, ProviderEvents.ConfigurationChanged]);
  });

  it('recovers to ready on a 304 after errors (the state did not change)', async () => {
    const { provider, events } = polling();
    await provider.initialize();
    answer = { ...answer, status: 500 };
    await vi.waitFor(() => { expect(events).toContain(ProviderEvents.Error); }, { timeout: 3_000, interval: 10 });
    answer = { ...answer, status: 200 };
    await vi.waitFor(() => { expect(events).toContain(ProviderEvents.Ready); }, { timeout: 3_000, interval: 10 });
    expect(events).not.toContain(ProviderEvents.ConfigurationChanged);
  });

  it('fails initialization with the status when the server has no state', async () => {
    answer = { status: 404, body: '', etag: '' };
    const { provider } = polling();
    await expect(provider.initialize()).rejects.toThrow(/127\.0\.0\.1:\d+\/v1\/state: answered 404 Not Found/);
  });

  it('fails initialization when nothing listens', async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = createServer();
    server.listen(0, '127.0.0.1');
    const { provider } = polling();
    await expect(provider.initialize()).rejects.toThrow(/request failed/);
  });
});
