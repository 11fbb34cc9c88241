import { assembleState, prepareState, type ResolverState } from '@allot/core';
import { OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Evaluation } from './evaluation/evaluation.js';
import { fingerprintsOf } from './loading/fingerprints.js';
import { AllotProvider } from './provider.js';
import type { StateTracker } from './state-tracker.js';
import { SECRET, testState, type Json } from './testing/states.js';
import type { AllotProviderOptions, LoadedState, SourceListener, StateSource } from './types.js';

/** `json` as the loader's worker and assembler load it: every flag deferred until first use. */
function assembled(json: unknown, origin: string): LoadedState {
  const result = prepareState(json, { targetingKeyAlias: 'targetingKey' });
  if (!result.ok) throw new Error(`not valid: ${JSON.stringify(result.issues)}`);
  return { state: assembleState(result.prepared), fingerprints: fingerprintsOf(json, result.state), origin };
}

/** The provider's current evaluation (its tracker is private). */
function current(provider: AllotProvider): Evaluation {
  return (provider as unknown as { tracker: StateTracker }).tracker.current!;
}

/** When the state the provider serves was last known current (`Date.now()`; STALE counts from it). */
function freshAt(provider: AllotProvider): number {
  return (provider as unknown as { tracker: { freshAt: number } }).tracker.freshAt;
}

/** A source whose states (`push`), failed loads (`fail`) and confirmations (`confirm`, a 304) the test reports, as a watched file or stream would. */
function handSource(first: LoadedState): StateSource & { push: (loaded: LoadedState) => void; fail: (error: Error) => void; confirm: () => void } {
  let listener: SourceListener | null = null;
  return {
    description: 'test',
    start: (l) => {
      listener = l;
      return Promise.resolve(first);
    },
    stop: () => Promise.resolve(),
    push: (loaded) => {
      listener!.update(loaded);
    },
    fail: (error) => {
      listener!.error(error);
    },
    confirm: () => {
      listener!.confirm();
    },
  };
}

/** The state a `PROVIDER_CONFIGURATION_CHANGED` event leaves the provider on, with which of the client's flags were compiled then. */
function nextChange(provider: AllotProvider): Promise<{ state: ResolverState; compiled: boolean[] }> {
  return new Promise((resolve) => {
    const handler = (): void => {
      provider.events.removeHandler(ProviderEvents.ConfigurationChanged, handler);
      const now = current(provider);
      resolve({ state: now.state, compiled: now.state.flagsOf(now.client).map((f) => f.compiled) });
    };
    provider.events.addHandler(ProviderEvents.ConfigurationChanged, handler);
  });
}

const banner = (shown: boolean): Json => ({
  ...((testState().flags as Record<string, Json>)['flags/banner'] as Record<string, Json>),
  variants: [{ name: 'on', value: { shown } }],
});

const opened: AllotProvider[] = [];
afterEach(async () => {
  for (const provider of opened.splice(0)) await provider.onClose();
});

/** A provider on `source` (not initialized), closed after the test whatever its outcome. */
function providerOn(source: StateSource, options: Partial<AllotProviderOptions> = {}): AllotProvider {
  const provider = new AllotProvider({ source, clientSecret: SECRET, stickyStore: false, ...options });
  opened.push(provider);
  return provider;
}

/** `providerOn(source, options)`, initialized. */
async function started(source: StateSource, options: Partial<AllotProviderOptions> = {}): Promise<AllotProvider> {
  const provider = providerOn(source, options);
  await provider.initialize();
  return provider;
}

/** The READY, ERROR, STALE and CONFIGURATION_CHANGED events `provider` emits from now on, in order. */
function recorded(provider: AllotProvider): string[] {
  const seen: string[] = [];
  for (const event of [ProviderEvents.Ready, ProviderEvents.Error, ProviderEvents.Stale, ProviderEvents.ConfigurationChanged]) {
    provider.events.addHandler(event, () => {
      seen.push(event);
    });
  }
  return seen;
}

describe('StateTracker and deferred flags', () => {
  it('applies a new state at once, its flags compiled only as they are evaluated', async () => {
    const source = handSource(assembled(testState(), 'one'));
    const provider = await started(source);
    const changed = nextChange(provider);
    source.push(assembled(testState({ 'flags/banner': banner(false) }), 'two'));
    const { state, compiled } = await changed;
    expect(compiled.every((c) => !c)).toBe(true);
    expect((await provider.resolveObjectEvaluation('banner', {}, { targetingKey: 'u' })).value).toEqual({ shown: false });
    expect([...state.flags.values()].filter((f) => f.compiled).map((f) => f.name)).toEqual(['flags/banner']);
  });

  it('once the app resolves bundles, compiles every flag of the client before a new state is applied', async () => {
    const source = handSource(assembled(testState(), 'one'));
    const provider = await started(source);
    expect(provider.resolveAllSync({ targetingKey: 'u' }).getObjectValue('banner', {})).toEqual({ shown: true, color: '#0af' });
    const changed = nextChange(provider);
    source.push(assembled(testState({ 'flags/banner': banner(false) }), 'two'));
    const { compiled } = await changed;
    expect(compiled.length).toBeGreaterThan(3);
    expect(compiled.every((c) => c)).toBe(true);
    expect(provider.resolveAllSync({ targetingKey: 'u' }).getObjectValue('banner', {})).toEqual({ shown: false });
  });

  /** A state of `count` more flags: compiled over several turns. */
  const many = (count: number): Record<string, Json> => {
    const flags: Record<string, Json> = {};
    for (let i = 0; i < count; i++) flags[`flags/f${i}`] = { ...(banner(true) as Record<string, Json>), name: `flags/f${i}` };
    return flags;
  };

  it('with compileFlags "before-serving", compiles every flag of the client before serving any state, the first included', async () => {
    const source = handSource(assembled(testState(many(3_000)), 'one'));
    const provider = await started(source, { compileFlags: 'before-serving' });
    const first = current(provider);
    const flags = first.state.flagsOf(first.client);
    expect(flags.length).toBeGreaterThan(3_000);
    expect(flags.every((f) => f.compiled)).toBe(true);
    // Flags of other clients are not the provider's to compile.
    expect(first.state.flags.get('flags/ios-only')!.compiled).toBe(false);
    const changed = nextChange(provider);
    source.push(assembled(testState({ 'flags/banner': banner(false) }), 'two'));
    expect((await changed).compiled.every((c) => c)).toBe(true);
    const defaults = await started(handSource(assembled(testState(), 'one')));
    expect(current(defaults).state.flagsOf(current(defaults).client).some((f) => f.compiled)).toBe(false);
    expect(() => new AllotProvider({ source: testState(), compileFlags: 'eager' as never })).toThrow('options.compileFlags must be "on-first-use" or "before-serving", got "eager"');
  });

  it('handles what the source reports while the first state compiles after it, in order', async () => {
    const source = handSource(assembled(testState(many(3_000)), 'one'));
    const provider = providerOn(source, { compileFlags: 'before-serving', staleAfterMs: 150 });
    const seen = recorded(provider);
    const initialized = provider.initialize();
    await new Promise((resolve) => setImmediate(resolve));
    // The first state is still compiling: a newer state, then a failed load.
    source.push(assembled(testState({ 'flags/banner': banner(false) }), 'two'));
    source.fail(new Error('the next load failed'));
    await initialized;
    await vi.waitFor(() => {
      expect(seen).toContain(ProviderEvents.Stale);
    }, { timeout: 5_000 });
    expect(current(provider).loaded.origin).toBe('two');
    // As if each had come after the first state: the newer one applied, the failure reported
    // (its state compiles in a turn of its own, so its change may be reported after the
    // failure) and reported again once `initialize` resolved (for the SDK's status), no
    // READY over the failure, and stale 150 ms later.
    expect([...seen].sort()).toEqual([ProviderEvents.ConfigurationChanged, ProviderEvents.Error, ProviderEvents.Error, ProviderEvents.Stale].sort());
    expect(seen[3]).toBe(ProviderEvents.Stale);
  });

  it('a failure reported while the first state compiles leaves the OpenFeature SDK in error once the provider is ready', async () => {
    const source = handSource(assembled(testState(many(3_000)), 'one'));
    const provider = providerOn(source, { compileFlags: 'before-serving' });
    const ready = OpenFeature.setProviderAndWait('tracker-test', provider);
    await new Promise((resolve) => setImmediate(resolve));
    source.fail(new Error('the next load failed'));
    await ready;
    try {
      const client = OpenFeature.getClient('tracker-test');
      await vi.waitFor(() => {
        expect(client.providerStatus).toBe(ProviderStatus.ERROR);
      }, { timeout: 5_000 });
      expect(current(provider).loaded.origin).toBe('one');
    } finally {
      await OpenFeature.clearProviders();
    }
  });

  describe('a load that fails while a good state is compiled', () => {
    const hour = 3_600_000;

    /** A provider stale after two hours, on a first state; then only `Date` is faked (timers and `performance.now()` stay real), and moved an hour on. */
    async function anHourLater(): Promise<{ provider: AllotProvider; source: ReturnType<typeof handSource>; staleTimers: () => number[] }> {
      const source = handSource(assembled(testState(), 'one'));
      const provider = await started(source, { staleAfterMs: 2 * hour });
      provider.resolveAllSync({ targetingKey: 'u' });
      vi.useFakeTimers({ toFake: ['Date'] });
      const timers = vi.spyOn(globalThis, 'setTimeout');
      vi.setSystemTime(Date.now() + hour);
      return { provider, source, staleTimers: () => timers.mock.calls.map(([, ms]) => ms ?? 0).filter((ms) => ms >= hour / 2) };
    }

    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
    });

    it('leaves the provider in error, the good state applied, stale two hours after it arrived', async () => {
      const { provider, source, staleTimers } = await anHourLater();
      const seen = recorded(provider);
      const good = assembled(testState(many(3_000)), 'good');
      const before = Date.now();
      source.push(good);
      const after = Date.now();
      source.fail(new Error('the next load failed'));
      await vi.waitFor(() => {
        expect(current(provider).loaded.origin).toBe('good');
      }, { timeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toEqual([ProviderEvents.Error, ProviderEvents.ConfigurationChanged]);
      // The failure armed STALE from the first state (an hour left); the good state's apply
      // armed it again, from its arrival (two hours, less the compile).
      expect(freshAt(provider)).toBeGreaterThanOrEqual(before);
      expect(freshAt(provider)).toBeLessThanOrEqual(after);
      const [fromFirst, fromGood, ...more] = staleTimers();
      expect(more).toEqual([]);
      expect(fromFirst).toBeLessThanOrEqual(hour);
      expect(fromGood).toBeGreaterThan(1.9 * hour);
    });

    it('goes stale again in its time when the state it replaces had gone stale', async () => {
      const source = handSource(assembled(testState(), 'one'));
      const provider = await started(source, { staleAfterMs: 100 });
      provider.resolveAllSync({ targetingKey: 'u' });
      const seen = recorded(provider);
      const staleEvent: string = ProviderEvents.Stale;
      const stale = (): number => seen.filter((e) => e === staleEvent).length;
      source.fail(new Error('the source is down'));
      await vi.waitFor(() => {
        expect(stale()).toBe(1);
      }, { timeout: 5_000 });
      source.push(assembled(testState(many(3_000)), 'good'));
      source.fail(new Error('the next load failed'));
      await vi.waitFor(() => {
        expect(current(provider).loaded.origin).toBe('good');
      }, { timeout: 5_000 });
      // Still failing: the good state goes stale 100 ms after it arrived.
      await vi.waitFor(() => {
        expect(stale()).toBe(2);
      }, { timeout: 5_000 });
    });

    it('keeps the time of a confirmation that came after the good state arrived', async () => {
      const { provider, source } = await anHourLater();
      source.push(assembled(testState(many(3_000)), 'good'));
      source.fail(new Error('the next load failed'));
      vi.setSystemTime(Date.now() + 60_000);
      const before = Date.now();
      source.confirm();
      const after = Date.now();
      await vi.waitFor(() => {
        expect(current(provider).loaded.origin).toBe('good');
      }, { timeout: 5_000 });
      expect(freshAt(provider)).toBeGreaterThanOrEqual(before);
      expect(freshAt(provider)).toBeLessThanOrEqual(after);
    });
  });

  it('reports a flag that does not compile as a failed load, keeping the last good state', async () => {
    const source = handSource(assembled(testState(), 'one'));
    const provider = await started(source);
    provider.resolveAllSync({ targetingKey: 'u' });
    const result = prepareState(testState(), { targetingKeyAlias: 'targetingKey' });
    if (!result.ok) throw new Error('not valid');
    const text = new TextDecoder().decode(result.prepared.utf8);
    // A rule's `enabled` made a string, the same length so that every offset holds.
    const bad = new TextEncoder().encode(text.replace('"enabled":true,"targetingKeySelector"', '"enabled":"tr","targetingKeySelector"'));
    expect(bad.length).toBe(result.prepared.utf8.length);
    expect(new TextDecoder().decode(bad)).not.toBe(text);
    const errors: string[] = [];
    provider.events.addHandler(ProviderEvents.Error, (details) => {
      errors.push(details?.message ?? '');
    });
    const fresh = freshAt(provider);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the broken state arrives later than the last good one
    source.push({ state: assembleState({ ...result.prepared, utf8: bad }), fingerprints: fingerprintsOf(testState(), result.state), origin: 'broken' });
    await vi.waitFor(() => {
      expect(errors).not.toHaveLength(0);
    }, { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^broken: invalid resolver state \(1 problem\):\n {2}flags\["flags\/[a-z-]+"\]\.rules\[0\]\.enabled: expected true or false, got "tr"/);
    expect(current(provider).loaded.origin).toBe('one');
    // The state served is as old as before the broken one came (STALE counts from there).
    expect(freshAt(provider)).toBe(fresh);
  });

  it('applies only the last of states pushed while one is being compiled', async () => {
    const source = handSource(assembled(testState(), 'one'));
    const provider = await started(source);
    await provider.resolveAll({ targetingKey: 'u' });
    const origins: string[] = [];
    provider.events.addHandler(ProviderEvents.ConfigurationChanged, () => origins.push(current(provider).loaded.origin));
    // A state of many flags is compiled over several turns: the second arrives meanwhile.
    const slow = assembled(testState(many(3_000)), 'slow');
    const last = assembled(testState({ 'flags/banner': banner(false) }), 'last');
    source.push(slow);
    await new Promise((resolve) => setImmediate(resolve));
    expect(current(provider).loaded.origin).toBe('one');
    source.push(last);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(origins).toEqual(['last']);
    expect(current(provider).loaded.origin).toBe('last');
    expect(provider.resolveAllSync({ targetingKey: 'u' }).getObjectValue('banner', {})).toEqual({ shown: false });
  });
});
