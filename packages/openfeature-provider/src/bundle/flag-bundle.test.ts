import { assembleState, prepareState } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { fingerprintsOf } from '../loading/fingerprints.js';
import { AllotProvider } from '../provider.js';
import { SECRET, testState } from '../testing/states.js';
import type { Exposure, FlagValueType, LoadedState } from '../types.js';

const cases: [string, FlagValueType, unknown][] = [
  ['checkout.enabled', 'boolean', false],
  ['checkout.copy.title', 'string', ''],
  ['checkout.steps', 'number', 0],
  ['checkout', 'object', {}],
  ['checkout.label', 'number', -1],
  ['banner', 'object', {}],
  ['old.shown', 'boolean', false],
  ['nordic.on', 'boolean', false],
  ['sticky.v', 'string', ''],
  ['paused.v', 'boolean', false],
  ['missing', 'string', 'd'],
];

describe('FlagBundle', () => {
  it('gives the same details as evaluating each flag', async () => {
    const provider = new AllotProvider({ source: testState(), clientSecret: SECRET });
    await provider.initialize();
    for (const targetingKey of ['user-1', 'user-2', 'user-3']) {
      const context = { targetingKey, country: 'SE', user: { id: targetingKey } };
      await provider.resolveAll(context); // first exposure: writes the sticky assignment
      const bundle = await provider.resolveAll(context);
      for (const [key, type, defaultValue] of cases) {
        const direct = await (type === 'boolean'
          ? provider.resolveBooleanEvaluation(key, defaultValue as boolean, context)
          : type === 'string'
            ? provider.resolveStringEvaluation(key, defaultValue as string, context)
            : type === 'number'
              ? provider.resolveNumberEvaluation(key, defaultValue as number, context)
              : provider.resolveObjectEvaluation(key, defaultValue as never, context));
        expect(bundle.details(key, type, defaultValue), `${targetingKey} ${key}`).toEqual(direct);
      }
      expect(bundle.getBooleanValue('checkout.enabled', false)).toBe(targetingKey === 'user-2' || bundle.getStringValue('checkout.label', '') === 'new');
    }
    expect(provider.resolveAllSync({ targetingKey: 'user-2' }).flags).toEqual([
      'flags/checkout',
      'flags/banner',
      'flags/nordic',
      'flags/keyed',
      'flags/client-default',
      'flags/sticky',
      'flags/paused',
    ]);
    await provider.onClose();
  });

  it('logs an exposure when a value is read, not when the bundle is made', async () => {
    const exposures: Exposure[] = [];
    const provider = new AllotProvider({ source: testState(), clientSecret: SECRET, exposure: { onExposure: (e) => exposures.push(e) } });
    await provider.initialize();
    const bundle = provider.resolveAllSync({ targetingKey: 'user-2' });
    expect(exposures).toEqual([]);
    bundle.getBooleanValue('checkout.enabled', false);
    bundle.getStringValue('checkout.label', '');
    expect(exposures.map((e) => e.flag)).toEqual(['flags/checkout']);
    await provider.onClose();
  });

  it('gives a flag that fails its first compile its error, and every other flag its value (it never throws)', async () => {
    // A prepared form core did not make (its bytes changed after preparing): the sticky flag's
    // rule's `enabled` made a string, the same length so that every offset holds. Assembled
    // states compile a flag on first use, so the bundle is where it first fails.
    const result = prepareState(testState(), { targetingKeyAlias: 'targetingKey' });
    if (!result.ok) throw new Error('not valid');
    const text = new TextDecoder().decode(result.prepared.utf8);
    const rule = '"name":"flags/sticky/rules/exp","segment":"segments/everyone","enabled":';
    expect(text).toContain(`${rule}true`);
    const utf8 = new TextEncoder().encode(text.replace(`${rule}true`, `${rule}"tr"`));
    const loaded: LoadedState = { state: assembleState({ ...result.prepared, utf8 }), fingerprints: fingerprintsOf(testState(), result.state), origin: 'tampered' };
    const source = { description: 'tampered', start: () => Promise.resolve(loaded), stop: () => Promise.resolve() };
    const broken = new AllotProvider({ source, clientSecret: SECRET });
    const good = new AllotProvider({ source: testState(), clientSecret: SECRET });
    await broken.initialize();
    await good.initialize();
    for (const resolveAll of [(p: AllotProvider) => p.resolveAll({ targetingKey: 'user-2' }), (p: AllotProvider) => Promise.resolve(p.resolveAllSync({ targetingKey: 'user-2' }))]) {
      const bundle = await resolveAll(broken);
      const expected = await resolveAll(good);
      expect(bundle.flags).toEqual(expected.flags);
      expect(bundle.details('sticky.v', 'string', 'd')).toEqual({
        value: 'd',
        reason: 'ERROR',
        errorCode: 'GENERAL',
        errorMessage: 'allot: unexpected error: invalid resolver state (1 problem):\n  flags["flags/sticky"].rules[0].enabled: expected true or false, got "tr"',
      });
      // `paused` serves only what `sticky`'s rule stored, which the broken one never stores.
      for (const [key, type, fallback] of cases.filter(([key]) => !key.startsWith('sticky') && !key.startsWith('paused'))) {
        expect(bundle.details(key, type, fallback)).toEqual(expected.details(key, type, fallback));
      }
    }
    await broken.onClose();
    await good.onClose();
  });

  it('answers with defaults and PROVIDER_NOT_READY before a state is loaded', () => {
    const provider = new AllotProvider({ source: testState(), clientSecret: SECRET });
    const bundle = provider.resolveAllSync({ targetingKey: 'u' });
    expect(bundle.getNumberValue('checkout.steps', 7)).toBe(7);
    expect(bundle.details('checkout.steps', 'number', 7).errorCode).toBe('PROVIDER_NOT_READY');
  });
});
