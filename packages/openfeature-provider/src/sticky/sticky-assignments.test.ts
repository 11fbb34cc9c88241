import type { MaterializationKey, MaterializationRecord, MaterializationStore, MaterializationStoreWrite } from '@allot/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AllotProvider } from '../provider.js';
import { SECRET, STICKY, testState } from '../testing/states.js';
import type { StickyStoreStatus } from '../types.js';
import { MemoryStore } from './memory-store.js';

/** A store the test can make fail, stall, or answer, over an in-memory one. */
class FlakyStore implements MaterializationStore {
  readonly inner = new MemoryStore();
  mode: 'ok' | 'fail' | 'stall' = 'ok';
  reads = 0;
  writes: MaterializationStoreWrite[] = [];
  private stalled: (() => void)[] = [];

  read(keys: readonly MaterializationKey[]): Promise<readonly (MaterializationRecord | null)[]> {
    this.reads++;
    return this.gate(() => this.inner.read(keys));
  }

  write(writes: readonly MaterializationStoreWrite[]): Promise<void> {
    return this.gate(async () => {
      this.writes.push(...writes);
      await this.inner.write(writes);
    });
  }

  resume(): void {
    this.mode = 'ok';
    for (const go of this.stalled.splice(0)) go();
  }

  private gate<T>(run: () => Promise<T>): Promise<T> {
    if (this.mode === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.mode === 'stall') return new Promise<void>((resolve) => this.stalled.push(resolve)).then(() => Promise.reject(new Error('late')));
    return run();
  }
}

const providers: AllotProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.onClose()));
});

async function withStore(store: MaterializationStore, sticky = {}): Promise<{ provider: AllotProvider; statuses: StickyStoreStatus[]; lost: number[] }> {
  const provider = new AllotProvider({ source: testState(), clientSecret: SECRET, stickyStore: store, sticky: { timeoutMs: 30, cooldownMs: 60_000, ...sticky } });
  providers.push(provider);
  const statuses: StickyStoreStatus[] = [];
  const lost: number[] = [];
  provider.allotEvents.on('sticky-store', (s) => statuses.push(s));
  provider.allotEvents.on('sticky-writes-lost', (n) => lost.push(n));
  await provider.initialize();
  return { provider, statuses, lost };
}

describe('sticky assignments', () => {
  it('keeps serving the stored variant after the rule would hash the unit elsewhere', async () => {
    const store = new MemoryStore();
    await store.write([{ unit: 'user-1', materialization: STICKY, rule: 'flags/sticky/rules/exp', variant: 'a' }]);
    await store.write([{ unit: 'user-2', materialization: STICKY, rule: 'flags/sticky/rules/exp', variant: 'b' }]);
    const { provider } = await withStore(store);
    const one = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'user-1' });
    const two = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'user-2' });
    expect([one.value, two.value]).toEqual(['a', 'b']);
    expect(one.flagMetadata).toMatchObject({ assignmentKind: 'sticky' });
  });

  it('writes a new assignment once; a paused-intake rule admits only units in the materialization it reads', async () => {
    const store = new FlakyStore();
    const { provider } = await withStore(store);
    expect((await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'new' })).reason).toBe('DEFAULT');
    const first = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'new' });
    expect(first.flagMetadata).toMatchObject({ assignmentKind: 'split' });
    await vi.waitFor(() => { expect(store.writes).toHaveLength(1); });
    expect(store.writes[0]).toEqual({ unit: 'new', materialization: STICKY, rule: 'flags/sticky/rules/exp', variant: first.value });
    expect((await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'new' })).flagMetadata).toMatchObject({ assignmentKind: 'sticky' });
    // flags/sticky's rule put 'new' in the materialization flags/paused reads: paused intake
    // admits it with no variant recorded for its own rule (the conformance suite's general
    // expectation; @allot/core's README, deviation 3) and assigns it as a new unit.
    expect(await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'new' })).toMatchObject({ value: true, variant: 'in' });
    expect((await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'other' })).reason).toBe('DEFAULT');
  });

  it('replaces a stored variant the flag no longer has (compare-and-set)', async () => {
    const store = new FlakyStore();
    await store.inner.write([{ unit: 'u', materialization: STICKY, rule: 'flags/sticky/rules/exp', variant: 'removed' }]);
    const { provider } = await withStore(store);
    const details = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'u' });
    expect(['a', 'b']).toContain(details.value);
    await vi.waitFor(() => { expect(store.writes).toHaveLength(1); });
    expect(store.writes[0]).toMatchObject({ variant: details.value, replaces: 'removed' });
    expect(store.inner.readSync([{ unit: 'u', materialization: STICKY }])[0]?.ruleToVariant).toEqual({ 'flags/sticky/rules/exp': details.value });
  });

  it('serves the hash assignment within the timeout when the store stalls, and paused intake admits no one', async () => {
    const store = new FlakyStore();
    await store.inner.write([{ unit: 'u', materialization: STICKY, rule: 'flags/sticky/rules/exp', variant: 'a' }]);
    const { provider, statuses } = await withStore(store, { failureThreshold: 2 });
    store.mode = 'stall';
    const started = Date.now();
    const details = await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'u' });
    expect(Date.now() - started).toBeLessThan(2_000); // bounded by the 30 ms timeout, with CI slack
    expect(details).toMatchObject({ value: false, reason: 'DEFAULT', flagMetadata: { stickyStore: 'timeout' } });
    const hashed = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'u' });
    expect(hashed.flagMetadata).toMatchObject({ stickyStore: 'timeout', assignmentKind: 'split' });
    expect(statuses).toEqual(['timeout', 'unavailable']);
    // The circuit is open: the store is not asked again.
    const reads = store.reads;
    expect((await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'u' })).flagMetadata).toMatchObject({ stickyStore: 'unavailable' });
    expect(store.reads).toBe(reads);
    store.resume();
  });

  it('loses no accepted write while the store fails, and delivers them when it is back', async () => {
    const store = new FlakyStore();
    const { provider } = await withStore(store, { retryDelayMs: 5, failureThreshold: 100 });
    store.mode = 'fail';
    const served = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const unit = `u${i}`;
      served.set(unit, (await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: unit })).value);
    }
    expect(provider.pendingStickyWrites).toBe(20);
    // Reads in this process see the queued writes: those units keep their variant.
    const again = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'u3' });
    expect(again).toMatchObject({ value: served.get('u3'), flagMetadata: { assignmentKind: 'sticky' } });
    await new Promise((r) => setTimeout(r, 40));
    store.mode = 'ok';
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); }, { timeout: 8_000, interval: 10 });
    for (const [unit, variant] of served) {
      expect(store.inner.readSync([{ unit, materialization: STICKY }])[0]?.ruleToVariant['flags/sticky/rules/exp']).toBe(variant);
    }
  });

  it('refuses writes past maxPendingWrites and says so in metadata and an event', async () => {
    const store = new FlakyStore();
    const { provider, lost } = await withStore(store, { maxPendingWrites: 2, failureThreshold: 100, retryDelayMs: 5 });
    store.mode = 'stall';
    const results = [];
    for (const unit of ['a', 'b', 'c']) results.push(await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: unit }));
    expect(results.map((r) => r.flagMetadata?.stickyWritesRefused)).toEqual([undefined, undefined, 1]);
    expect(lost).toEqual([1]);
    store.resume();
  });

  it('flushes pending writes on close', async () => {
    const store = new FlakyStore();
    const { provider } = await withStore(store);
    await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'closing' });
    await provider.onClose();
    expect(store.writes.map((w) => w.unit)).toEqual(['closing']);
  });

  it('flushes many batches on close with nothing else to wake the event loop', async () => {
    // Evaluations awaited back to back never yield to the queue's flush: all 3,000 writes are
    // left for close, in 6 batches, and nothing else is pending in the process.
    const store = new FlakyStore();
    const { provider, lost } = await withStore(store, { closeTimeoutMs: 2_000 });
    for (let i = 0; i < 3_000; i++) await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: `closing-${i}` });
    expect(provider.pendingStickyWrites).toBe(3_000);
    await provider.onClose();
    // Before: each batch waited for something else to wake the event loop, and close gave up.
    expect(lost).toEqual([]);
    expect(store.writes).toHaveLength(3_000);
  });
});
