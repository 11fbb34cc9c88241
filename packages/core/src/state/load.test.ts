import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { StateError } from '../errors.js';
import { HashPrefix } from '../hash/bucket.js';
import { resolveFlags } from '../resolve/resolve.js';
import { buildState, only, attr, rollout, SECRET, str, type Json } from '../testing/states.js';
import { BITSET_BYTES } from './bitset.js';
import { loadState, validateState, type DecodedBitset } from './load.js';

const good = (): Record<string, Json> =>
  buildState({
    segments: { sweden: { targeting: only(attr('country', { eqRule: { value: str('SE') } })) } },
    flags: { checkout: { variants: { on: true }, rules: [rollout('sweden', 'on')] } },
  });

describe('a segment\'s targeting', () => {
  it('is compiled into closures the first time the segment is matched, then kept', () => {
    const state = loadState(good(), { specialize: 'none' });
    const sweden = state.segments.get('segments/sweden')!;
    const atLoad = sweden.targeting;
    const ask = (country: string) => resolveFlags(state, { evaluationContext: { targeting_key: 'u', country }, clientSecret: SECRET }).resolvedFlags[0]!.variant;
    expect(ask('SE')).toBe('on');
    const compiled = sweden.targeting;
    expect(compiled).not.toBe(atLoad);
    expect(ask('NO')).toBe('');
    expect(sweden.targeting).toBe(compiled);
  });
});

describe('a flag\'s results', () => {
  const state = (specialize: 'none' | 'all') =>
    loadState(
      buildState({
        segments: { sweden: { targeting: only(attr('country', { eqRule: { value: str('SE') } })) }, everyone: {} },
        flags: {
          checkout: { variants: { on: true }, rules: [rollout('sweden', 'on')] },
          split: { variants: { a: 1, b: 2 }, rules: [{ segment: 'everyone', assignments: [{ id: 'a', serve: 'a', ranges: [[0, 500]] }, { id: 'b', serve: 'b', ranges: [[500, 1000]] }] }] },
        },
      }),
      { specialize },
    );

  it.each(['none', 'all'] as const)('are made the first time they are returned, then shared (specialize: %s)', (specialize) => {
    const s = state(specialize);
    const checkout = s.flags.get('flags/checkout')!;
    const split = s.flags.get('flags/split')!;
    // Nothing is made at load: a large state would make one per assignment and three per flag.
    expect(checkout.rules[0]!.assignments[0]!.result).toBeNull();
    expect(split.rules[0]!.assignments.map((a) => a.result)).toEqual([null, null]);
    // A specialized walk takes the flag's own results as constants when it is written.
    if (specialize === 'none') expect([checkout.noMatch, checkout.targetingKeyError, checkout.archivedResult]).toEqual([null, null, null]);

    const ask = (flag: string, context: Record<string, string | object>) =>
      resolveFlags(s, { flags: [flag], evaluationContext: context, clientSecret: SECRET }).resolvedFlags[0]!;
    const first = ask('checkout', { targeting_key: 'u', country: 'SE' });
    expect(first).toMatchObject({ variant: 'on', value: true, shouldApply: true, fallthroughs: [], reason: 'RESOLVE_REASON_MATCH', assignmentKind: 'rollout', rule: 'flags/checkout/rules/r1', segment: 'segments/sweden', assignmentId: 'all-on' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(ask('checkout', { targeting_key: 'v', country: 'SE' })).toBe(first);
    const noMatch = ask('checkout', { targeting_key: 'u', country: 'NO' });
    expect(noMatch).toMatchObject({ variant: '', value: null, shouldApply: false, reason: 'RESOLVE_REASON_NO_SEGMENT_MATCH', assignmentKind: 'none', rule: '' });
    expect(ask('checkout', { targeting_key: 'v', country: 'NO' })).toBe(noMatch);

    const kinds = new Set<string>();
    for (let u = 0; u < 40; u++) {
      const r = ask('split', { targeting_key: `u${u}` });
      kinds.add(`${r.variant} ${r.assignmentKind} ${r.assignmentId}`);
      expect(ask('split', { targeting_key: `u${u}` })).toBe(r);
    }
    expect([...kinds].sort()).toEqual(['a split a', 'b split b']);
    const badKey = ask('split', { targeting_key: { not: 'a key' } });
    expect(badKey.reason).toBe('RESOLVE_REASON_TARGETING_KEY_ERROR');
    expect(ask('split', { targeting_key: { still: 'not a key' } })).toBe(badKey);
  });
});

function issuesOf(input: unknown, options = {}): string[] {
  const result = validateState(input, options);
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
}

/** A deep copy of `good()` changed by `edit`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke into arbitrary places
type Loose = Record<string, any>;

function edited(edit: (s: Loose) => void): Record<string, Json> {
  const s = good() as Loose;
  edit(s);
  return s;
}

describe('loading', () => {
  it('loads a valid state and summarizes it', () => {
    const state = loadState(good());
    expect(state.summary()).toMatchObject({ accountId: 'test', flags: 1, segments: 1, clients: 1 });
    expect(loadState(JSON.stringify(good())).flags.size).toBe(1);
  });

  it('refuses an unknown specialize option, naming the values it takes', () => {
    expect(() => loadState(buildState({ flags: {} }), { specialize: true as unknown as 'all' })).toThrow('options.specialize must be "hot", "all" or "none", got true');
  });

  it('names the JSON path and what was expected', () => {
    const bad = edited((s) => {
      s.flags['flags/checkout'].rules[0].assignmentSpec.bucketCount = 'ten';
    });
    expect(issuesOf(bad)).toEqual([
      'flags["flags/checkout"].rules[0].assignmentSpec.bucketCount: expected a positive integer, got "ten"',
    ]);
    expect(() => loadState(bad)).toThrow(StateError);
  });

  it('reports every problem, not only the first', () => {
    const bad = edited((s) => {
      s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].variant.variant = 'nope';
      s.segments['segments/sweden'].targeting.expression = { ref: 'missing' };
      s.account = {};
    });
    const issues = issuesOf(bad);
    expect(issues).toHaveLength(3);
    expect(issues.join('\n')).toContain('account.name');
    expect(issues.join('\n')).toContain('segments["segments/sweden"].targeting.expression.ref');
    expect(issues.join('\n')).toContain('assignments[0].variant.variant: expected the name of one of the flag\'s variants (on), got "nope"');
  });

  it.each([
    ['not JSON', '{"flags": ', '(root): not valid JSON'],
    ['a list at the root', [] as unknown[], '(root): expected an object, got a list of 0'],
    ['a bad bucket index', edited((s) => (s.bitsets['segments/sweden'] = [5, 1_000_000])), 'bitsets["segments/sweden"][1]: expected a bucket index in [0, 1000000), got 1000000'],
    ['ranges past bucketCount', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].bucketRanges = [{ lower: 0, upper: 1001 }])), 'bucketRanges[0].upper: expected an integer in [0, bucketCount 1000], got 1001'],
    ['a range whose lower passes its upper', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].bucketRanges = [{ lower: 7, upper: 3 }])), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments[0].bucketRanges[0]: lower (7) must not exceed upper (3)'],
    ['a range that is not an object', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].bucketRanges = [{ upper: 1 }, 5])), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments[0].bucketRanges[1]: expected an object, got 5'],
    ['ranges that are not a list', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].bucketRanges = 'all')), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments[0].bucketRanges: expected a list, got "all"'],
    ['an assignment with two kinds', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].clientDefault = {})), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments[0]: expected exactly one of variant, clientDefault, fallthrough; got variant, clientDefault'],
    ['an assignment that is not an object', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments = [null])), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments[0]: expected an object, got null'],
    ['an assignment id that is not a string', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].assignmentId = 3)), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments[0].assignmentId: expected a string, got 3'],
    ['assignments that are not a list', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments = {})), 'flags["flags/checkout"].rules[0].assignmentSpec.assignments: expected a list, got an object'],
    ['a rule without an assignment spec', edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec = 'half')), 'flags["flags/checkout"].rules[0].assignmentSpec: expected an object, got "half"'],
    ['a rule whose segment is not a string', edited((s) => (s.flags['flags/checkout'].rules[0].segment = 1)), 'flags["flags/checkout"].rules[0].segment: expected a string, got 1'],
    ['a bad timestamp', edited((s) => (s.segments['segments/sweden'].targeting.criteria.c = attr('t', { eqRule: { value: { timestampValue: 'soon' } } }))), 'timestampValue: expected an RFC 3339 timestamp'],
    ['mixed range bounds', edited((s) => (s.segments['segments/sweden'].targeting.criteria.c = attr('t', { rangeRule: { startInclusive: { numberValue: 1 }, endInclusive: { stringValue: 'z' } } }))), 'range bounds mix number and string'],
  ])('rejects %s', (_what, input, expected) => {
    expect(issuesOf(input).join('\n')).toContain(expected);
  });

  it('reads bucket bounds written as decimal strings, as proto-JSON writes 64-bit integers', () => {
    const spec = (lower: unknown, upper: unknown) =>
      edited((s) => (s.flags['flags/checkout'].rules[0].assignmentSpec.assignments[0].bucketRanges = [{ lower, upper }]));
    expect(issuesOf(spec('0', '1000'))).toEqual([]);
    const resolved = (input: unknown) => resolveFlags(loadState(input), { evaluationContext: { country: 'SE', targeting_key: 'u1' }, clientSecret: SECRET }).resolvedFlags[0];
    expect(resolved(spec('0', '1000'))).toEqual(resolved(spec(0, 1000)));
    expect(issuesOf(spec('0', '1e3')).join('\n')).toContain('bucketRanges[0].upper: expected an integer in [0, bucketCount 1000], got "1e3"');
  });

  it('treats __proto__ and constructor keys as plain data', () => {
    const text = JSON.stringify(good()).replace('"flags/checkout"', '"__proto__"');
    const issues = issuesOf(text);
    expect(issues).toContain('flags.__proto__: flag names look like "flags/<id>", got "__proto__"');
    const withProtoValue = edited((s) => {
      s.flags['flags/checkout'].variants[0].value = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}');
    });
    const state = loadState(withProtoValue);
    const value = resolveFlags(state, { evaluationContext: { country: 'SE' }, clientSecret: SECRET }).resolvedFlags[0]!.value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it('refuses deeply nested expressions and values instead of overflowing the stack', () => {
    let expression: Json = { ref: 'c' };
    for (let i = 0; i < 10_000; i++) expression = { not: expression };
    const deep = edited((s) => (s.segments['segments/sweden'].targeting.expression = expression));
    expect(issuesOf(deep).join('\n')).toContain('expression nested deeper than 64 levels');
    let value: Json = 1;
    for (let i = 0; i < 10_000; i++) value = [value];
    const deepValue = edited((s) => (s.flags['flags/checkout'].variants[0].value = value));
    expect(issuesOf(deepValue).join('\n')).toContain('value nested deeper than 64 levels');
  });

  it('refuses huge lists', () => {
    const huge = edited((s) => (s.flags['flags/checkout'].rules = new Array<null>(20_000).fill(null)));
    expect(issuesOf(huge)).toEqual(['flags["flags/checkout"].rules: expected at most 10000 items, got 20000']);
  });

  it('never hands out a half-loaded state', () => {
    const bad = edited((s) => (s.flags['flags/checkout'].rules[0].segment = 7));
    expect(validateState(bad).ok).toBe(false);
  });
});

describe('the proto-JSON ResolverState shape', () => {
  function protoState(gzippedBitset: Json): Record<string, Json> {
    return {
      flags: [
        {
          name: 'flags/checkout',
          state: 'ACTIVE',
          clients: ['clients/app'],
          variants: [{ name: 'on', value: { enabled: true } }],
          rules: [
            {
              name: 'flags/checkout/rules/r1',
              segment: 'segments/exp',
              enabled: true,
              targetingKeySelector: 'targeting_key',
              assignmentSpec: { bucketCount: 1000, assignments: [{ assignmentId: 'a', variant: { variant: 'on' }, bucketRanges: [{ upper: 1000 }] }] },
            },
          ],
        },
      ],
      segmentsNoBitsets: [{ name: 'segments/exp' }],
      bitsets: [{ segment: 'segments/exp', ...(gzippedBitset === true ? { fullBitset: true } : { gzippedBitset }) }],
      clients: [{ name: 'clients/app' }],
      clientCredentials: [{ name: 'clients/app/credentials/c', clientSecret: { secret: 'proto-secret' }, environments: [] }],
    };
  }

  /** The gzipped base64 bitset of account acme holding `unit`'s bucket alone. */
  function oneUnit(unit: string): string {
    const bits = new Uint8Array(BITSET_BYTES);
    const bucket = new HashPrefix('MegaSalt-acme|').bucket(unit, 1_000_000);
    bits[bucket >> 3] = 1 << (bucket & 7);
    return gzipSync(bits).toString('base64');
  }

  it('loads gzipped bitsets, salted with the account id the caller gives', () => {
    const bucket = new HashPrefix('MegaSalt-acme|').bucket('alice', 1_000_000);
    const bits = new Uint8Array(BITSET_BYTES);
    bits[bucket >> 3] = 1 << (bucket & 7);
    const state = loadState(protoState(gzipSync(bits).toString('base64')), { accountId: 'acme' });
    const resolve = (unit: string): string =>
      resolveFlags(state, { evaluationContext: { targeting_key: unit }, clientSecret: 'proto-secret' }).resolvedFlags[0]!.reason;
    expect(resolve('alice')).toBe('RESOLVE_REASON_MATCH');
    expect(resolve('bob')).toBe('RESOLVE_REASON_NO_SEGMENT_MATCH');
  });

  it('takes from decodedBitsets the bitsets an earlier load decoded, answers alike, and leaves in it only its own', () => {
    const decodedBitsets = new Map<string, DecodedBitset>();
    const reason = (state: ReturnType<typeof loadState>, unit: string): string =>
      resolveFlags(state, { evaluationContext: { targeting_key: unit }, clientSecret: 'proto-secret' }).resolvedFlags[0]!.reason;
    const first = loadState(protoState(oneUnit('alice')), { accountId: 'acme', decodedBitsets });
    expect([...decodedBitsets.keys()]).toEqual([oneUnit('alice')]);
    const again = loadState(protoState(oneUnit('alice')), { accountId: 'acme', decodedBitsets });
    expect(again.segments.get('segments/exp')!.bitset).toBe(first.segments.get('segments/exp')!.bitset);
    expect([reason(again, 'alice'), reason(again, 'bob')]).toEqual(['RESOLVE_REASON_MATCH', 'RESOLVE_REASON_NO_SEGMENT_MATCH']);
    const changed = loadState(protoState(oneUnit('bob')), { accountId: 'acme', decodedBitsets });
    expect([reason(changed, 'alice'), reason(changed, 'bob')]).toEqual(['RESOLVE_REASON_NO_SEGMENT_MATCH', 'RESOLVE_REASON_MATCH']);
    expect([...decodedBitsets.keys()]).toEqual([oneUnit('bob')]);
  });

  it('keeps decoded bitsets under decodedBitsetKey of their text when given one, so the map need not hold the texts', () => {
    const digest = (t: string): string => createHash('sha256').update(t).digest('base64');
    const decodedBitsets = new Map<string, DecodedBitset>();
    const options = { accountId: 'acme', decodedBitsets, decodedBitsetKey: digest };
    const first = loadState(protoState(oneUnit('alice')), options);
    expect([...decodedBitsets.keys()]).toEqual([digest(oneUnit('alice'))]);
    const again = loadState(protoState(oneUnit('alice')), options);
    expect(again.segments.get('segments/exp')!.bitset).toBe(first.segments.get('segments/exp')!.bitset);
    const changed = loadState(protoState(oneUnit('bob')), options);
    expect(changed.segments.get('segments/exp')!.bitset).not.toBe(first.segments.get('segments/exp')!.bitset);
    expect([...decodedBitsets.keys()]).toEqual([digest(oneUnit('bob'))]);
  });

  it('leaves decodedBitsets as it was when the state has problems', () => {
    const decodedBitsets = new Map<string, DecodedBitset>();
    const good = loadState(protoState(oneUnit('alice')), { accountId: 'acme', decodedBitsets });
    const bad = { ...protoState(oneUnit('bob')), flags: 3 };
    expect(validateState(bad, { accountId: 'acme', decodedBitsets }).ok).toBe(false);
    expect([...decodedBitsets.keys()]).toEqual([oneUnit('alice')]);
    expect(decodedBitsets.get(oneUnit('alice'))!.bits).toBe(good.segments.get('segments/exp')!.bitset);
  });

  it('takes fullBitset as every bucket', () => {
    const state = loadState(protoState(true), { accountId: 'acme' });
    expect(resolveFlags(state, { evaluationContext: { targeting_key: 'x' }, clientSecret: 'proto-secret' }).resolvedFlags[0]!.variant).toBe('on');
  });

  it('asks for the account id, which this shape does not carry', () => {
    expect(issuesOf(protoState(true))).toEqual([
      'accountId: the proto ResolverState shape carries no account id: pass it (accountId option, --account ID)',
    ]);
  });

  it('rejects bytes that are not gzip, and a gzip bomb', () => {
    expect(issuesOf(protoState('aGVsbG8='), { accountId: 'a' }).join('\n')).toContain('bitsets[0].gzippedBitset: expected gzipped bitset bytes');
    const bomb = gzipSync(new Uint8Array(10_000_000)).toString('base64');
    expect(issuesOf(protoState(bomb), { accountId: 'a' }).join('\n')).toContain('bitsets[0].gzippedBitset');
  });
});

describe('a ResolverState as Confidence serves it', () => {
  const confidenceState = (): Record<string, Json> => ({
    flags: [
      {
        name: 'flags/checkout',
        state: 'ACTIVE',
        clients: ['clients/web'],
        variants: [{ name: 'flags/checkout/variants/on', value: { enabled: true }, createTime: '2026-01-01T00:00:00Z' }],
        rules: [
          {
            name: 'flags/checkout/rules/r1',
            segment: 'segments/all',
            enabled: true,
            assignmentSpec: { bucketCount: 10, assignments: [{ assignmentId: 'on', variant: { variant: 'flags/checkout/variants/on' }, bucketRanges: [{ upper: 10 }] }] },
            labels: { team: 'checkout' },
            usageMetadata: { resolveCount: '12' },
          },
        ],
        schema: { schema: { enabled: { boolSchema: {} } } },
      },
      { name: 'flags/draft', clients: ['clients/web'], variants: [], rules: [] },
    ],
    segmentsNoBitsets: [{ name: 'segments/all', state: 'ALLOCATED', allocation: { proportion: { value: '1' } } }],
    bitsets: [
      { segment: 'segments/all', gzippedBitset: gzipSync(new Uint8Array(3).fill(0xff)).toString('base64') },
      { segment: 'segments/archived-long-ago', fullBitset: true },
    ],
    clients: [{ name: 'clients/web', displayName: 'Web' }, { name: 'clients/web-admin' }],
    clientCredentials: [
      { name: 'clients/web/clientCredentials/k1', clientSecret: { secret: 'web-secret' }, environments: ['prod'] },
      { name: 'clients/web-admin/clientCredentials/k2', clientSecret: { secret: 'admin-secret' } },
      { name: 'clients/deleted/clientCredentials/k3', clientSecret: { secret: 'orphan-secret' } },
    ],
    bloomFilters: [{ materializedSegment: 'materializations/m', data: 'AAAAAAAAAAA=', hashFunctionCount: 3, bitCount: '64', strategy: 1 }],
    region: 'REGION_EU',
    someFieldAddedNextYear: { nested: [1, 2] },
  });

  it('loads, linking each credential to the client whose name prefixes it', () => {
    const state = loadState(confidenceState(), { accountId: 'acme' });
    expect(state.client('web-secret')).toMatchObject({ name: 'clients/web', credential: 'clients/web/clientCredentials/k1' });
    expect(state.client('admin-secret')?.name).toBe('clients/web-admin');
    expect(state.client('web-secret')?.environments.has('prod')).toBe(true);
  });

  it('leaves a credential of no listed client unusable, as Confidence does', () => {
    const state = loadState(confidenceState(), { accountId: 'acme' });
    expect(state.client('orphan-secret')).toBeUndefined();
    expect(() => resolveFlags(state, { evaluationContext: {}, clientSecret: 'orphan-secret' })).toThrow(/clientSecret/);
  });

  it('serves ACTIVE flags only: a flag without a state is STATE_UNSPECIFIED and left out', () => {
    const state = loadState(confidenceState(), { accountId: 'acme' });
    const flags = resolveFlags(state, { evaluationContext: { targeting_key: 'u' }, clientSecret: 'web-secret' }).resolvedFlags;
    expect(flags.map((f) => f.flag)).toEqual(['flags/checkout']);
  });

  it('lets a segment whose bitset has every bit set match without a unit', () => {
    const state = loadState(confidenceState(), { accountId: 'acme' });
    expect(resolveFlags(state, { evaluationContext: {}, clientSecret: 'web-secret' }).resolvedFlags[0]!.variant).toBe('flags/checkout/variants/on');
  });

  it('still validates what it uses, with paths', () => {
    const s = confidenceState() as Loose;
    s.flags[0].rules[0].assignmentSpec.bucketCount = 'ten';
    s.flags[0].state = 'ON';
    s.bloomFilters[0].bitCount = '65';
    const issues = issuesOf(s, { accountId: 'acme' });
    expect(issues).toHaveLength(3);
    expect(issues).toEqual(
      expect.arrayContaining([
        'flags[0].state: expected "ACTIVE" or "ARCHIVED", got "ON"',
        'flags[0].rules[0].assignmentSpec.bucketCount: expected a positive integer, got "ten"',
        'bloomFilters[0].bitCount: says 65 bits but data holds 64',
      ]),
    );
  });
});
