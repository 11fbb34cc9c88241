/**
 * Public types of the impact preview: what a change from one workspace to another does to
 * every flag's outcome and every segment's membership, as shares of units.
 *
 * A share is exact over the 1,000,000 segment buckets and the rules' variant buckets (which
 * hash independently of the segment bucket). What it cannot know is who matches a targeting
 * expression: that is the population's. Every result is therefore given per *case* (which
 * audience conditions a unit matches), exact within each case, and summed up as a `Share`:
 * exact when no condition matters, bounds otherwise, and an estimate once a population
 * profile says how many units fall in each case.
 */
import type { Targeting } from '../targeting/ast.js';

/** The outcome label of a unit no rule serves (no match, flag archived or absent). */
export const NOT_SERVED = '(not served)';

/**
 * A targeting expression free of segment references, whose match share the population
 * decides. Expressions are compared as written in canonical form, so the same audience in
 * both workspaces is one condition.
 */
export interface AudienceCondition {
  /** `A`, `B`, … `Z`, `AA`, …: how tables refer to it. */
  readonly label: string;
  /** The expression in canonical form. */
  readonly text: string;
  /** The expression itself, to evaluate against contexts (see `estimateImpact`). */
  readonly targeting: Targeting;
}

/** A share of units that may depend on who matches the audience conditions. */
export interface Share {
  /** The share, when no audience condition changes it; otherwise null. */
  readonly exact: number | null;
  /** Bounds that hold for any population (the least and greatest value over the cases). */
  readonly low: number;
  readonly high: number;
  /** The share for the population profile given to `estimateImpact`; null before that. */
  readonly estimate: number | null;
}

/** The exact result for the units that match exactly the listed conditions. */
export interface FlagCase {
  /** Per entry of the flag's `conditions`: whether these units match it. */
  readonly matches: readonly boolean[];
  /** Share of these units moving from outcome i (row) to outcome j (column). */
  readonly matrix: readonly (readonly number[])[];
  readonly start: number;
  readonly stop: number;
  readonly change: number;
}

export interface FlagImpact {
  readonly flag: string;
  /** Whether the flag exists (and is active) in each workspace. */
  readonly before: 'ACTIVE' | 'ARCHIVED' | 'ABSENT';
  readonly after: 'ACTIVE' | 'ARCHIVED' | 'ABSENT';
  /** Whether any unit's outcome changes, in any case. */
  readonly changed: boolean;
  /** Row and column labels of the matrices: the variants, then `NOT_SERVED`. */
  readonly outcomes: readonly string[];
  /** Indices into `ImpactPreview.conditions` whose match changes this flag's result. */
  readonly conditions: readonly number[];
  /**
   * One per combination of `conditions` that some context can have (a single case when there
   * are none), in order of the combination: a combination no context can have (matches
   * `country in [SE, NO]` but not `country in [SE, NO, GB]`) is left out, and bounds are over
   * the cases listed.
   */
  readonly cases: readonly FlagCase[];
  /** Units that were not served and are served after. */
  readonly start: Share;
  /** Units that were served and are not after. */
  readonly stop: Share;
  /** Units served before and after, with a different variant. */
  readonly change: Share;
  /** The from → to matrix over `outcomes`, summed over the cases. */
  readonly matrix: readonly (readonly Share[])[];
  /** What the preview assumed for this flag (sticky rules, environments, several unit fields). */
  readonly notes: readonly string[];
}

export interface SegmentCase {
  readonly matches: readonly boolean[];
  readonly enter: number;
  readonly leave: number;
}

export interface SegmentImpact {
  readonly segment: string;
  readonly before: 'UNALLOCATED' | 'ALLOCATED' | 'ARCHIVED' | 'ABSENT';
  readonly after: 'UNALLOCATED' | 'ALLOCATED' | 'ARCHIVED' | 'ABSENT';
  /** Buckets (of 1,000,000) held before and after, and how they moved. Exact. */
  readonly buckets: { readonly before: number; readonly after: number; readonly kept: number; readonly added: number; readonly removed: number };
  /** Whether the targeting expression differs (in canonical form). */
  readonly targetingChanged: boolean;
  /**
   * The condition (index into `ImpactPreview.conditions`) that is the segment's whole
   * targeting in each workspace; null for everyone, or for targeting that refers to segments.
   */
  readonly audience: { readonly before: number | null; readonly after: number | null };
  readonly changed: boolean;
  readonly conditions: readonly number[];
  /** As `FlagImpact.cases`: the combinations some context can have. */
  readonly cases: readonly SegmentCase[];
  /** Units that are in the segment (allocation and audience) after and were not before. */
  readonly enter: Share;
  /** Units that were in it and are not after. */
  readonly leave: Share;
}

export interface ImpactPreview {
  readonly account: string;
  /** Every audience condition any result refers to. */
  readonly conditions: readonly AudienceCondition[];
  readonly flags: readonly FlagImpact[];
  readonly segments: readonly SegmentImpact[];
  /** Set by `estimateImpact`: the population the estimates come from. */
  readonly population: { readonly units: number; readonly source: string } | null;
}

export interface ImpactOptions {
  /** Only these flags (ids), and the segments they use; all by default. */
  readonly flags?: readonly string[];
  /**
   * The resolving client's environments: rules restricted to other environments are skipped.
   * By default a client in every environment (every restricted rule applies).
   */
  readonly environments?: readonly string[];
  /**
   * Only the flags and segments the change can affect (see `affectedPart`): those that differ,
   * segments referring to a changed one, flags whose rules use any of these. Every one left
   * out keeps every unit's outcome, so the preview's cost follows the change, not the
   * workspace (the server's `validateOnly` and audit entries) when `after` was made from
   * `before` by an operation, which keeps the objects it does not change.
   */
  readonly affectedOnly?: boolean;
}

/**
 * How a population splits over the audience conditions: units per combination of matches,
 * each a list of booleans in the order of `ImpactPreview.conditions`.
 */
export interface AudienceProfile {
  readonly units: number;
  readonly source: string;
  readonly groups: readonly { readonly matches: readonly boolean[]; readonly units: number }[];
}
