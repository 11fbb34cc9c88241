/**
 * The reference evaluator against core, on generated targeting and contexts built from the
 * values where the two most easily part: text that looks like a number, numbers that print in
 * exponent notation, -0, epoch numbers either side of 1e12, version-like text, lists, nulls,
 * units of 90–110 bytes of UTF-8, sticky records, unrecognized criteria and full rollouts.
 * Every outcome field the simulation compares must agree, for every context: nothing is
 * excluded (core's two deviations from Confidence are the reference's semantics too).
 */
import { fc, test } from '@fast-check/vitest';
import { loadState, resolveFlag, type MaterializationAccess, type MaterializationRecord, type ResolvedFlag } from '@allot/core';
import { describe, expect } from 'vitest';

import { ReferenceModel, referenceResolve, type ReferenceFlag, type ReferenceOutcome, type StickyView } from './reference.js';
import { testAttribute, type Test } from './targeting.js';

type Obj = Record<string, unknown>;

const REASONS = ['RESOLVE_REASON_MATCH', 'RESOLVE_REASON_NO_SEGMENT_MATCH', 'RESOLVE_REASON_TARGETING_KEY_ERROR'] as const;
const SECRET = 'secret';
const MAT = 'materializations/m';
const ATTRIBUTES = ['a', 'b', 'user.c'] as const;

const NUMBERS = [0, -0, 1, -3, 18, 18.5, 0.1, 1e21, 1.5e22, 1e-7, 123e-20, 2 ** 53 + 2, 1e9, 999_999_999_999, 1e12, 1e12 + 1, 1_700_000_000_123, -1e12, 8.3e12, 9e15, Infinity, -Infinity];
const TEXTS = [
  '18', '18.0', '+18', '-0', '0', ' 18', '18 ', '1e3', '1E-7', '.5', '5.', '0x12', '1_000', 'inf', '-Infinity', 'NaN', 'nan', 'abc', '',
  'true', 'TRUE', 'True', 'false', 'null', 'v5', '5', '1.2', '1.2.3', '1.2.3-beta', '1.2.3456', '1.2.3.4', '2027-07-11', '0.0.0', '10.0',
  '1000000000000000000000', '0.0000001', 'SE', 'se', 'Sweden', 'ü', '日本', '😀', '\uE000',
  '2001-09-09T01:46:40Z', '2001-09-09 01:46:40', '2001-09-09', '2026-01-01T00:00:00.123456789Z', '2026-01-01T01:00:00.5+01:00', '2026-13-01', '2026-01-01T00:00:00',
];
const TIMESTAMPS = ['2001-09-09T01:46:40Z', '2001-09-09T01:46:39.999Z', '1973-03-03T09:46:40Z', '2026-01-01T00:00:00.000000001Z', '3000-01-01T00:00:00Z', '2001-09-09T01:46:40.001Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.123456789Z', '1970-01-01T00:00:00Z', '1970-01-12T13:46:40Z'];
const VERSIONS = ['1.2', '1.2.3', '5.0', '2.0.0.1', '1.2.3456', '0.0.0', '10.0.1'];

const number = fc.oneof(fc.constantFrom(...NUMBERS), fc.double({ noNaN: true }), fc.integer({ min: -100, max: 100 }));
const text = fc.oneof(fc.constantFrom(...TEXTS), fc.string({ maxLength: 4 }), number.map(String));
/** Epoch numbers either side of the seconds/milliseconds threshold (1e12) and of 1e11. */
const epoch = fc.oneof(
  fc.constantFrom(1e11, 5e11, 999_999_999_999, 999_999_999_999.9, 1e12, 1e12 + 0.5, 1_000_000_000_001, 1_700_000_000_123, 1_767_225_600, -1e12 - 1, 8.3e12),
  fc.integer({ min: 0, max: 2_000_000_000_000 }),
);
const scalar = fc.oneof(
  { weight: 3, arbitrary: number },
  { weight: 2, arbitrary: epoch },
  { weight: 4, arbitrary: text },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constant({ x: 1 }) },
);
const attributeValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(fc.oneof(scalar, fc.constant([1])), { maxLength: 4 }) },
);
/** A unit of 90 to 110 bytes of UTF-8 in 1-, 2-, 3- or 4-byte characters. */
const longUnit = fc
  .tuple(fc.constantFrom('x', 'é', '日', '😀'), fc.integer({ min: 90, max: 110 }))
  .map(([c, bytes]) => c.repeat(Math.floor(bytes / Buffer.byteLength(c))) + 'x'.repeat(bytes % Buffer.byteLength(c)));
const unitValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('u1', 'u2', '', '18', 0, -0, 7, 1e21, 2 ** 60, 1e101, 1.5, true, null),
  longUnit,
  fc.constant([] as unknown[]),
);

const ruleValue: fc.Arbitrary<Obj> = fc.oneof(
  text.map((s) => ({ stringValue: s })),
  number.filter(Number.isFinite).map((n) => ({ numberValue: n })),
  fc.boolean().map((b) => ({ boolValue: b })),
  fc.constantFrom(...TIMESTAMPS).map((t) => ({ timestampValue: t })),
  fc.constantFrom(...VERSIONS).map((v) => ({ versionValue: { version: v } })),
  fc.constant({}),
);
/** Range bounds of one type. */
const bound = fc.constantFrom('number', 'string', 'timestamp', 'version').chain((kind): fc.Arbitrary<Obj> => {
  switch (kind) {
    case 'number':
      return number.filter(Number.isFinite).map((n) => ({ numberValue: n }));
    case 'string':
      return text.map((s) => ({ stringValue: s }));
    case 'timestamp':
      return fc.constantFrom(...TIMESTAMPS).map((t) => ({ timestampValue: t }));
    default:
      return fc.constantFrom(...VERSIONS).map((v) => ({ versionValue: { version: v } }));
  }
});
const range = fc
  .tuple(bound, bound, fc.constantFrom('startInclusive', 'startExclusive', null), fc.constantFrom('endInclusive', 'endExclusive', null))
  .chain(([lo, hi, s, e]) =>
    // Both bounds of one type: the second bound follows the first's kind.
    (Object.keys(lo)[0] === Object.keys(hi)[0] ? fc.constant(hi) : fc.constant(lo)).map((h) => {
      const r: Obj = {};
      if (s !== null) r[s] = lo;
      if (e !== null) r[e] = h;
      return { rangeRule: r };
    }),
  );
const scalarRule: fc.Arbitrary<Obj> = fc.oneof(
  ruleValue.map((value) => ({ eqRule: { value } })),
  fc.array(ruleValue, { minLength: 1, maxLength: 3 }).map((values) => ({ setRule: { values } })),
  range,
  fc.tuple(fc.constantFrom('startsWithRule', 'endsWithRule', 'containsRule'), fc.constantFrom('1', '18', 'S', 'e', '', '-', '日')).map(([op, value]) => ({ [op]: { value } })),
);
const attributeCriterion: fc.Arbitrary<Obj> = fc
  .tuple(
    fc.constantFrom(...ATTRIBUTES),
    fc.oneof(
      { weight: 5, arbitrary: scalarRule },
      { weight: 2, arbitrary: scalarRule.map((rule) => ({ anyRule: { rule } })) },
      { weight: 2, arbitrary: scalarRule.map((rule) => ({ allRule: { rule } })) },
      // Criteria Confidence does not evaluate: the rule reaching one is skipped.
      { weight: 1, arbitrary: fc.constantFrom<Obj>({}, { eqRule: {} }, { anyRule: { rule: {} } }) },
    ),
  )
  .map(([attributeName, rule]) => ({ attribute: { attributeName, ...rule } }));
const criterion: fc.Arbitrary<Obj> = fc.oneof(
  { weight: 6, arbitrary: attributeCriterion },
  { weight: 1, arbitrary: fc.constant({ materializedSegment: { materializedSegment: MAT } }) },
);

const expression = (n: number): fc.Arbitrary<Obj> =>
  fc.letrec<{ e: Obj }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.integer({ min: 0, max: n - 1 }).map((i) => ({ ref: `c${i}` })),
      tie('e').map((e) => ({ not: e })),
      fc.tuple(fc.constantFrom('and', 'or'), fc.array(tie('e'), { maxLength: 3 })).map(([op, operands]) => ({ [op]: { operands } })),
    ),
  })).e;

const targeting = (extra: readonly Obj[]): fc.Arbitrary<Obj> =>
  fc.array(criterion, { minLength: 1, maxLength: 4 }).chain((list) => {
    const all = [...list, ...extra];
    return expression(all.length).map((e) => ({ criteria: Object.fromEntries(all.map((c, i) => [`c${i}`, c])), expression: e }));
  });

const assignment = (id: string, lower: number, upper: number, kind: string): Obj => ({
  assignmentId: id,
  ...(kind === 'on' || kind === 'off' ? { variant: { variant: `flags/f/variants/${kind}` } } : kind === 'default' ? { clientDefault: {} } : { fallthrough: {} }),
  bucketRanges: [{ lower, upper }],
});
const kind = fc.constantFrom('on', 'off', 'default', 'fallthrough');
const assignments = fc.oneof(
  // Confidence's full rollout: one assignment, one range over every bucket.
  kind.map((k) => [assignment('full', 0, 10, k)]),
  // Every bucket covered, but by two ranges or two assignments: hashed.
  fc.tuple(kind, kind, fc.integer({ min: 0, max: 10 })).map(([k1, k2, cut]) => [assignment('x', 0, cut, k1), assignment('y', cut, 10, k2)]),
  fc.tuple(kind, fc.integer({ min: 1, max: 10 })).map(([k, cut]) => [{ ...assignment('z', 0, cut, k), bucketRanges: [{ upper: cut }, { lower: cut, upper: 10 }] }]),
  // The same variant twice: a stored variant is placed by the unit's bucket.
  fc.integer({ min: 0, max: 10 }).map((cut) => [assignment('p', 0, cut, 'on'), assignment('q', cut, 10, 'on')]),
);
const rule = fc.record({
  segment: fc.constantFrom('segments/s0', 'segments/s1', 'segments/missing'),
  enabled: fc.boolean(),
  selector: fc.constantFrom('', 'targeting_key', 'uid', 'user.id'),
  assignments,
  sticky: fc.option(fc.record({ read: fc.boolean(), write: fc.boolean(), mustMatch: fc.boolean(), ignore: fc.boolean() }), { freq: 2 }),
});

interface Case {
  readonly state: Obj;
  readonly contexts: Record<string, unknown>[];
  /** Sticky records per materialization and unit: rule index → variant. */
  readonly stored: readonly { unit: string; rules: Record<number, string> }[];
}

const context: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    targeting_key: fc.option(unitValue, { nil: undefined, freq: 6 }),
    uid: fc.option(unitValue, { nil: undefined }),
    user: fc.option(fc.record({ id: fc.option(unitValue, { nil: undefined }), c: fc.option(attributeValue, { nil: undefined }) }, { requiredKeys: [] }), { nil: undefined }),
    a: fc.option(attributeValue, { nil: undefined }),
    b: fc.option(attributeValue, { nil: undefined }),
  }, { requiredKeys: [] })
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    s0: fc.option(targeting([]), { nil: null, freq: 5 }),
    s1: fc.option(targeting([{ segment: { segment: 'segments/s0' } }]), { nil: null, freq: 5 }),
    rules: fc.array(rule, { minLength: 1, maxLength: 3 }),
    contexts: fc.array(context, { minLength: 1, maxLength: 12 }),
    stored: fc.array(fc.record({ unit: fc.constantFrom('u1', 'u2', '18', '7', '-0', '1000000000000000000000'), rules: fc.dictionary(fc.constantFrom('0', '1', '2'), fc.constantFrom('flags/f/variants/on', 'flags/f/variants/off', '', 'flags/f/variants/gone')) }), { maxLength: 3 }),
  })
  .map(({ s0, s1, rules, contexts, stored }) => {
    const segment = (name: string, t: Obj | null): Obj => ({ name, state: 'OK', ...(t === null ? {} : { targeting: t }) });
    const state: Obj = {
      account: { name: 'accounts/simtrust' },
      flags: {
        'flags/f': {
          name: 'flags/f',
          state: 'ACTIVE',
          clients: ['clients/app'],
          variants: [{ name: 'flags/f/variants/on', value: { on: true } }, { name: 'flags/f/variants/off', value: { on: false } }],
          rules: rules.map((r, i) => ({
            name: `flags/f/rules/r${i}`,
            segment: r.segment,
            enabled: r.enabled,
            targetingKeySelector: r.selector,
            assignmentSpec: { bucketCount: 10, assignments: r.assignments },
            ...(r.sticky === null || (!r.sticky.read && !r.sticky.write)
              ? {}
              : {
                  materializationSpec: {
                    ...(r.sticky.read ? { readMaterialization: MAT } : {}),
                    ...(r.sticky.write ? { writeMaterialization: MAT } : {}),
                    ...(r.sticky.read ? { mode: { materializationMustMatch: r.sticky.mustMatch, segmentTargetingCanBeIgnored: r.sticky.ignore } } : {}),
                  },
                }),
          })),
        },
      },
      segments: { 'segments/s0': segment('segments/s0', s0), 'segments/s1': segment('segments/s1', s1) },
      bitsets: { 'segments/s0': 'ALL', 'segments/s1': 'ALL' },
      bloomFilters: {},
      clients: { [SECRET]: { client: { name: 'clients/app' }, clientCredential: { name: 'clients/app/credentials/k', clientSecret: { secret: SECRET }, environments: ['production'] } } },
    };
    return { state, contexts, stored };
  });

/** The sticky records of a case, as core reads them and as the reference does. */
function stores(c: Case): { access: MaterializationAccess; view: StickyView } {
  const records = new Map<string, MaterializationRecord>();
  for (const s of c.stored) {
    const ruleToVariant: Record<string, string> = {};
    for (const [i, v] of Object.entries(s.rules)) ruleToVariant[`flags/f/rules/r${i}`] = v;
    records.set(s.unit, { isUnitInMaterialization: true, ruleToVariant });
  }
  const find = (unit: string, m: string): MaterializationRecord | null => (m === MAT ? (records.get(unit) ?? null) : null);
  return { access: { read: find }, view: { get: (unit, m) => find(unit, m)?.ruleToVariant ?? null } };
}

function describeCore(r: ResolvedFlag): string {
  return `${r.reason} rule=${r.rule || '-'} variant=${r.variant || '-'} assignment=${r.assignmentKind === 'sticky' ? 'sticky' : r.assignmentId || '-'} fallthroughs=${r.fallthroughs.length}`;
}

function describeReference(o: ReferenceOutcome, f: ReferenceFlag): string {
  const rule = o.rule >= 0 ? f.rules[o.rule]! : null;
  const id = o.sticky ? 'sticky' : rule !== null && o.assignment >= 0 ? rule.assignments[o.assignment]!.id : '';
  return `${REASONS[o.outcome]!} rule=${rule?.name ?? '-'} variant=${o.variant || '-'} assignment=${id || '-'} fallthroughs=${o.fallthroughs}`;
}

describe('the reference evaluator agrees with core', () => {
  test.prop([arbCase], { numRuns: 2000 })('on every outcome, for generated targeting, units, contexts and sticky records', (c) => {
    const core = loadState(c.state);
    const client = core.client(SECRET)!;
    const model = new ReferenceModel(c.state);
    const flag = model.flagsFor(SECRET)[0]!;
    const { access, view } = stores(c);
    const out: ReferenceOutcome = { outcome: 0, rule: -1, assignment: -1, variant: '', sticky: false, fallthroughs: 0 };
    const trace = new Int32Array(flag.rules.length);
    for (const ctx of c.contexts) {
      referenceResolve(model, flag, ['production'], ctx, view, out, trace, null);
      const r = resolveFlag(core, client, core.flag('flags/f')!, ctx, access);
      expect(describeReference(out, flag), JSON.stringify(ctx)).toBe(describeCore(r));
    }
  });

  test('a segment asked on its own (a claim) leaves no unrecognized mark to skip the next rule walk', () => {
    const state: Obj = {
      account: { name: 'accounts/simtrust' },
      segments: {
        'segments/odd': { name: 'segments/odd', state: 'OK', targeting: { criteria: { u: { attribute: { attributeName: 'x' } } }, expression: { not: { ref: 'u' } } } },
        'segments/everyone': { name: 'segments/everyone', state: 'OK' },
      },
      bitsets: { 'segments/odd': 'ALL', 'segments/everyone': 'ALL' },
      flags: {
        'flags/f': {
          name: 'flags/f',
          state: 'ACTIVE',
          clients: ['clients/app'],
          variants: [{ name: 'flags/f/variants/on', value: { on: true } }],
          rules: [{ name: 'flags/f/rules/r0', segment: 'segments/everyone', enabled: true, targetingKeySelector: '', assignmentSpec: { bucketCount: 10, assignments: [{ assignmentId: 'all', variant: { variant: 'flags/f/variants/on' }, bucketRanges: [{ lower: 0, upper: 10 }] }] } }],
        },
      },
      clients: { [SECRET]: { client: { name: 'clients/app' }, clientCredential: { name: 'clients/app/credentials/k', clientSecret: { secret: SECRET }, environments: ['production'] } } },
    };
    const model = new ReferenceModel(state);
    const flag = model.flagsFor(SECRET)[0]!;
    const view = { get: () => null };
    const out: ReferenceOutcome = { outcome: 0, rule: -1, assignment: -1, variant: '', sticky: false, fallthroughs: 0 };
    const trace = new Int32Array(flag.rules.length);
    expect(model.memberOf(model.segments.get('segments/odd')!, { targeting_key: 'u' }, 'u', view)).toBe(true);
    referenceResolve(model, flag, ['production'], { targeting_key: 'u' }, view, out, trace, null);
    expect(REASONS[out.outcome]).toBe('RESOLVE_REASON_MATCH');
  });

  // A direct check of the value reading on a few cases named in DESIGN.md, so that a
  // regression reads as a sentence rather than as a shrunk counterexample.
  const gte18: Test = { op: 'range', type: 'number', lo: { kind: 'number', n: 18 }, loInclusive: true, hi: null, hiInclusive: false, acceptsNull: false };
  const eqText18: Test = { op: 'eq', type: 'string', value: { kind: 'string', s: '1000000000000000000000' }, acceptsNull: false };
  test.each([
    ['"18" meets >= 18', gte18, '18', true],
    ['"abc" does not meet >= 18', gte18, 'abc', false],
    ['["5", "20"] meets >= 18 (some element)', gte18, ['5', '20'], true],
    ['1e21 is written in full decimal', eqText18, 1e21, true],
  ] as const)('%s', (_name, t, v, expected) => {
    expect(testAttribute({ list: 'scalar', test: t }, v)).toBe(expected);
  });
});
