/**
 * A provider watching `GET /v1/state:watch` (the provider's own `watchSource`) against real
 * servers: a write reaches it (as a delta) long before any poll would; after missing 50
 * revisions it applies one delta to the final state with one `flagsChanged` covering every
 * changed flag; past the
 * server's history it gets a reset and says so; a server stopped with SIGSTOP makes it
 * STALE, and SIGCONT makes it READY again. Connections go through a real TCP relay the test
 * can cut, so "missing revisions" is a network outage, not a mock.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

import { AllotProvider, watchSource, type AppliedState } from '@allot/openfeature-provider';
import { ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';

import { startServe, type ServeProcess } from './testing/serve-process.js';
import { READ_TOKEN, startTestServer, type TestServer } from './testing/test-server.js';

/** A TCP relay to `target` that the test can cut (every connection reset, new ones refused) and restore. */
class Relay {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  private constructor(readonly server: Server) {}

  static async start(targetPort: number): Promise<Relay> {
    const relay: Relay = new Relay(
      createServer((client) => {
        if (relay.cut) {
          client.destroy();
          return;
        }
        const upstream = connect(targetPort, '127.0.0.1');
        for (const s of [client, upstream]) {
          relay.sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => {
            relay.sockets.delete(s);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      }),
    );
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  block(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  unblock(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Watching {
  readonly provider: AllotProvider;
  readonly changes: string[][];
  readonly events: ProviderEvents[];
  readonly applied: AppliedState[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
});

async function watching(
  urls: string[],
  options: { staleAfterMs?: number; idleTimeoutMs?: number; timeoutMs?: number; infos?: string[] } = {},
): Promise<Watching> {
  const applied: AppliedState[] = [];
  const infos = options.infos;
  const provider = new AllotProvider({
    ...(infos === undefined
      ? {}
      : {
          logger: {
            error: () => undefined,
            warn: () => undefined,
            info: (...args: unknown[]) => infos.push(args.map(String).join(' ')),
            debug: () => undefined,
          },
        }),
    source: watchSource(urls, {
      headers: { authorization: `Bearer ${READ_TOKEN}` },
      // Polling as slow as a minute: whatever arrives sooner came over the stream.
      pollIntervalMs: 60_000,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 200,
      timeoutMs: options.timeoutMs ?? 2_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 45_000,
      onApply: (a) => applied.push(a),
    }),
    staleAfterMs: options.staleAfterMs ?? 60_000,
  });
  cleanups.push(() => provider.onClose());
  const changes: string[][] = [];
  const events: ProviderEvents[] = [];
  provider.events.addHandler(ProviderEvents.ConfigurationChanged, (e) => changes.push([...((e?.flagsChanged ?? []) as string[])]));
  for (const type of [ProviderEvents.Stale, ProviderEvents.Ready, ProviderEvents.Error]) provider.events.addHandler(type, () => events.push(type));
  await provider.initialize();
  return { provider, changes, events, applied };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const createFlag = (s: TestServer, id: string): Promise<{ status: number }> =>
  s.call('POST', `/v1/flags?flagId=${id}`, { variants: [{ name: 'on', value: { on: true } }] });

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(options);
  cleanups.push(() => s.stop());
  return s;
}

describe('a provider watching GET /v1/state:watch', () => {
  it('gets a write within a second, with its flag in flagsChanged, and evaluates it', async () => {
    const s = await server();
    const w = await watching([s.url]);
    const started = Date.now();
    expect((await createFlag(s, 'kill-switch')).status).toBe(200);
    await until(() => w.changes.length === 1, 'flagsChanged', 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(w.changes).toEqual([['kill-switch']]);
    expect(w.applied.map((a) => [a.via, a.delta])).toEqual([
      ['poll', false],
      ['stream', true],
    ]);
  });

  it('after missing 50 revisions, applies the final state once, with one flagsChanged covering every changed flag', async () => {
    const s = await server();
    const relay = await Relay.start(s.server.port);
    cleanups.push(() => relay.close());
    const w = await watching([relay.url]);
    await until(() => s.server.watch.size === 1, 'the stream');
    relay.block();
    const keys = Array.from({ length: 50 }, (_, i) => `missed-${String(i).padStart(2, '0')}`);
    for (const key of keys) expect((await createFlag(s, key)).status).toBe(200);
    expect(w.changes).toEqual([]);
    relay.unblock();
    await until(() => w.changes.length > 0, 'flagsChanged after the outage');
    // Anything more would arrive within a few reconnects' time.
    await new Promise((r) => setTimeout(r, 500));
    expect(w.changes).toEqual([keys]);
    const last = w.applied.at(-1)!;
    // One delta composed of the 50 revisions, applied once.
    expect(last).toMatchObject({ via: 'stream', reset: false, delta: true });
    expect(w.applied.filter((a) => a.via === 'stream')).toHaveLength(1);
    const served = await s.request('/v1/state', { token: READ_TOKEN });
    expect(`"${last.id}"`).toBe(served.headers.get('etag'));
    expect((await w.provider.resolveObjectEvaluation('missed-49', {}, { targetingKey: 'u' })).errorCode).not.toBe('FLAG_NOT_FOUND');
  });

  it('past the server\'s history gets the whole state as a reset, and says so', async () => {
    const s = await server({ watch: { historySize: 2 } });
    const relay = await Relay.start(s.server.port);
    cleanups.push(() => relay.close());
    const infos: string[] = [];
    const w = await watching([relay.url], { infos });
    // Another provider, not behind the relay, watches meanwhile, so the server sends (and
    // remembers) every state while the first is cut off.
    await watching([s.url]);
    await until(() => s.server.watch.size === 2, 'the streams');
    relay.block();
    await until(() => s.server.watch.size === 1, 'the cut stream to close');
    for (const key of ['e1', 'e2', 'e3']) expect((await createFlag(s, key)).status).toBe(200);
    relay.unblock();
    await until(() => w.changes.length > 0, 'flagsChanged after the outage');
    expect(w.changes).toEqual([['e1', 'e2', 'e3']]);
    const reset = w.applied.at(-1)!;
    expect(reset).toMatchObject({ via: 'stream', reset: true });
    expect(infos.filter((l) => l.includes('applied its whole state'))).toEqual([
      `allot: ${relay.url} no longer had the last revision applied here (${w.applied.at(-2)!.id}); applied its whole state, ${reset.id}`,
    ]);
  });
});

describe('a provider watching an allot serve process stopped with SIGSTOP', () => {
  it('goes STALE after its configured age and READY again after SIGCONT', async () => {
    const serve: ServeProcess = await startServe(['--watch-heartbeat-ms', '100'], { ALLOT_TOKENS: `${READ_TOKEN}:read` });
    cleanups.push(async () => {
      if (serve.child.exitCode === null) serve.child.kill('SIGCONT');
      await serve.cleanup();
    });
    // Requests get 2 s: the first one may wait that long for a busy machine; STALE does not depend on it.
    const w = await watching([serve.url], { staleAfterMs: 1_000, idleTimeoutMs: 500, timeoutMs: 2_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.events).toEqual([]);
    serve.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await until(() => w.events.includes(ProviderEvents.Stale), 'STALE', 5_000);
    // Silence is noticed after idleTimeoutMs (500), and STALE comes staleAfterMs (1,000) after the
    // last answer: a heartbeat due every 100 ms, which a busy machine may have delivered up to a
    // few hundred ms before the stop.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(750);
    expect((await w.provider.resolveBooleanEvaluation('missing', true, { targetingKey: 'u' })).value).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000));
    serve.child.kill('SIGCONT');
    const resumedAt = Date.now();
    await until(() => w.events.at(-1) === ProviderEvents.Ready, 'READY after SIGCONT', 5_000);
    expect(Date.now() - resumedAt).toBeLessThan(2_000);
  }, 30_000);
});
