/**
 * fast-check arbitraries: states with coordination tags (allocated by the plain sketch
 * allocator, so conflicting segments are disjoint), and evaluation contexts.
 */
import fc from 'fast-check';

import { claimsOfSketch, stateFromSketch, type StateSketch } from './sketch.js';

const TAGS = ['ranking', 'search', 'mixer', 'checkout'] as const;

export interface ArbitraryState {
  readonly sketch: StateSketch;
  /** Resolver-state JSON (Confidence conformance shape) for `loadState`. */
  readonly state: Record<string, unknown>;
  readonly claims: ReturnType<typeof claimsOfSketch>;
}

/** Sketches of 1–4 segments (≤ 20% each, random coordination tags) and 1–3 flags of 1–3 rules. */
export function arbStateSketch(): fc.Arbitrary<StateSketch> {
  const tags = fc.subarray([...TAGS], { maxLength: 2 });
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 1_000_000 }),
      segments: fc.array(fc.record({ proportion: fc.integer({ min: 1, max: 200 }).map((p) => p / 1000), exclusivityTags: tags, exclusiveTo: tags }), { minLength: 1, maxLength: 4 }),
      flags: fc.array(fc.array(fc.record({ segment: fc.nat(), control: fc.integer({ min: 0, max: 1000 }), enabled: fc.boolean() }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    })
    .map(({ seed, segments, flags }) => ({
      seed,
      segments: segments.map((s, i) => ({ name: `segments/s${i}`, proportion: s.proportion, coordination: { exclusivityTags: s.exclusivityTags, exclusiveTo: s.exclusiveTo } })),
      flags: flags.map((rules, f) => ({
        name: `flags/f${f}`,
        variants: ['control', 'treatment'],
        rules: rules.map((r, i) => ({
          name: `flags/f${f}/rules/r${i}`,
          segment: `segments/s${r.segment % segments.length}`,
          enabled: r.enabled,
          split: { control: r.control / 1000, treatment: 1 - r.control / 1000 },
        })),
      })),
    }));
}

/** A compiled state with its claims (coordination, proportions, splits). */
export function arbState(): fc.Arbitrary<ArbitraryState> {
  return arbStateSketch().map((sketch) => ({ sketch, state: stateFromSketch(sketch), claims: claimsOfSketch(sketch) }));
}

/** Evaluation contexts: a targeting key (sometimes missing or of a wrong type) and a few attributes. */
export function arbContext(): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      targeting_key: fc.oneof({ weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) }, { weight: 1, arbitrary: fc.integer() }, { weight: 1, arbitrary: fc.constantFrom(null, true, 1.5) }),
      country: fc.constantFrom('SE', 'US', 'GB', 'BR'),
      app: fc.record({ version: fc.tuple(fc.nat(5), fc.nat(20), fc.nat(30)).map(([a, b, c]) => `${a}.${b}.${c}`) }),
    },
    { requiredKeys: ['country'] },
  );
}
