import { ErrorCode, OpenFeature, ProviderEvents, ProviderStatus, StandardResolutionReasons, type Logger } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { AllotProvider } from './provider.js';
import { objectSource } from './sources/object-source.js';
import { SECRET, testState } from './testing/states.js';
import type { Exposure, TrackEvent } from './types.js';

const open: AllotProvider[] = [];
let domains = 0;

function provider(options: Partial<ConstructorParameters<typeof AllotProvider>[0]> = {}): AllotProvider {
  const p = new AllotProvider({ source: testState(), clientSecret: SECRET, ...options });
  open.push(p);
  return p;
}

async function clientFor(p: AllotProvider): ReturnType<typeof OpenFeature.getClient> extends infer C ? Promise<C> : never {
  const domain = `test-${++domains}`;
  await OpenFeature.setProviderAndWait(domain, p);
  return OpenFeature.getClient(domain);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.onClose()));
});

/** Two users the 50/50 split of flags/checkout puts in different variants. */
const TREATED = { targetingKey: 'user-2' };
const CONTROL = { targetingKey: 'user-1' };

describe('Requirement 2.1.1', () => {
  it('exposes metadata with a name', () => {
    expect(provider().metadata.name).toBe('allot');
  });
});

describe('Requirement 2.2.1', () => {
  it('resolves boolean, string, number and object flags by key, default and context', async () => {
    const p = provider();
    await p.initialize();
    expect((await p.resolveBooleanEvaluation('checkout.enabled', false, TREATED)).value).toBe(true);
    expect((await p.resolveStringEvaluation('checkout.label', 'x', TREATED)).value).toBe('new');
    expect((await p.resolveNumberEvaluation('checkout.steps', 0, CONTROL)).value).toBe(3);
    expect((await p.resolveObjectEvaluation('checkout.copy', {}, CONTROL)).value).toEqual({ title: 'Hello' });
    expect((await p.resolveObjectEvaluation('checkout', {}, TREATED)).value).toMatchObject({ enabled: true, steps: 2 });
    expect((await p.resolveObjectEvaluation('checkout.list', [], TREATED)).value).toEqual([1, 2]);
  });

  it('accepts keys with and without the flags/ prefix, with nested paths', async () => {
    const p = provider();
    await p.initialize();
    expect((await p.resolveStringEvaluation('flags/checkout.copy.title', 'x', TREATED)).value).toBe('Hi');
    expect((await p.resolveStringEvaluation('checkout.copy.title', 'x', CONTROL)).value).toBe('Hello');
  });
});

describe('Requirement 2.2.3', () => {
  it('sets variant to the served variant name', async () => {
    const p = provider();
    await p.initialize();
    expect((await p.resolveBooleanEvaluation('checkout.enabled', false, TREATED)).variant).toBe('treatment');
    expect((await p.resolveBooleanEvaluation('checkout.enabled', true, CONTROL)).variant).toBe('control');
  });
});

describe('Requirement 2.2.5', () => {
  it('gives SPLIT for a hashed split and TARGETING_MATCH for a rollout', async () => {
    const p = provider();
    await p.initialize();
    expect((await p.resolveBooleanEvaluation('checkout.enabled', false, TREATED)).reason).toBe(StandardResolutionReasons.SPLIT);
    expect((await p.resolveBooleanEvaluation('banner.shown', false, TREATED)).reason).toBe(StandardResolutionReasons.TARGETING_MATCH);
  });

  it('gives DEFAULT with the default value when no rule matches or the rule serves the client default', async () => {
    const p = provider();
    await p.initialize();
    const nomatch = await p.resolveBooleanEvaluation('nordic.on', false, { targetingKey: 'u', country: 'NO', user: { id: 'a' } });
    expect(nomatch).toMatchObject({ value: false, reason: StandardResolutionReasons.DEFAULT });
    expect(nomatch.errorCode).toBeUndefined();
    const clientDefault = await p.resolveNumberEvaluation('client-default.v', 42, TREATED);
    expect(clientDefault).toMatchObject({ value: 42, reason: StandardResolutionReasons.DEFAULT });
    expect(clientDefault.flagMetadata).toMatchObject({ assignmentId: 'cd' });
  });

  it('gives DISABLED with the default value for an archived flag', async () => {
    const p = provider();
    await p.initialize();
    expect(await p.resolveBooleanEvaluation('old.shown', false, TREATED)).toMatchObject({ value: false, reason: StandardResolutionReasons.DISABLED });
  });

  it('serves the default for a null in the variant, without an error', async () => {
    const p = provider();
    await p.initialize();
    const details = await p.resolveStringEvaluation('checkout.nothing', 'fallback', TREATED);
    expect(details).toMatchObject({ value: 'fallback', variant: 'treatment', reason: StandardResolutionReasons.SPLIT });
    expect(details.errorCode).toBeUndefined();
  });
});

describe('Requirement 2.2.7', () => {
  it('reports FLAG_NOT_FOUND for unknown flags and flags of another client', async () => {
    const p = provider();
    await p.initialize();
    for (const key of ['nope', 'flags/nope.x', 'ios-only.v', '', '.', 'flags/']) {
      const details = await p.resolveBooleanEvaluation(key, true, TREATED);
      expect(details).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND, reason: StandardResolutionReasons.ERROR });
      expect(details.errorMessage).toContain('no flag');
    }
  });

  it('reports TYPE_MISMATCH when the value has another type or the path is absent', async () => {
    const p = provider();
    await p.initialize();
    const wrong = await p.resolveNumberEvaluation('checkout.label', 7, TREATED);
    expect(wrong).toMatchObject({ value: 7, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(wrong.errorMessage).toBe('variant "treatment" of flags/checkout has a string at "label", not a number');
    expect(await p.resolveBooleanEvaluation('checkout', false, TREATED)).toMatchObject({ value: false, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await p.resolveBooleanEvaluation('checkout.missing', true, TREATED)).toMatchObject({ value: true, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await p.resolveBooleanEvaluation('checkout.enabled.deeper', true, TREATED)).toMatchObject({ value: true, errorCode: ErrorCode.TYPE_MISMATCH });
    expect(await p.resolveObjectEvaluation('checkout.label', { d: 1 }, TREATED)).toMatchObject({ value: { d: 1 }, errorCode: ErrorCode.TYPE_MISMATCH });
  });

  it('reports TARGETING_KEY_MISSING when a split needs the targeting key and the context has none', async () => {
    const p = provider();
    await p.initialize();
    const details = await p.resolveBooleanEvaluation('checkout.enabled', true, { country: 'SE' });
    expect(details).toMatchObject({ value: true, errorCode: ErrorCode.TARGETING_KEY_MISSING, reason: StandardResolutionReasons.ERROR });
    // A rollout needs no key: no error.
    expect(await p.resolveBooleanEvaluation('banner.shown', false, {})).toMatchObject({ value: true, reason: StandardResolutionReasons.TARGETING_MATCH });
  });

  it('reports INVALID_CONTEXT for a targeting key of the wrong type', async () => {
    const p = provider();
    await p.initialize();
    expect(await p.resolveNumberEvaluation('keyed.n', 0, { targetingKey: 'u', user: { id: 1.5 } })).toMatchObject({
      value: 0,
      errorCode: ErrorCode.INVALID_CONTEXT,
    });
    // keyed randomizes on user.id: without one its rule is skipped, which is no error.
    expect(await p.resolveNumberEvaluation('keyed.n', 0, { targetingKey: 'x'.repeat(101) })).toEqual({ value: 0, reason: 'DEFAULT', flagMetadata: {} });
    expect(await p.resolveNumberEvaluation('checkout.steps', 0, { targetingKey: 'x'.repeat(101) })).toMatchObject({ value: 0, errorCode: ErrorCode.INVALID_CONTEXT });
  });

  it('returns PROVIDER_NOT_READY before a state is loaded', async () => {
    const p = provider();
    expect(await p.resolveBooleanEvaluation('checkout.enabled', true, TREATED)).toMatchObject({ value: true, errorCode: ErrorCode.PROVIDER_NOT_READY });
  });
});

describe('Requirement 2.2.10', () => {
  it('carries rule, segment and assignment id in flag metadata', async () => {
    const p = provider();
    await p.initialize();
    expect((await p.resolveBooleanEvaluation('checkout.enabled', false, TREATED)).flagMetadata).toEqual({
      rule: 'flags/checkout/rules/ab',
      segment: 'segments/everyone',
      assignmentId: 'ab-treatment',
      assignmentKind: 'split',
    });
  });
});

describe('Requirement 3.1.1', () => {
  it('uses targetingKey as targeting_key, and reaches nested context fields by dotted selectors', async () => {
    const p = provider();
    await p.initialize();
    const a = await p.resolveNumberEvaluation('keyed.n', 0, { user: { id: 'user-1' } });
    const b = await p.resolveNumberEvaluation('keyed.n', 0, { user: { id: 'user-2' } });
    expect(new Set([a.value, b.value]).size).toBe(2);
    const viaKey = await p.resolveBooleanEvaluation('checkout.enabled', false, { targetingKey: 'user-2' });
    const viaField = await p.resolveBooleanEvaluation('checkout.enabled', false, { targeting_key: 'user-2' });
    expect(viaKey.value).toBe(viaField.value);
  });
});

describe('Requirement 1.4.x (through the SDK client)', () => {
  it('returns evaluation details with the default and the error code on errors', async () => {
    const client = await clientFor(provider());
    expect(await client.getBooleanValue('checkout.enabled', false, TREATED)).toBe(true);
    const details = await client.getNumberDetails('checkout.label', 9, TREATED);
    expect(details).toMatchObject({ value: 9, errorCode: ErrorCode.TYPE_MISMATCH, flagKey: 'checkout.label' });
  });
});

describe('Requirement 2.4.1', () => {
  it('initializes from the source; a bad state fails initialization with a message naming the problem', async () => {
    const p = provider({ source: { account: { name: 'accounts/x' }, flags: { 'flags/a': { rules: 'no' } } } });
    const domain = `bad-${++domains}`;
    await expect(p.initialize()).rejects.toThrow(/no usable state from state object: .*flags\["flags\/a"\]\.rules/s);
    await OpenFeature.setProviderAndWait(domain, provider({ source: { flags: 1 } })).catch(() => undefined);
    expect(OpenFeature.getClient(domain).providerStatus).toBe(ProviderStatus.ERROR);
  });

  it('fails initialization when the client secret matches no client, listing the clients', async () => {
    await expect(provider({ clientSecret: 'wrong' }).initialize()).rejects.toThrow(/no client has the given clientSecret \(the state's clients: clients\/web, clients\/ios\)/);
    await expect(new AllotProvider({ source: testState() }).initialize()).rejects.toThrow(/has 2 clients .* pass clientSecret/);
  });
});

describe('Requirement 5.1.1', () => {
  it('emits PROVIDER_CONFIGURATION_CHANGED with the keys of the changed flags, and PROVIDER_ERROR for a bad update', async () => {
    const source = objectSource(testState());
    const p = provider({ source });
    const client = await clientFor(p);
    const changed: string[][] = [];
    const errors: string[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (e) => changed.push(e?.flagsChanged ?? []));
    client.addHandler(ProviderEvents.Error, (e) => errors.push(e?.message ?? ''));
    const state = testState();
    (state.flags as Record<string, { variants: { value: Record<string, unknown> }[] }>)['flags/banner']!.variants[0]!.value.color = '#f00';
    source.set(state);
    source.set({ flags: 'broken' });
    await new Promise((r) => setTimeout(r, 10));
    // The key an app calls, not the state's name (flags/banner).
    expect(changed).toEqual([['banner']]);
    expect((await client.getObjectDetails(changed[0]![0]!, {}, TREATED)).errorCode).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/invalid resolver state/);
    // The last good state stays.
    expect(await client.getStringValue('banner.color', '', TREATED)).toBe('#f00');
  });
});

describe('Requirement 2.7.1', () => {
  it('forwards track calls to onTrack and the track event', async () => {
    const seen: TrackEvent[] = [];
    const p = provider({ onTrack: (e) => seen.push(e) });
    const events: TrackEvent[] = [];
    p.allotEvents.on('track', (e) => events.push(e));
    const client = await clientFor(p);
    client.track('purchase', { targetingKey: 'user-9', plan: 'pro' }, { value: 12 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ name: 'purchase', targetingKey: 'user-9', details: { value: 12 } });
    expect(events).toEqual(seen);
  });
});

describe('exposures', () => {
  it('reports each (unit, flag, variant) once within the window, only for assignments to apply', async () => {
    const exposures: Exposure[] = [];
    const p = provider({ exposure: { onExposure: (e) => exposures.push(e) } });
    await p.initialize();
    for (let i = 0; i < 3; i++) {
      await p.resolveBooleanEvaluation('checkout.enabled', false, TREATED);
      await p.resolveStringEvaluation('checkout.label', '', TREATED);
    }
    await p.resolveBooleanEvaluation('checkout.enabled', false, CONTROL);
    await p.resolveBooleanEvaluation('nordic.on', false, { targetingKey: 'u', user: { id: 'x' } }); // no match: nothing to apply
    expect(exposures.map((e) => [e.unit, e.flag, e.variant])).toEqual([
      ['user-2', 'flags/checkout', 'treatment'],
      ['user-1', 'flags/checkout', 'control'],
    ]);
    expect(exposures[0]).toMatchObject({ rule: 'flags/checkout/rules/ab', assignmentId: 'ab-treatment', context: { targetingKey: 'user-2' } });
  });

  it('survives an exposure callback that throws, and logs it', async () => {
    const log = new RecordingLogger();
    const p = provider({ exposure: { onExposure: () => { throw new Error('sink down'); } }, logger: log });
    await p.initialize();
    expect((await p.resolveBooleanEvaluation('checkout.enabled', false, TREATED)).value).toBe(true);
    expect(log.lines).toEqual([['error', 'allot: onExposure threw:', new Error('sink down')]]);
  });
});

/** OpenFeature's Logger, keeping what it is told. */
class RecordingLogger implements Logger {
  readonly lines: unknown[][] = [];
  error(...args: unknown[]): void {
    this.lines.push(['error', ...args]);
  }
  warn(...args: unknown[]): void {
    this.lines.push(['warn', ...args]);
  }
  info(...args: unknown[]): void {
    this.lines.push(['info', ...args]);
  }
  debug(...args: unknown[]): void {
    this.lines.push(['debug', ...args]);
  }
}

describe('logging', () => {
  it('logs through the logger option: a rejected state once per failing streak, a throwing callback or listener', async () => {
    const log = new RecordingLogger();
    const source = objectSource(testState());
    const p = provider({ source, logger: log, onTrack: () => { throw new Error('track sink down'); } });
    p.allotEvents.on('track', () => { throw new Error('listener down'); });
    await p.initialize();
    source.set({ flags: 'broken' });
    source.set({ flags: 'still broken' });
    source.set(testState());
    p.track('purchase', { targetingKey: 'u' }, {});
    expect(log.lines.map((line) => [line[0], String(line[1]).replace(/:.*/s, '')])).toEqual([
      ['warn', 'allot'],
      ['debug', 'allot'],
      ['info', 'allot'],
      ['error', 'allot'],
      ['error', 'allot'],
    ]);
    expect(log.lines[0]![1]).toMatch(/^allot: state rejected, keeping the last good one: .*invalid resolver state/);
    expect(log.lines[3]).toEqual(['error', 'allot: onTrack threw:', new Error('track sink down')]);
    expect(log.lines[4]).toEqual(['error', 'allot: a listener of "track" threw:', new Error('listener down')]);
  });

  it('logs through the SDK\'s logger when it has none of its own', async () => {
    const log = new RecordingLogger();
    const p = provider({ onTrack: () => { throw new Error('track sink down'); } });
    const client = await clientFor(p);
    client.setLogger(log);
    await client.getBooleanValue('checkout.enabled', false, TREATED); // the SDK hands the provider its logger
    client.track('purchase', { targetingKey: 'u' }, {});
    expect(log.lines).toContainEqual(['error', 'allot: onTrack threw:', new Error('track sink down')]);
  });
});
