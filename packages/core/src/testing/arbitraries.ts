/**
 * fast-check arbitraries for core's own property tests: valid resolver states (built with
 * `buildState`) and arbitrary evaluation contexts.
 */
import fc from 'fast-check';

import { buildState, type Json, type RuleSpec, type SegmentSpec } from './states.js';

export const ATTRIBUTES = ['country', 'age', 'version', 'tags', 'created', 'user.id', 'flag'] as const;

const ruleValue: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ maxLength: 4 }).map((s) => ({ stringValue: s })),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => ({ numberValue: n })),
  fc.boolean().map((b) => ({ boolValue: b })),
  fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => ({ timestampValue: d.toISOString() })),
  fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)).map(([a, b, c]) => ({ versionValue: { version: `${a}.${b}.${c}` } })),
  fc.constant({}),
);

const scalarRule: fc.Arbitrary<Record<string, Json>> = fc.oneof(
  ruleValue.map((value) => ({ eqRule: { value } })),
  fc.array(fc.string({ maxLength: 3 }).map((s) => ({ stringValue: s })), { maxLength: 4 }).map((values) => ({ setRule: { values } })),
  fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ noNaN: true, noDefaultInfinity: true })).map(([a, b]) => ({
    rangeRule: { startInclusive: { numberValue: Math.min(a, b) }, endExclusive: { numberValue: Math.max(a, b) } },
  })),
  fc.string({ maxLength: 3 }).map((value) => ({ startsWithRule: { value } })),
  fc.string({ maxLength: 3 }).map((value) => ({ containsRule: { value } })),
  fc.constant({}),
);

function criterion(segmentIds: readonly string[]): fc.Arbitrary<Json> {
  return fc.oneof(
    fc.tuple(fc.constantFrom(...ATTRIBUTES), scalarRule).map(([attributeName, rule]) => ({ attribute: { attributeName, ...rule } })),
    fc.tuple(fc.constantFrom(...ATTRIBUTES), scalarRule, fc.constantFrom('anyRule', 'allRule')).map(([attributeName, rule, kind]) => ({
      attribute: { attributeName, [kind]: { rule } },
    })),
    fc.constantFrom(...segmentIds).map((id) => ({ segment: { segment: `segments/${id}` } })),
    fc.constant({ materializedSegment: { materializedSegment: 'materializations/m' } }),
  );
}

const expression: fc.Arbitrary<Json> = fc.letrec<{ e: Json }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom({ ref: 'c0' }, { ref: 'c1' }),
    tie('e').map((e) => ({ not: e })),
    fc.array(tie('e'), { maxLength: 3 }).map((operands) => ({ and: { operands } })),
    fc.array(tie('e'), { maxLength: 3 }).map((operands) => ({ or: { operands } })),
  ),
})).e;

const SEGMENTS = ['s0', 's1', 's2', 's3'] as const;

const segment: fc.Arbitrary<SegmentSpec> = fc.record({
  targeting: fc.option(
    fc.tuple(criterion(SEGMENTS), criterion(SEGMENTS), expression).map(([c0, c1, e]) => ({ criteria: { c0, c1 }, expression: e })),
    { nil: undefined },
  ),
  bitset: fc.option(fc.array(fc.nat(999_999), { maxLength: 50 }), { nil: undefined }),
}).map((s) => ({ ...(s.targeting ? { targeting: s.targeting } : {}), ...(s.bitset ? { bitset: s.bitset } : {}) }));

const rule: fc.Arbitrary<RuleSpec> = fc
  .record({
    segment: fc.constantFrom(...SEGMENTS, 'missing'),
    enabled: fc.boolean(),
    selector: fc.constantFrom('', 'targeting_key', 'user.id', 'age'),
    cut: fc.nat(1000),
    kinds: fc.tuple(fc.constantFrom('v0', 'v1', 'cd', 'ft'), fc.constantFrom('v0', 'v1', 'cd', 'ft')),
    sticky: fc.constantFrom(null, {}, { materializationMustMatch: true }, { segmentTargetingCanBeIgnored: true }),
  })
  .map(({ segment: seg, enabled, selector, cut, kinds, sticky }) => {
    const serve = (k: string): RuleSpec['assignments'][number]['serve'] =>
      k === 'cd' ? { clientDefault: true } : k === 'ft' ? { fallthrough: true } : k;
    return {
      segment: seg,
      enabled,
      selector,
      assignments: [
        { serve: serve(kinds[0]), ranges: [[0, cut]] },
        { serve: serve(kinds[1]), ranges: [[cut, 1000]] },
      ],
      ...(sticky === null
        ? {}
        : { materializationSpec: { readMaterialization: 'materializations/m', writeMaterialization: 'materializations/m', mode: sticky } }),
    };
  });

/** A valid state in the conformance map shape: four segments, three flags. */
export const arbState: fc.Arbitrary<Record<string, Json>> = fc
  .tuple(fc.tuple(segment, segment, segment, segment), fc.array(fc.array(rule, { maxLength: 4 }), { minLength: 3, maxLength: 3 }))
  .map(([segs, flagRules]) =>
    buildState({
      segments: Object.fromEntries(SEGMENTS.map((id, i) => [id, segs[i]!])),
      flags: Object.fromEntries(
        flagRules.map((rules, i) => [`f${i}`, { variants: { v0: { n: 0 }, v1: [1] }, rules }]),
      ),
    }),
  );

/** Any JSON-ish value, including the awkward ones. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom(NaN, Infinity, -0, 2 ** 60, 1e21, '', 'x'.repeat(101), '2.1.0', '2026-01-01T00:00:00Z'),
);

/** An evaluation context over the attributes the states use, plus noise. */
export const arbContext: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.dictionary(fc.constantFrom('targeting_key', 'country', 'age', 'version', 'tags', 'created', 'flag', '__proto__', 'constructor'), anyValue, { maxKeys: 6 }),
    fc.option(fc.dictionary(fc.constantFrom('id', 'name'), anyValue), { nil: undefined }),
  )
  .map(([ctx, user]) => (user === undefined ? ctx : { ...ctx, user }));
