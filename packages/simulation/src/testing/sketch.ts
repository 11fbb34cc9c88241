/**
 * State sketches: a small description of segments (proportion, coordination tags, audience)
 * and flags (rules with split shares), turned into a Confidence resolver-state JSON that core
 * loads. Allocation follows DESIGN.md's rule, done plainly: a segment's buckets are drawn at
 * random (seeded) from those no conflicting, already allocated segment holds. This is what
 * the fast-check arbitraries generate; real configurations come from @allot/admin.
 */
import { conflicts } from '../plan/plan.js';
import { seed32, word } from '../population/random.js';
import { SEGMENT_BUCKETS } from '../reference/reference.js';
import type { Coordination, ExclusionGroupSpec } from '../types.js';

export interface SegmentSketch {
  readonly name: string;
  readonly proportion: number;
  readonly coordination?: Coordination;
  /** Confidence targeting ({criteria, expression}); absent: everyone. */
  readonly targeting?: unknown;
}

export interface RuleSketch {
  readonly name: string;
  readonly segment: string;
  /** Variant → share of the rule's buckets, in order; shares summing below 1 leave buckets uncovered. */
  readonly split: Readonly<Record<string, number>>;
  readonly bucketCount?: number;
  readonly enabled?: boolean;
  readonly targetingKeySelector?: string;
  readonly materializationSpec?: unknown;
}

export interface FlagSketch {
  readonly name: string;
  readonly variants: readonly string[];
  readonly rules: readonly RuleSketch[];
}

export interface StateSketch {
  readonly account?: string;
  readonly seed?: number;
  readonly segments: readonly SegmentSketch[];
  readonly flags: readonly FlagSketch[];
  readonly groups?: readonly ExclusionGroupSpec[];
}

export const SKETCH_SECRET = 'sim-secret';
export const SKETCH_CLIENT = 'clients/sim';

/** Bucket lists per segment, conflicting segments disjoint, in the order given. */
export function allocateSketch(segments: readonly SegmentSketch[], seed: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const taken = new Map<string, Uint8Array>();
  const key = seed32(seed);
  segments.forEach((s, k) => {
    const blocked = new Uint8Array(SEGMENT_BUCKETS);
    for (const other of segments.slice(0, k)) {
      if (!conflicts(s.coordination, other.coordination)) continue;
      const bits = taken.get(other.name)!;
      for (let i = 0; i < SEGMENT_BUCKETS; i++) blocked[i]! |= bits[i]!;
    }
    const free: number[] = [];
    for (let i = 0; i < SEGMENT_BUCKETS; i++) if (blocked[i] === 0) free.push(i);
    const need = Math.round(s.proportion * SEGMENT_BUCKETS);
    if (need > free.length) throw new Error(`${s.name}: needs ${need} buckets, ${free.length} free of conflicting segments`);
    // Partial Fisher-Yates with a counter-based source: the first `need` of a random permutation.
    for (let i = 0; i < need; i++) {
      const j = i + Math.floor((word(key ^ k, i) / 4294967296) * (free.length - i));
      const t = free[i]!;
      free[i] = free[j]!;
      free[j] = t;
    }
    const chosen = free.slice(0, need).sort((a, b) => a - b);
    const bits = new Uint8Array(SEGMENT_BUCKETS);
    for (const b of chosen) bits[b] = 1;
    taken.set(s.name, bits);
    out.set(s.name, chosen);
  });
  return out;
}

function ranges(split: Readonly<Record<string, number>>, bucketCount: number): { variant: string; lower: number; upper: number }[] {
  let at = 0;
  return Object.entries(split).map(([variant, share]) => {
    const lower = at;
    at = Math.min(bucketCount, at + Math.round(share * bucketCount));
    return { variant, lower, upper: at };
  });
}

/** The resolver-state JSON (conformance map shape) of a sketch. */
export function stateFromSketch(sketch: StateSketch): Record<string, unknown> {
  const allocation = allocateSketch(sketch.segments, sketch.seed ?? 1);
  const segments: Record<string, unknown> = {};
  const bitsets: Record<string, unknown> = {};
  for (const s of sketch.segments) {
    segments[s.name] = { name: s.name, state: 'ALLOCATED', ...(s.targeting === undefined ? {} : { targeting: s.targeting }) };
    bitsets[s.name] = s.proportion >= 1 ? 'ALL' : allocation.get(s.name)!;
  }
  const flags: Record<string, unknown> = {};
  for (const f of sketch.flags) {
    flags[f.name] = {
      name: f.name,
      state: 'ACTIVE',
      clients: [SKETCH_CLIENT],
      variants: f.variants.map((v) => ({ name: v, value: { variant: v } })),
      rules: f.rules.map((r) => {
        const bucketCount = r.bucketCount ?? 1000;
        return {
          name: r.name,
          segment: r.segment,
          enabled: r.enabled ?? true,
          targetingKeySelector: r.targetingKeySelector ?? 'targeting_key',
          assignmentSpec: {
            bucketCount,
            assignments: ranges(r.split, bucketCount).map((a) => ({ assignmentId: `${r.name}/${a.variant}`, variant: { variant: a.variant }, bucketRanges: [{ lower: a.lower, upper: a.upper }] })),
          },
          ...(r.materializationSpec === undefined ? {} : { materializationSpec: r.materializationSpec }),
        };
      }),
    };
  }
  return {
    account: { name: `accounts/${sketch.account ?? 'simulation'}` },
    clients: { [SKETCH_SECRET]: { client: { name: SKETCH_CLIENT }, clientCredential: { name: `${SKETCH_CLIENT}/credentials/sim`, clientSecret: { secret: SKETCH_SECRET }, environments: ['production'] } } },
    segments,
    bitsets,
    flags,
  };
}

/** What a sketch claims: coordination, proportions and splits, as a scenario step states them. */
export function claimsOfSketch(sketch: StateSketch): {
  coordination: Record<string, Coordination>;
  proportions: Record<string, number>;
  splits: Record<string, Record<string, Record<string, number>>>;
  groups: readonly ExclusionGroupSpec[];
} {
  return {
    coordination: Object.fromEntries(sketch.segments.filter((s) => s.coordination !== undefined).map((s) => [s.name, s.coordination!])),
    proportions: Object.fromEntries(sketch.segments.map((s) => [s.name, s.proportion])),
    splits: Object.fromEntries(sketch.flags.map((f) => [f.name, Object.fromEntries(f.rules.map((r) => [r.name, { ...r.split }]))])),
    groups: sketch.groups ?? [],
  };
}
