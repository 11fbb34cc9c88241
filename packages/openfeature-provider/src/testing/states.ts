/**
 * A small resolver state covering what the provider maps: splits, rollouts, a client
 * default, an archived flag, a named targeting-key selector, two clients, sticky rules.
 * Used by this package's tests, the example and the benchmarks.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const SECRET = 'secret-web';
export const IOS_SECRET = 'secret-ios';
export const STICKY = 'materializations/exp';

function rule(name: string, segment: string, assignments: Json[], extra: Record<string, Json> = {}): Json {
  return { name, segment, enabled: true, targetingKeySelector: '', assignmentSpec: { bucketCount: 1000, assignments }, ...extra };
}

function variant(id: string, name: string, lower: number, upper: number): Json {
  return { assignmentId: id, variant: { variant: name }, bucketRanges: [{ lower, upper }] };
}

function flag(name: string, variants: Record<string, Json>, rules: Json[], extra: Record<string, Json> = {}): Json {
  return {
    name: `flags/${name}`,
    state: 'ACTIVE',
    clients: ['clients/web'],
    variants: Object.entries(variants).map(([n, value]) => ({ name: n, value })),
    rules,
    ...extra,
  };
}

/** The test state; `overrides` replaces whole flags by name (`flags/x`), `null` removes one. */
export function testState(overrides: Record<string, Json> = {}): { [key: string]: Json } {
  const flags: Record<string, Json> = {
    'flags/checkout': flag(
      'checkout',
      {
        treatment: { enabled: true, steps: 2, label: 'new', copy: { title: 'Hi' }, nothing: null, list: [1, 2] },
        control: { enabled: false, steps: 3, label: 'old', copy: { title: 'Hello' }, nothing: null, list: [3] },
      },
      [rule('flags/checkout/rules/ab', 'segments/everyone', [variant('ab-treatment', 'treatment', 0, 500), variant('ab-control', 'control', 500, 1000)])],
    ),
    'flags/banner': flag('banner', { on: { shown: true, color: '#0af' } }, [rule('flags/banner/rules/all', 'segments/everyone', [variant('all-on', 'on', 0, 1000)])]),
    'flags/old': flag('old', { on: { shown: true } }, [rule('flags/old/rules/all', 'segments/everyone', [variant('old-on', 'on', 0, 1000)])], { state: 'ARCHIVED' }),
    'flags/nordic': flag('nordic', { yes: { on: true } }, [
      rule('flags/nordic/rules/se', 'segments/sweden', [variant('se-yes', 'yes', 0, 1000)], { targetingKeySelector: 'user.id' }),
    ]),
    'flags/keyed': flag('keyed', { a: { n: 1 }, b: { n: 2 } }, [
      rule('flags/keyed/rules/by-user', 'segments/everyone', [variant('k-a', 'a', 0, 500), variant('k-b', 'b', 500, 1000)], { targetingKeySelector: 'user.id' }),
    ]),
    'flags/client-default': flag('client-default', { x: { v: 1 } }, [
      rule('flags/client-default/rules/all', 'segments/everyone', [{ assignmentId: 'cd', clientDefault: {}, bucketRanges: [{ lower: 0, upper: 1000 }] }]),
    ]),
    'flags/ios-only': flag('ios-only', { on: { v: true } }, [rule('flags/ios-only/rules/all', 'segments/everyone', [variant('ios', 'on', 0, 1000)])], {
      clients: ['clients/ios'],
    }),
    'flags/sticky': flag('sticky', { a: { v: 'a' }, b: { v: 'b' } }, [
      rule('flags/sticky/rules/exp', 'segments/everyone', [variant('s-a', 'a', 0, 500), variant('s-b', 'b', 500, 1000)], {
        materializationSpec: { readMaterialization: STICKY, writeMaterialization: STICKY },
      }),
    ]),
    'flags/paused': flag('paused', { in: { v: true } }, [
      rule('flags/paused/rules/only-stored', 'segments/everyone', [variant('p-in', 'in', 0, 1000)], {
        materializationSpec: { readMaterialization: STICKY, mode: { materializationMustMatch: true } },
      }),
    ]),
  };
  for (const [name, value] of Object.entries(overrides)) flags[name] = value;
  const kept = Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== null));
  return {
    account: { name: 'accounts/test' },
    clients: {
      [SECRET]: {
        client: { name: 'clients/web' },
        clientCredential: { name: 'clients/web/credentials/server', clientSecret: { secret: SECRET }, environments: ['production'] },
      },
      [IOS_SECRET]: {
        client: { name: 'clients/ios' },
        clientCredential: { name: 'clients/ios/credentials/app', clientSecret: { secret: IOS_SECRET } },
      },
    },
    segments: {
      'segments/everyone': { name: 'segments/everyone' },
      'segments/sweden': {
        name: 'segments/sweden',
        targeting: {
          criteria: { country: { attribute: { attributeName: 'country', eqRule: { value: { stringValue: 'SE' } } } } },
          expression: { ref: 'country' },
        },
      },
    },
    bitsets: { 'segments/everyone': 'ALL', 'segments/sweden': 'ALL' },
    flags: kept,
  };
}
