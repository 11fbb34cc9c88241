import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { resolveFlags } from '../resolve/resolve.js';
import { arbContext, arbState } from '../testing/arbitraries.js';
import { ACCOUNT, context as protoContext, protoState, SECRETS } from '../testing/proto-states.js';
import { SECRET } from '../testing/states.js';
import type { MaterializationAccess } from '../types.js';
import { CompactBitset } from './compact-bitset.js';
import { loadState, validateState, type LoadOptions } from './load.js';
import { prepareState, StateAssembler, type PreparedState } from './prepare.js';
import type { ResolverState } from './resolver-state.js';

const sticky: MaterializationAccess = {
  read: (unit: string) => ({ isUnitInMaterialization: unit.length % 2 === 0, ruleToVariant: { 'flags/f0/rules/r1': 'v1' } }),
};

/** Prepares `json`, moves the prepared form across a (simulated) thread boundary, and assembles it in tiny steps. */
function roundTrip(json: unknown, options: LoadOptions): ResolverState {
  const result = prepareState(JSON.stringify(json), options);
  if (!result.ok) throw new Error(`not valid: ${JSON.stringify(result.issues)}`);
  const moved: PreparedState = structuredClone(result.prepared, { transfer: [...result.transfer] });
  const assembler = new StateAssembler(moved);
  let steps = 1;
  while (!assembler.step(0)) steps++;
  // A zero budget does one item per step: the work really is sliced.
  expect(steps).toBeGreaterThan(moved.segmentBitsets.length);
  return assembler.finish();
}

function expectSameAnswers(a: ResolverState, b: ResolverState, secrets: readonly string[], contexts: readonly Record<string, unknown>[]): void {
  expect(b.summary()).toEqual(a.summary());
  expect([...b.flags.keys()]).toEqual([...a.flags.keys()]);
  for (const secret of secrets) {
    if (a.client(secret) === undefined) continue;
    for (const evaluationContext of contexts) {
      for (const access of [null, sticky]) {
        const request = { evaluationContext, clientSecret: secret };
        expect(resolveFlags(b, request, access)).toEqual(resolveFlags(a, request, access));
      }
    }
  }
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
