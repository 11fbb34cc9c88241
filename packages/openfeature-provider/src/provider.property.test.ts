import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { AllotProvider } from './provider.js';
import { SECRET, testState } from './testing/states.js';

const provider = new AllotProvider({ source: testState(), clientSecret: SECRET });
await provider.initialize();

const KNOWN = ['checkout', 'checkout.enabled', 'checkout.copy.title', 'flags/banner.shown', 'old', 'nordic.on', 'keyed.n', 'client-default.v', 'sticky.v', 'paused.v', 'ios-only'];
const flagKey = fc.oneof(fc.constantFrom(...KNOWN), fc.string(), fc.constantFrom(...KNOWN).chain((k) => fc.string().map((s) => `${k}${s}`)));
const value = fc.jsonValue({ maxDepth: 2 });
const context = fc.record(
  {
    targetingKey: fc.oneof(fc.string({ maxLength: 120 }), fc.constant(undefined)),
    targeting_key: fc.oneof(value, fc.double(), fc.bigInt().map(String)),
    country: value,
    user: fc.oneof(fc.record({ id: fc.oneof(value, fc.integer()) }), value),
    __proto__: value,
    constructor: value,
  },
  { requiredKeys: [] },
);
const typed = fc.oneof(
  fc.boolean().map((d) => ['boolean', d] as const),
  fc.string().map((d) => ['string', d] as const),
  fc.double().map((d) => ['number', d] as const),
  fc.dictionary(fc.string(), value).map((d) => ['object', d] as const),
);

describe('the provider never fails the caller', () => {
  test.prop([flagKey, context, typed], { numRuns: 400 })('resolves without throwing, and serves the default whenever an error code is set', async (key, ctx, [type, defaultValue]) => {
    const run = (): Promise<{ value: unknown; errorCode?: string }> => {
      switch (type) {
        case 'boolean':
          return provider.resolveBooleanEvaluation(key, defaultValue, ctx as never);
        case 'string':
          return provider.resolveStringEvaluation(key, defaultValue, ctx as never);
        case 'number':
          return provider.resolveNumberEvaluation(key, defaultValue, ctx as never);
        case 'object':
          return provider.resolveObjectEvaluation(key, defaultValue as never, ctx as never);
      }
    };
    const details = await run();
    if (details.errorCode !== undefined) expect(details.value).toBe(defaultValue);
    const bundle = provider.resolveAllSync(ctx as never);
    const fromBundle = bundle.details(key, type, defaultValue);
    if (fromBundle.errorCode !== undefined) expect(fromBundle.value).toBe(defaultValue);
    expect(fromBundle.value).toEqual(details.value);
  });
});
