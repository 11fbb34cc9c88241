import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { StateError } from '../errors.js';
import { resolveFlag, resolveFlags } from '../resolve/resolve.js';
import { arbContext, arbState } from '../testing/arbitraries.js';
import { ACCOUNT, context as protoContext, protoState, SECRETS } from '../testing/proto-states.js';
import { buildState, rollout, SECRET } from '../testing/states.js';
import type { MaterializationAccess } from '../types.js';
import { CompactBitset } from './compact-bitset.js';
import { loadState, validateState, type LoadOptions } from './load.js';
import { prepareState, StateAssembler, type PreparedState, type ReusableState } from './prepare.js';
import type { ResolverState } from './resolver-state.js';

const sticky: MaterializationAccess = {
  read: (unit: string) => ({ isUnitInMaterialization: unit.length % 2 === 0, ruleToVariant: { 'flags/f0/rules/r1': 'v1' } }),
};

/** Prepares `json`, moves the prepared form across a (simulated) thread boundary, and assembles it in tiny steps. */
function roundTrip(json: unknown, options: LoadOptions, reuse: ReusableState | null = null): ResolverState {
  // With a state to reuse, its sets are held here, as the provider's loader holds them.
  const held = reuse === null ? [] : heldSetsOf(reuse.previous);
  const result = prepareState(JSON.stringify(json), { ...options, heldBitset: (set) => held.findIndex((h) => h.equals(set)) });
  if (!result.ok) throw new Error(`not valid: ${JSON.stringify(result.issues)}`);
  const moved: PreparedState = structuredClone(result.prepared, { transfer: [...result.transfer] });
  const assembler = new StateAssembler(moved, held, reuse);
  let steps = 1;
  while (!assembler.step(0)) steps++;
  // A zero budget does one item per step: the work really is sliced.
  expect(steps).toBeGreaterThan(moved.segmentBitsets.length);
  const state = assembler.finish();
  // Each flag's rules are compiled on first use, unless every walk was specialized at assembly
  // (or the flag was taken compiled from the previous state).
  for (const flag of state.flags.values()) {
    if (options.specialize !== 'all' && reuse?.previous.flags.get(flag.name) !== flag) expect(flag.compiled).toBe(false);
  }
  return state;
}

/** The distinct bitsets of `state`'s segments. */
function heldSetsOf(state: ResolverState): CompactBitset[] {
  return [...new Set([...state.segments.values()].flatMap((s) => (s.bitset === null ? [] : [s.bitset])))];
}

function expectSameAnswers(a: ResolverState, b: ResolverState, secrets: readonly string[], contexts: readonly Record<string, unknown>[]): void {
  expect([...b.flags.keys()]).toEqual([...a.flags.keys()]);
  // Known before any deferred flag is compiled (the resolves below compile them).
  expect([...b.flags.values()].map((f) => [f.archived, f.usesStore])).toEqual([...a.flags.values()].map((f) => [f.archived, f.usesStore]));
  for (const secret of secrets) {
    if (a.client(secret) === undefined) continue;
    for (const evaluationContext of contexts) {
      for (const access of [null, sticky]) {
        const request = { evaluationContext, clientSecret: secret };
        expect(resolveFlags(b, request, access)).toEqual(resolveFlags(a, request, access));
      }
    }
  }
  expect(b.summary()).toEqual(a.summary());
}

describe('prepareState and StateAssembler', () => {
  test.prop([arbState, fc.array(arbContext, { minLength: 1, maxLength: 5 }), fc.constantFrom('hot', 'all', 'none')], { numRuns: 150 })(
    'assemble the state loadState loads (conformance shape): same summary, same answers',
    (json, contexts, specialize) => {
      const options = { specialize } as const;
      expectSameAnswers(loadState(json, options), roundTrip(json, options), [SECRET], contexts);
    },
  );

  test.prop([protoState, fc.array(protoContext, { minLength: 1, maxLength: 5 })], { numRuns: 100 })(
    'assemble the state loadState loads (proto shape, bloom filters, cycles, gzipped bitsets)',
    (json, contexts) => {
      const options = { accountId: ACCOUNT, targetingKeyAlias: 'targetingKey' };
      expectSameAnswers(loadState(json, options), roundTrip(json, options), SECRETS, contexts);
    },
  );

  test.prop(
    [arbState, arbState, fc.array(fc.nat(3).map((n) => n === 0), { minLength: 16, maxLength: 16 }), fc.array(arbContext, { minLength: 1, maxLength: 4 }), fc.constantFrom('hot', 'all', 'none'), fc.boolean()],
    { numRuns: 300 },
  )('taking what is unchanged from a previous state: the state loadState loads, referring only to its own segments', (a, b, picks, contexts, specialize, assembled) => {
    // The next state: the previous one with some entries (a quarter) taken from another, or removed.
    const next = structuredClone(a) as Record<string, Record<string, unknown>>;
    let k = 0;
    for (const key of ['flags', 'segments', 'bitsets']) {
      const from = (b[key] ?? {}) as Record<string, unknown>;
      next[key] ??= {};
      for (const name of new Set([...Object.keys(next[key]), ...Object.keys(from)])) {
        if (!picks[k++ % picks.length]) continue;
        if (name in from) next[key][name] = from[name];
        else Reflect.deleteProperty(next[key], name);
      }
    }
    fc.pre(validateState(next).ok);
    const options = { specialize } as const;
    // Loaded whole (its flags compiled) or assembled (deferred, some compiled by a resolve).
    const previous = assembled ? roundTrip(a, options) : loadState(a, options);
    if (assembled) resolveFlags(previous, { evaluationContext: contexts[0]!, clientSecret: SECRET }, null);
    const entry = (json: Record<string, unknown>, key: string, name: string): string | undefined => JSON.stringify((json[key] as Record<string, unknown> | undefined)?.[name]);
    const same = (key: string, name: string): boolean => entry(a, key, name) === entry(next, key, name);
    const reuse: ReusableState = {
      previous,
      segmentUnchanged: (name) => name in next.segments! && same('segments', name) && same('bitsets', name),
      flagUnchanged: (name) => name in next.flags! && same('flags', name),
    };
    const expected = loadState(next, options);
    const state = roundTrip(next, options, reuse);
    expectSameAnswers(expected, state, [SECRET], contexts);
    // The previous state, sharing what was taken, still answers as it did.
    expectSameAnswers(loadState(a, options), previous, [SECRET], contexts);
    for (const seg of expected.segments.values()) {
      const other = state.segments.get(seg.name)!;
      expect([other.inCycle, other.allSet, other.materializations]).toEqual([seg.inCycle, seg.allSet, seg.materializations]);
    }
    // Every compiled reference points into the state's own maps.
    for (const flag of state.flags.values()) for (const rule of flag.rules) expect(rule.segment).toBe(state.segments.get(rule.segmentName) ?? null);
    for (const seg of state.segments.values()) for (const ref of seg.references) if (state.segments.has(ref)) expect(state.segments.get(ref)!.salt).toBe(state.salt);
  });

  it('takes the unchanged segments and flags, with their specialized code, and compiles what a change reaches', () => {
    const json = (s1Buckets: number[]) => ({
      account: { name: 'accounts/a' },
      clients: { [SECRET]: { client: { name: 'clients/app' }, clientCredential: { name: 'clients/app/credentials/c' } } },
      segments: {
        'segments/s0': {},
        'segments/s1': {},
        'segments/s2': { targeting: { criteria: { c: { segment: { segment: 'segments/s1' } } }, expression: { ref: 'c' } } },
      },
      bitsets: { 'segments/s0': [1, 2], 'segments/s1': s1Buckets },
      flags: Object.fromEntries(
        ['s0', 's1', 's2'].map((s) => [
          `flags/on-${s}`,
          {
            state: 'ACTIVE',
            clients: ['clients/app'],
            variants: [{ name: `flags/on-${s}/variants/v`, value: { on: true } }],
            rules: [{ name: `flags/on-${s}/rules/r`, segment: `segments/${s}`, enabled: true, assignmentSpec: { bucketCount: 1, assignments: [{ assignmentId: 'a', variant: { variant: `flags/on-${s}/variants/v` }, bucketRanges: [{ lower: 0, upper: 1 }] }] } }],
          },
        ]),
      ),
    });
    const previous = loadState(json([3]), { specialize: 'all' });
    const next = json([4]);
    const held = heldSetsOf(previous);
    const result = prepareState(next, { specialize: 'all', heldBitset: (set) => held.findIndex((h) => h.equals(set)) });
    if (!result.ok) throw new Error('not valid');
    const unchanged = (name: string): boolean => name !== 'segments/s1';
    const assembler = new StateAssembler(result.prepared, held, { previous, segmentUnchanged: unchanged, flagUnchanged: () => true });
    const state = assembler.finish();
    // s1 changed, and s2 refers to it: both compiled again, with the flags on them.
    expect(['segments/s0', 'segments/s1', 'segments/s2'].map((n) => state.segments.get(n) === previous.segments.get(n))).toEqual([true, false, false]);
    expect(['flags/on-s0', 'flags/on-s1', 'flags/on-s2'].map((n) => state.flags.get(n) === previous.flags.get(n))).toEqual([true, false, false]);
    expect(state.flags.get('flags/on-s0')!.program).toBe(previous.flags.get('flags/on-s0')!.program);
    expect(state.flags.get('flags/on-s1')!.program).not.toBeNull();
    expect(assembler.taken).toEqual({ segments: 1, flags: 1 });
    expect(state.salt).toBe(previous.salt);
    expectSameAnswers(loadState(next), state, [SECRET], [{ targeting_key: 'u' }, { targeting_key: 'v' }]);
    // Another account: nothing is taken.
    const other = loadState({ ...json([3]), account: { name: 'accounts/b' } });
    const fresh = new StateAssembler(result.prepared, held, { previous: other, segmentUnchanged: () => true, flagUnchanged: () => true });
    fresh.finish();
    expect(fresh.taken).toEqual({ segments: 0, flags: 0 });
    // A state of another shape, or loaded with other options: nothing is taken.
    for (const options of [{ specialize: 'hot' as const }, { specialize: 'all' as const, targetingKeyAlias: 'targetingKey' }]) {
      const again = prepareState(next, { ...options, heldBitset: (set) => held.findIndex((h) => h.equals(set)) });
      if (!again.ok) throw new Error('not valid');
      const other = new StateAssembler(again.prepared, held, { previous, segmentUnchanged: () => true, flagUnchanged: () => true });
      other.finish();
      expect(other.taken).toEqual({ segments: 0, flags: 0 });
    }
    const proto = Object.assign(loadState(json([3]), { specialize: 'all' }), { proto: true });
    const fromProto = new StateAssembler(result.prepared, held, { previous: proto, segmentUnchanged: () => true, flagUnchanged: () => true });
    fromProto.finish();
    expect(fromProto.taken).toEqual({ segments: 0, flags: 0 });
    // A segment whose bitset was sent (not held here) is compiled with it, whatever the caller says.
    const sent = prepareState(next, { specialize: 'all' });
    if (!sent.ok) throw new Error('not valid');
    const withSent = new StateAssembler(sent.prepared, [], { previous, segmentUnchanged: () => true, flagUnchanged: () => true });
    withSent.finish();
    expect(withSent.taken).toEqual({ segments: 0, flags: 0 });
  });

  describe('flags compiled on first use', () => {
    const json = (revision: number) =>
      buildState({
        segments: { a: {}, b: {} },
        flags: {
          one: { variants: { on: revision }, rules: [rollout('a', 'on')] },
          two: { variants: { on: true }, rules: [rollout('b', 'on')] },
          three: { variants: { on: true }, rules: [rollout('a', 'on'), rollout('missing', 'on')] },
        },
      });
    const assembled = (state: unknown, reuse: ReusableState | null = null) => {
      const result = prepareState(state, { specialize: 'hot' });
      if (!result.ok) throw new Error('not valid');
      const assembler = new StateAssembler(result.prepared, [], reuse);
      return { state: assembler.finish(), assembler, utf8: result.prepared.utf8 };
    };
    const compiled = (state: ResolverState): boolean[] => [...state.flags.values()].map((f) => f.compiled);

    it('compiles a flag the first time it is resolved, and no other', () => {
      const { state } = assembled(json(1));
      expect(compiled(state)).toEqual([false, false, false]);
      const client = state.client(SECRET)!;
      expect(resolveFlag(state, client, state.flags.get('flags/two')!, { targeting_key: 'u' }).variant).toBe('on');
      expect(compiled(state)).toEqual([false, true, false]);
      // The rule naming a segment the state lacks is skipped, as in a state loaded whole.
      expect(state.flags.get('flags/three')!.rules.map((r) => r.segment?.name ?? null)).toEqual(['segments/a', null]);
      expect(state.flags.get('flags/three')!.segmentRefs).toBeNull();
    });

    it('takes an unchanged deferred flag without parsing it, deferred again from the new state\'s JSON', () => {
      const first = assembled(json(1));
      resolveFlag(first.state, first.state.client(SECRET)!, first.state.flags.get('flags/two')!, { targeting_key: 'u' });
      const unchanged = (name: string): boolean => name !== 'flags/one';
      const next = assembled(json(2), { previous: first.state, segmentUnchanged: () => true, flagUnchanged: unchanged });
      // two was compiled: taken as it is; three is deferred again (its rule on a missing segment keeps it from being taken); one changed.
      expect(next.state.flags.get('flags/two')).toBe(first.state.flags.get('flags/two'));
      expect(next.state.flags.get('flags/three')).not.toBe(first.state.flags.get('flags/three'));
      expect(compiled(next.state)).toEqual([false, true, false]);
      expect(next.assembler.taken).toEqual({ segments: 2, flags: 1 });
      const both = buildState({ segments: { a: {}, b: {} }, flags: { one: { variants: { on: true }, rules: [rollout('a', 'on')] }, two: { variants: { on: true }, rules: [rollout('b', 'on')] } } });
      const a = assembled(both);
      const b = assembled(both, { previous: a.state, segmentUnchanged: () => true, flagUnchanged: () => true });
      expect(b.assembler.taken).toEqual({ segments: 2, flags: 2 });
      // Deferred again from the new JSON: the previous state's buffer is not kept alive by it.
      const source = (flag: unknown): Uint8Array => (flag as { deferred: { utf8: Uint8Array } }).deferred.utf8;
      expect(source(b.state.flags.get('flags/one'))).toBe(b.utf8);
      expect(source(a.state.flags.get('flags/one'))).toBe(a.utf8);
      expect(b.state.flags.get('flags/one')!.rules[0]!.segment).toBe(b.state.segments.get('segments/a'));
      expectSameAnswers(loadState(both), b.state, [SECRET], [{ targeting_key: 'u' }]);
    });

    it('throws StateError with the path on first use when a prepared form holds a flag prepareState did not validate', () => {
      const result = prepareState(json(1));
      if (!result.ok) throw new Error('not valid');
      const text = new TextDecoder().decode(result.prepared.utf8);
      // The same length, so that every offset still holds: `true` becomes a string.
      const tampered = text.replace('"enabled":true', '"enabled":"tr"');
      expect(tampered).not.toBe(text);
      const state = new StateAssembler({ ...result.prepared, utf8: new TextEncoder().encode(tampered) }).finish();
      const thrown = (read: () => unknown): unknown => {
        try {
          read();
        } catch (error) {
          return error;
        }
        throw new Error('did not throw');
      };
      const flag = state.flags.get('flags/one')!;
      const first = thrown(() => flag.rules);
      expect(first).toBeInstanceOf(StateError);
      expect((first as Error).message).toContain('flags["flags/one"].rules[0].enabled: expected true or false, got "tr"');
      // Every later read throws the same error: the JSON is not parsed again.
      expect(thrown(() => flag.variants)).toBe(first);
      expect(
        thrown(() => {
          flag.compile();
        }),
      ).toBe(first);
      expect(flag.compiled).toBe(false);
    });
  });

  it('reports exactly the problems validateState reports, with their paths', () => {
    const bad = { account: { name: 'accounts/a' }, flags: { 'flags/x': { rules: 3 } }, segments: {}, bitsets: { s: 'not base64!' } };
    const result = prepareState(bad);
    expect(result.ok).toBe(false);
    expect(result).toEqual(validateState(bad));
    expect(prepareState('{nope')).toEqual(validateState('{nope'));
  });

  it('moves the flags\' and segments\' JSON as UTF-8 in a transferred buffer, offsets in bytes (non-ASCII names and values)', () => {
    const targeting = { criteria: { c: { attribute: { attributeName: 'land', eqRule: { value: { stringValue: 'Åland 日本' } } } } }, expression: { ref: 'c' } };
    const json = {
      account: { name: 'accounts/a' },
      segments: { 'segments/é': { targeting }, 'segments/日': {} },
      flags: { 'flags/ü': { state: 'ACTIVE', variants: [{ name: 'flags/ü/variants/ñ', value: { text: '😀' } }], rules: [] } },
    };
    const result = prepareState(json);
    if (!result.ok) throw new Error(`not valid: ${JSON.stringify(result.issues)}`);
    expect(result.transfer).toContain(result.prepared.utf8.buffer);
    expect(result.prepared.utf8.byteLength).toBeGreaterThan(JSON.stringify([...Object.keys(json.segments), targeting, json.flags['flags/ü']]).length);
    const moved: PreparedState = structuredClone(result.prepared, { transfer: [...result.transfer] });
    expect(result.prepared.utf8.byteLength).toBe(0); // transferred, not copied
    const state = new StateAssembler(moved).finish();
    expect([...state.segments.keys()]).toEqual(['segments/é', 'segments/日']);
    expect([...state.flags.keys()]).toEqual(['flags/ü']);
    expect(state.summary()).toEqual(loadState(json).summary());
  });

  it('compiles a targeting that segments repeat once, each keeping the materializations it reaches', () => {
    const same = {
      criteria: { m: { materializedSegment: { materializedSegment: 'materializations/m' } }, c: { segment: { segment: 'segments/c' } } },
      expression: { and: { operands: [{ ref: 'm' }, { ref: 'c' }] } },
    };
    const json = {
      account: { name: 'accounts/a' },
      segments: {
        'segments/a': { targeting: same },
        'segments/b': { targeting: same },
        'segments/c': { targeting: { criteria: { n: { materializedSegment: { materializedSegment: 'materializations/n' } } }, expression: { ref: 'n' } } },
      },
    };
    const result = prepareState(json);
    if (!result.ok) throw new Error(`not valid: ${JSON.stringify(result.issues)}`);
    const state = new StateAssembler(structuredClone(result.prepared, { transfer: [...result.transfer] })).finish();
    const [a, b, c] = ['segments/a', 'segments/b', 'segments/c'].map((n) => state.segments.get(n)!);
    expect(a!.targetingTree).toBe(b!.targetingTree);
    expect(a!.targetingTree).not.toBe(c!.targetingTree);
    const loaded = loadState(json);
    for (const n of ['segments/a', 'segments/b', 'segments/c']) {
      expect(state.segments.get(n)!.materializations).toEqual(loaded.segments.get(n)!.materializations);
    }
    expect(a!.materializations).toEqual(['materializations/m', 'materializations/n']);
  });

  it('packs every bitset in the one buffer it lists for transfer', () => {
    const json = { account: { name: 'accounts/a' }, segments: { 'segments/a': {}, 'segments/b': {}, 'segments/c': {}, 'segments/d': {} }, bitsets: { 'segments/a': [1, 2], 'segments/b': 'ALL', 'segments/d': [7] } };
    const result = prepareState(json);
    if (!result.ok) throw new Error('not valid');
    expect(result.transfer).toContain(result.prepared.bitsets.buffer);
    expect([...result.prepared.segmentBitsets]).toEqual([0, -1, -1, 1]);
    const state = new StateAssembler(structuredClone(result.prepared, { transfer: [...result.transfer] })).finish();
    expect([...state.segments.values()].map((s) => s.bitset?.count ?? null)).toEqual([2, null, null, 1]);
  });

  it('packs only the bitsets the assembling side does not hold, and shares the held ones', () => {
    const json = {
      account: { name: 'accounts/a' },
      segments: { 'segments/a': {}, 'segments/b': {}, 'segments/c': {}, 'segments/d': {} },
      bitsets: { 'segments/a': [1, 2], 'segments/b': [3], 'segments/c': 'ALL', 'segments/d': [1, 2] },
    };
    const before = loadState(json);
    // The assembling side holds a set with segments/a's buckets (and one the state lacks).
    const held = [CompactBitset.fromBuckets([9]), CompactBitset.fromBuckets([2, 1])];
    const result = prepareState(json, { heldBitset: (set) => held.findIndex((h) => h.equals(set)) });
    if (!result.ok) throw new Error('not valid');
    expect([...result.prepared.segmentHeldBitsets]).toEqual([1, -1, -1, 1]);
    expect([...result.prepared.segmentBitsets]).toEqual([-1, 0, -1, -1]);
    expect(result.prepared.bitsets.offsets.length).toBe(1);
    const state = new StateAssembler(structuredClone(result.prepared, { transfer: [...result.transfer] }), held).finish();
    const bitsets = [...state.segments.values()].map((s) => s.bitset);
    expect(bitsets[0]).toBe(held[1]);
    expect(bitsets[3]).toBe(held[1]);
    expect(bitsets[1]!.equals(CompactBitset.fromBuckets([3]))).toBe(true);
    expect(bitsets[2]).toBeNull();
    expect([...state.segments.values()].map((s) => s.allSet)).toEqual([...before.segments.values()].map((s) => s.allSet));
    expect(state.summary()).toEqual(before.summary());
  });

  it('throws, naming the segment, when the assembler is not given a held set the prepared form names', () => {
    const json = { account: { name: 'accounts/a' }, segments: { 'segments/a': {} }, bitsets: { 'segments/a': [1] } };
    const result = prepareState(json, { heldBitset: () => 3 });
    if (!result.ok) throw new Error('not valid');
    expect(() => new StateAssembler(result.prepared, [CompactBitset.fromBuckets([1])]).finish()).toThrow(
      'segments/a: its bitset is held set 3, but the assembler was given 1 held sets',
    );
  });

  it('lists every typed array of the prepared form for transfer: a copied one makes the receiving thread allocate, and V8 may collect garbage there', () => {
    const json = { account: { name: 'accounts/a' }, segments: { 'segments/a': {}, 'segments/b': {} }, bitsets: { 'segments/a': [1, 2] }, flags: {} };
    const result = prepareState(json);
    if (!result.ok) throw new Error('not valid');
    const views: ArrayBufferView[] = [];
    const walk = (v: unknown): void => {
      if (ArrayBuffer.isView(v)) views.push(v);
      else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) walk(x);
    };
    walk(result.prepared);
    expect(views.length).toBeGreaterThan(5);
    for (const v of views) expect(result.transfer).toContain(v.buffer);
  });
});
