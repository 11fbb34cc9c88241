import { describe, expect, it } from 'vitest';
import { AllotProvider } from '../provider.js';
import { SECRET, testState } from '../testing/states.js';
import type { Exposure, FlagValueType } from '../types.js';

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

  it('answers with defaults and PROVIDER_NOT_READY before a state is loaded', () => {
    const provider = new AllotProvider({ source: testState(), clientSecret: SECRET });
    const bundle = provider.resolveAllSync({ targetingKey: 'u' });
    expect(bundle.getNumberValue('checkout.steps', 7)).toBe(7);
    expect(bundle.details('checkout.steps', 'number', 7).errorCode).toBe('PROVIDER_NOT_READY');
  });
});
