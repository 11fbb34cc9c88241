import type { MaterializationKey, MaterializationRecord, MaterializationStoreWrite } from '@allot/core';
import { OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AllotProvider } from '../provider.js';
import { SECRET, STICKY, testState } from '../testing/states.js';
import type { StickyStore, StickyStoreStatus } from '../types.js';
import { MemoryStore } from './memory-store.js';

const RULE = 'flags/sticky/rules/exp';

/** A store that holds assignments in memory but is ready only when the test says so (or never). */
class ConnectingStore implements StickyStore {
  readyCalls = 0;
  aborts: string[] = [];
  private readonly inner = new MemoryStore();
  private waiting: (() => void)[] = [];
  private connected = false;

  constructor(private readonly behaviour: 'honours-abort' | 'ignores-abort' | 'refuses' = 'honours-abort') {}

  ready(signal: AbortSignal): Promise<void> {
    this.readyCalls++;
    if (this.behaviour === 'refuses') return Promise.reject(new Error('bad credentials'));
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      if (this.behaviour === 'honours-abort') {
        signal.addEventListener('abort', () => {
          const why = (signal.reason as Error).message;
          this.aborts.push(why);
          reject(new Error(`still connecting to the test store (${why})`));
        });
      }
    });
  }

  connect(): void {
    this.connected = true;
    for (const go of this.waiting.splice(0)) go();
  }

  disconnect(): void {
    this.connected = false;
  }

  // Like RedisStore without an offline queue: nothing can be read or written before it is connected.
  read(keys: readonly MaterializationKey[]): Promise<readonly (MaterializationRecord | null)[]> {
    return this.connected ? this.inner.read(keys) : Promise.reject(new Error('not connected'));
  }

  write(writes: readonly MaterializationStoreWrite[]): Promise<void> {
    return this.connected ? this.inner.write(writes) : Promise.reject(new Error('not connected'));
  }
}

const providers: AllotProvider[] = [];
let domains = 0;
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.onClose()));
});

function providerOver(store: ConnectingStore, readyTimeoutMs: number): { provider: AllotProvider; statuses: [StickyStoreStatus, string][] } {
  const provider = new AllotProvider({
    source: testState(),
    clientSecret: SECRET,
    stickyStore: store,
    sticky: { readyTimeoutMs, cooldownMs: 60_000, retryDelayMs: 10, closeTimeoutMs: 100 },
    logger: { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined },
  });
  providers.push(provider);
  const statuses: [StickyStoreStatus, string][] = [];
  provider.allotEvents.on('sticky-store', (s, e) => statuses.push([s, e?.message ?? '']));
  return { provider, statuses };
}

/** A unit the 50/50 split of flags/sticky hashes to `b`, stored with `a`. */
async function storedAgainstHash(store: ConnectingStore): Promise<string> {
  const plain = new AllotProvider({ source: testState(), clientSecret: SECRET, stickyStore: false });
  await plain.initialize();
  providers.push(plain);
  for (let i = 0; ; i++) {
    if ((await plain.resolveStringEvaluation('sticky.v', '', { targetingKey: `u${i}` })).value === 'b') {
      store.connect();
      await store.write([{ unit: `u${i}`, materialization: STICKY, rule: RULE, variant: 'a' }]);
      store.disconnect();
      return `u${i}`;
    }
  }
}

describe('initialize waits for the sticky store', () => {
  it('answers sticky flags from the store from the first evaluation when it gets ready in time', async () => {
    const store = new ConnectingStore();
    const user = await storedAgainstHash(store);
    const { provider, statuses } = providerOver(store, 10_000);
    setTimeout(() => { store.connect(); }, 100);
    const domain = `readiness-${++domains}`;
    await OpenFeature.setProviderAndWait(domain, provider);
    const details = await OpenFeature.getClient(domain).getStringDetails('sticky.v', '', { targetingKey: user });
    expect(details).toMatchObject({ value: 'a', flagMetadata: { assignmentKind: 'sticky' } });
    expect(statuses).toEqual([]);
  });

  it('is READY on hash assignments after readyTimeoutMs, says so, and reads the store once it is ready', async () => {
    const store = new ConnectingStore();
    const user = await storedAgainstHash(store);
    const { provider, statuses } = providerOver(store, 150);
    const domain = `readiness-${++domains}`;
    const errors: unknown[] = [];
    OpenFeature.getClient(domain).addHandler(ProviderEvents.Error, (e) => errors.push(e));
    const started = Date.now();
    await OpenFeature.setProviderAndWait(domain, provider);
    expect(Date.now() - started).toBeLessThan(2_000);
    const client = OpenFeature.getClient(domain);
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    expect(errors).toEqual([]);
    // The store's own account of why it is not ready, with the option to change.
    expect(statuses).toEqual([['not-ready', 'still connecting to the test store (not ready within 150 ms (sticky.readyTimeoutMs))']]);
    const before = await client.getStringDetails('sticky.v', '', { targetingKey: user });
    expect(before).toMatchObject({ value: 'b', reason: 'SPLIT', flagMetadata: { stickyStore: 'not-ready', assignmentKind: 'split' } });
    expect(provider.pendingStickyWrites).toBe(1); // kept until the store takes it (it will keep 'a': first write wins)

    store.connect();
    await vi.waitFor(() => { expect(statuses.at(-1)?.[0]).toBe('ok'); });
    const after = await client.getStringDetails('sticky.v', '', { targetingKey: user });
    expect(after).toMatchObject({ value: 'a', flagMetadata: { assignmentKind: 'sticky' } });
    expect(after.flagMetadata).not.toHaveProperty('stickyStore');
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); });
    expect(store.readyCalls).toBe(2); // the bounded wait, then the background one
  });

  it('does not wait past readyTimeoutMs for a store that ignores the abort signal', async () => {
    const store = new ConnectingStore('ignores-abort');
    const { provider, statuses } = providerOver(store, 100);
    const started = Date.now();
    await provider.initialize();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(statuses).toEqual([['not-ready', 'the sticky store was not ready within 100 ms (sticky.readyTimeoutMs)']]);
    store.connect();
    await vi.waitFor(() => { expect(statuses.at(-1)?.[0]).toBe('ok'); });
  });

  it('reads a store that refuses to get ready anyway, through the circuit breaker', async () => {
    const store = new ConnectingStore('refuses');
    const { provider, statuses } = providerOver(store, 10_000);
    const started = Date.now();
    await provider.initialize();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(statuses).toEqual([['error', 'the sticky store failed to get ready: bad credentials']]);
    const details = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'x' });
    expect(details.flagMetadata).toMatchObject({ stickyStore: 'error' }); // a read was tried, and failed
  });

  it('stops waiting when the provider closes', async () => {
    const store = new ConnectingStore();
    const { provider, statuses } = providerOver(store, 50);
    await provider.initialize();
    await provider.onClose();
    providers.splice(providers.indexOf(provider), 1);
    expect(store.aborts).toEqual(['not ready within 50 ms (sticky.readyTimeoutMs)', 'the provider closed']);
    store.connect();
    await new Promise((r) => setTimeout(r, 20));
    expect(statuses.map(([s]) => s)).toEqual(['not-ready']);
  });
});
