/**
 * fast-check arbitraries for differential tests against Confidence's resolver: proto-JSON
 * `ResolverState`s (gzipped, full and absent bitsets, bloom filters, segment references and
 * cycles, every criterion kind over every value type, environments, fallthroughs, client
 * defaults, sticky reads and writes), evaluation contexts with awkward units and values, and
 * sticky records.
 */
import { gzipSync } from 'node:zlib';

import fc from 'fast-check';

import { guavaFilter } from './guava-bloom.js';
import type { Json } from './states.js';

export const ACCOUNT = 'diff-account';
export const SECRETS = ['secret-prod', 'secret-dev', 'secret-none'] as const;
export const ATTRIBUTES = ['country', 'age', 'version', 'created', 'tags', 'user.id', 'flag'] as const;
export const MATERIALIZATIONS = ['materializations/sticky', 'materializations/audience'] as const;
const BLOOM = 'materializations/bloom';
const SEGMENTS = ['s0', 's1', 's2', 's3', 's4'] as const;

// ---- values the rules and the contexts share, so that criteria match often enough ----------

const TEXTS = ['SE', 'NO', 'se', 'S', '', 'null', 'true', 'TRUE', 'false', 'yes', '18', '18.0', '+18', '1e3', ' 18', '0x12', 'abc', 'inf', 'NaN', '-0', '1000000000000000000000', '日本', '😀', '\uffff', '\ue000', 'a.b'];
const NUMBERS = [0, -0, 1, 17, 18, 18.5, 100, -1, 0.1, 1e-7, 1e21, -1e21, 1e11, 5e11, 999_999_999_999, 1e12, 1_000_000_000, 1_700_000_000, 1_700_000_000.9, -1_700_000_000.9, 1_700_000_000_123, 8.21e15, 8.7e15];
const TIMESTAMPS = ['2023-11-14T22:13:20Z', '2023-11-14T22:13:20.123Z', '2023-11-14T23:13:20+01:00', '2023-11-14', '2023-11-14 22:13:20', '2023-11-14T22:13:20.123456789Z', '2023-1-5', '1970-01-01T00:00:00Z', '2001-09-09T01:46:40Z', '2023-01-05T10:00:00+0100', '2023-02-30', '+2023-11-14', '2023-11-14T22:13'];
const VERSIONS = ['1.2.3', '1.2', '1.2.3.4', '1.2.3-beta', '1.0.1000', '2.0.0', '01.2.3', 'v5', '2027-07-11', '1.2.3+b', '5', '0.0.0', '1..2', '99999999999.0.0'];

const text = fc.oneof(fc.constantFrom(...TEXTS, ...TIMESTAMPS, ...VERSIONS), fc.string({ maxLength: 6 }));
const number = fc.oneof(fc.constantFrom(...NUMBERS), fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
const scalar: fc.Arbitrary<Json> = fc.oneof(text, number, fc.boolean(), fc.constant(null), fc.constant({ k: 'SE' }));

/** A context value: scalars, lists (empty, with nulls, nested) and objects. */
export const attributeValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.array(scalar, { maxLength: 2 }), { maxLength: 2 }) },
);

/** Units: ASCII, long (90–110 bytes), multi-byte, numbers (-0, 1e21, fractions), and bad ones. */
export const unitValue: fc.Arbitrary<Json | undefined> = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.integer({ min: 90, max: 110 }).chain((n) => fc.constantFrom('x'.repeat(n), `${'é'.repeat(Math.floor(n / 2))}${n % 2 === 1 ? 'a' : ''}`, `${'日'.repeat(Math.floor(n / 3))}${'a'.repeat(n % 3)}`)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom<Json>(-0, 0, 42, 1e21, -1e21, 2 ** 53 + 2, 1.5, -7, 1e100) },
  { weight: 1, arbitrary: fc.constantFrom<Json | undefined>(true, null, undefined, { id: 1 }, ['u']) },
);

/** An evaluation context over the attributes the states read. */
export const context: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      targeting_key: unitValue,
      country: attributeValue,
      age: attributeValue,
      version: attributeValue,
      created: attributeValue,
      tags: attributeValue,
      flag: attributeValue,
      user: fc.oneof(fc.record({ id: unitValue }, { requiredKeys: [] }), fc.constant(null), fc.constant('flat')),
    },
    { requiredKeys: [] },
  )
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));

// ---- criteria ----------------------------------------------------------------------------

const ruleValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TEXTS).map((s) => ({ stringValue: s })) },
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS.filter((n) => Math.abs(n) < 1e21)).map((n) => ({ numberValue: n })) },
  { weight: 1, arbitrary: fc.boolean().map((b) => ({ boolValue: b })) },
  { weight: 2, arbitrary: fc.constantFrom('2023-11-14T22:13:20Z', '2023-11-14T22:13:20.123Z', '2023-11-14T00:00:00Z', '2001-09-09T01:46:40Z', '1970-01-01T00:00:00Z').map((t) => ({ timestampValue: t })) },
  { weight: 2, arbitrary: fc.constantFrom('1.2.3', '1.2', '1.2.3.4', '2.0.0', '1.0.1000', '0.0.0').map((v) => ({ versionValue: { version: v } })) },
  { weight: 1, arbitrary: fc.constant({}) },
);

/** A range's bounds: one type, start and/or end, inclusive or exclusive (or none at all). */
const rangeRule: fc.Arbitrary<Json> = fc
  .tuple(
    fc.constantFrom<'numberValue' | 'stringValue' | 'timestampValue' | 'versionValue'>('numberValue', 'stringValue', 'timestampValue', 'versionValue'),
    fc.constantFrom('startInclusive', 'startExclusive', null),
    fc.constantFrom('endInclusive', 'endExclusive', null),
    fc.nat(),
    fc.nat(),
  )
  .map(([kind, start, end, a, b]) => {
    const pools: Record<typeof kind, readonly Json[]> = {
      numberValue: [0, 18, 100, -1, 1e12, 1_700_000_000, 0.5],
      stringValue: ['M', 'SE', '18', 'null', '\uffff', ''],
      timestampValue: ['1970-01-01T00:00:00Z', '1973-03-03T09:46:40Z', '2001-09-09T01:46:40Z', '2023-11-14T22:13:20Z', '2030-01-01T00:00:00Z', '5000-01-01T00:00:00Z'],
      versionValue: ['0.0.0', '1.2.3', '1.2', '2.0.0'],
    };
    const pool = pools[kind];
    const lo = pool[a % pool.length]!;
    const hi = pool[b % pool.length]!;
    const value = (v: Json): Json => (kind === 'versionValue' ? { versionValue: { version: v } } : { [kind]: v });
    const out: Record<string, Json> = {};
    if (start !== null) out[start] = value(lo);
    if (end !== null) out[end] = value(hi);
    return out;
  });

const elementRule: fc.Arbitrary<Json> = fc.oneof(
  ruleValue.map((value) => ({ eqRule: { value } })),
  fc.array(ruleValue, { maxLength: 3 }).map((values) => ({ setRule: { values } })),
  rangeRule.map((r) => ({ rangeRule: r })),
  fc.constantFrom('S', 'se', '1', '', 'n', '日').map((value) => ({ startsWithRule: { value } })),
  fc.constantFrom('E', '8', '', 'l', '0').map((value) => ({ endsWithRule: { value } })),
  fc.constantFrom('E', '.', '2', 'ul', '').map((value) => ({ containsRule: { value } })),
);

const attributeCriterion: fc.Arbitrary<Json> = fc
  .tuple(
    fc.constantFrom(...ATTRIBUTES),
    fc.oneof(
      { weight: 6, arbitrary: elementRule },
      { weight: 2, arbitrary: elementRule.map((rule) => ({ anyRule: { rule } })) },
      { weight: 2, arbitrary: elementRule.map((rule) => ({ allRule: { rule } })) },
      { weight: 1, arbitrary: fc.constant({}) }, // no rule: Confidence skips the flag rule
    ),
  )
  .map(([attributeName, rule]) => ({ attribute: { attributeName, ...(rule as Record<string, Json>) } }));

const criterion: fc.Arbitrary<Json> = fc.oneof(
  { weight: 8, arbitrary: attributeCriterion },
  { weight: 2, arbitrary: fc.constantFrom(...SEGMENTS, 'ghost').map((s) => ({ segment: { segment: `segments/${s}` } })) },
  { weight: 1, arbitrary: fc.constantFrom(...MATERIALIZATIONS, BLOOM).map((m) => ({ materializedSegment: { materializedSegment: m } })) },
);

const expression: fc.Arbitrary<Json> = fc.letrec<{ e: Json }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom({ ref: 'c0' }, { ref: 'c1' }, { ref: 'c2' }),
    tie('e').map((e) => ({ not: e })),
    fc.array(tie('e'), { maxLength: 3 }).map((operands) => ({ and: { operands } })),
    fc.array(tie('e'), { maxLength: 3 }).map((operands) => ({ or: { operands } })),
  ),
})).e;

/** Bitset shapes: every bucket, absent, gzipped patterns (partial, all set, short). */
const bitset: fc.Arbitrary<Json | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ fullBitset: true }) },
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 255 })).map(([stride, byte]) => {
    const bytes = new Uint8Array(125_000);
    for (let i = 0; i < bytes.length; i += stride) bytes[i] = byte;
    return { gzippedBitset: gzipSync(bytes).toString('base64') };
  }) },
  { weight: 1, arbitrary: fc.constant({ gzippedBitset: gzipSync(new Uint8Array(125_000).fill(0xff)).toString('base64') }) },
  { weight: 1, arbitrary: fc.constant({ gzippedBitset: gzipSync(new Uint8Array(3).fill(0xff)).toString('base64') }) },
);

const segment: fc.Arbitrary<{ targeting: Json | undefined; bitset: Json | undefined }> = fc.record({
  targeting: fc.option(
    fc.tuple(criterion, criterion, criterion, fc.oneof(fc.constant<Json | undefined>({ ref: 'c0' }), fc.constant<Json | undefined>({ or: { operands: [{ ref: 'c0' }, { ref: 'c1' }] } }), fc.constant<Json | undefined>(undefined), expression)).map(([c0, c1, c2, e]) => ({
      criteria: { c0, c1, c2 },
      ...(e === undefined ? {} : { expression: e }),
    })),
    { nil: undefined, freq: 4 },
  ),
  bitset,
});

// ---- flags ---------------------------------------------------------------------------------

type Serve = 'on' | 'off' | 'cd' | 'ft';
const serve = (flag: string, s: Serve): Json =>
  s === 'cd' ? { clientDefault: {} } : s === 'ft' ? { fallthrough: {} } : { variant: { variant: `flags/${flag}/variants/${s}` } };

const assignmentSpec = (flag: string): fc.Arbitrary<Json> =>
  fc.oneof(
    // A full rollout: one assignment, one range over every bucket.
    fc.tuple(fc.constantFrom(1, 2, 10, 1000), fc.constantFrom<Serve>('on', 'off', 'cd', 'ft')).map(([bucketCount, s]) => ({
      bucketCount,
      assignments: [{ assignmentId: `full-${s}`, ...(serve(flag, s) as object), bucketRanges: [{ upper: bucketCount }] }],
    })),
    // A split over up to four assignments (the same variant may appear twice), with gaps.
    fc
      .tuple(fc.constantFrom(2, 10, 1000), fc.array(fc.tuple(fc.constantFrom<Serve>('on', 'off', 'cd', 'ft'), fc.nat(100)), { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([bucketCount, parts, gap]) => {
        let lower = 0;
        return {
          bucketCount,
          assignments: parts.map(([s, share], i) => {
            const upper = i === parts.length - 1 && !gap ? bucketCount : Math.min(bucketCount, lower + Math.ceil((share / 100) * bucketCount));
            const range = { lower, upper };
            lower = upper;
            return { assignmentId: `a${i}-${s}`, ...(serve(flag, s) as object), bucketRanges: [range] };
          }),
        };
      }),
  );

const materializationSpec: fc.Arbitrary<Json | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...MATERIALIZATIONS, ''), fc.constantFrom(...MATERIALIZATIONS, ''), fc.boolean(), fc.boolean())
      .map(([read, write, mustMatch, ignore]) => ({
        ...(read === '' ? {} : { readMaterialization: read }),
        ...(write === '' ? {} : { writeMaterialization: write }),
        ...(read === '' ? {} : { mode: { materializationMustMatch: mustMatch, segmentTargetingCanBeIgnored: ignore } }),
      })),
  },
);

const rule = (flag: string, index: number): fc.Arbitrary<Json> =>
  fc
    .record({
      segment: fc.constantFrom(...SEGMENTS, 'missing'),
      enabled: fc.constantFrom(true, true, true, false),
      environments: fc.constantFrom<string[]>([], [], ['prod'], ['dev'], ['prod', 'dev']),
      selector: fc.constantFrom('', '', 'targeting_key', 'user.id', 'age'),
      spec: assignmentSpec(flag),
      mat: materializationSpec,
    })
    .map(({ segment: seg, enabled, environments, selector, spec, mat }) => ({
      name: `flags/${flag}/rules/r${index}`,
      segment: `segments/${seg}`,
      enabled,
      ...(environments.length > 0 ? { environments } : {}),
      ...(selector === '' ? {} : { targetingKeySelector: selector }),
      assignmentSpec: spec,
      ...(mat === undefined ? {} : { materializationSpec: mat }),
      labels: { owner: 'differential' }, // a field allot does not use: ignored
    }));

const flag = (id: string): fc.Arbitrary<Json> =>
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('ACTIVE', 'ACTIVE', 'ACTIVE', 'ARCHIVED'))
    .chain(([n, state]) =>
      fc.tuple(...Array.from({ length: n }, (_, i) => rule(id, i))).map((rules) => ({
        name: `flags/${id}`,
        state,
        clients: ['clients/app'],
        variants: [
          { name: `flags/${id}/variants/on`, value: { enabled: true, n: 1 } },
          { name: `flags/${id}/variants/off`, value: { enabled: false, label: 'off' } },
        ],
        rules,
        createTime: '2026-01-01T00:00:00Z', // unused by allot: ignored
      })),
    );

/** Units in the bloom filter: some the contexts use. */
const BLOOM_UNITS = ['', 'a', 'b', 'x', '0', '42', '-0', 'user-1'];

/** A proto-JSON ResolverState, as Confidence serves it. */
export const protoState: fc.Arbitrary<Record<string, Json>> = fc
  .tuple(fc.tuple(...SEGMENTS.map(() => segment)), fc.tuple(flag('f0'), flag('f1'), flag('f2')))
  .map(([segs, flags]) => ({
    flags,
    segmentsNoBitsets: SEGMENTS.map((id, i) => ({
      name: `segments/${id}`,
      ...(segs[i]!.targeting === undefined ? {} : { targeting: segs[i]!.targeting }),
      state: 'ALLOCATED',
      allocation: { proportion: { value: '0.5' }, exclusivityTags: ['x'] },
    })),
    bitsets: SEGMENTS.flatMap((id, i) => (segs[i]!.bitset === undefined ? [] : [{ segment: `segments/${id}`, ...(segs[i]!.bitset as object) }])),
    clients: [{ name: 'clients/app', displayName: 'App' }, { name: 'clients/other' }],
    clientCredentials: [
      { name: 'clients/app/clientCredentials/prod', clientSecret: { secret: SECRETS[0] }, environments: ['prod'] },
      { name: 'clients/app/clientCredentials/dev', clientSecret: { secret: SECRETS[1] }, environments: ['dev'] },
      { name: 'clients/app/clientCredentials/none', clientSecret: { secret: SECRETS[2] } },
      { name: 'clients/gone/clientCredentials/x', clientSecret: { secret: 'orphan' } },
    ],
    bloomFilters: [
      {
        materializedSegment: BLOOM,
        data: Buffer.from(guavaFilter(BLOOM_UNITS, 256, 3)).toString('base64'),
        hashFunctionCount: 3,
        bitCount: '256',
        strategy: 1,
      },
    ],
    region: 'REGION_EU',
    futureField: { anything: [1, 2, 3] },
  }));
