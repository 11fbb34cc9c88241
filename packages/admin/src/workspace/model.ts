/**
 * The workspace: everything a team declares (account, segments, flags, exclusion groups,
 * clients, environments) as one immutable value. Operations take a workspace and return a
 * new one; nothing here is ever mutated in place.
 */
import type { JsonValue } from '@allot/core';

import type { BucketSet } from '../allocation/bucket-set.js';
import type { Targeting } from '../targeting/ast.js';

export const WORKSPACE_FORMAT_VERSION = 1;

export type SegmentState = 'UNALLOCATED' | 'ALLOCATED' | 'ARCHIVED';

export interface Segment {
  readonly id: string;
  readonly displayName: string;
  /** The audience; null means everyone. */
  readonly targeting: Targeting | null;
  /** Share of the 1,000,000 buckets, in (0, 1]. */
  readonly proportion: number;
  readonly exclusivityTags: readonly string[];
  readonly exclusiveTo: readonly string[];
  readonly state: SegmentState;
  /** The buckets held: set exactly when the state is ALLOCATED. */
  readonly buckets: BucketSet | null;
}

export interface Variant {
  readonly name: string;
  readonly value: JsonValue;
}

export type RuleState = 'ENABLED' | 'DISABLED' | 'ARCHIVED';

/** Sticky assignments of a rule (Confidence "materializations"). */
export interface Sticky {
  /** Units keep the variant they were first assigned (read and write the rule's materialization). */
  readonly enabled: boolean;
  /** Only units already assigned enter the rule (`materializationMustMatch`). */
  readonly pausedIntake: boolean;
  /** Units already assigned skip the audience check (`segmentTargetingCanBeIgnored`). */
  readonly ignoreTargetingForAssigned: boolean;
}

/** Where a rule's audience comes from. */
export type Audience =
  /** A workspace segment; it must be ALLOCATED for the rule to be enabled. */
  | { readonly kind: 'segment'; readonly segment: string }
  /** Inline targeting over every bucket, compiled to a segment of the rule's own. */
  | { readonly kind: 'inline'; readonly targeting: Targeting | null };

interface RuleBase {
  readonly id: string;
  readonly state: RuleState;
  /** Environments the rule is restricted to; empty means all. */
  readonly environments: readonly string[];
  readonly sticky: Sticky;
}

/** Individual targeting: units whose `attribute` is one of `values` get `variant`. */
export interface IndividualRule extends RuleBase {
  readonly kind: 'individual';
  readonly attribute: string;
  readonly values: readonly string[];
  readonly variant: string;
}

/** Conditional targeting: `percentage` of the audience, split over variants by weight. */
export interface ConditionalRule extends RuleBase {
  readonly kind: 'conditional';
  readonly audience: Audience;
  readonly percentage: number;
  readonly randomizationField: string;
  /** Variant name → weight (positive integers), in document order. */
  readonly split: readonly WeightedVariant[];
}

/** A/B test: the whole audience, split over variants by weight. */
export interface AbTestRule extends RuleBase {
  readonly kind: 'ab-test';
  readonly audience: Audience;
  readonly randomizationField: string;
  readonly weights: readonly WeightedVariant[];
}

/** Rollout: `reach` of the audience gets `variant`. */
export interface RolloutRule extends RuleBase {
  readonly kind: 'rollout';
  readonly audience: Audience;
  readonly reach: number;
  readonly randomizationField: string;
  readonly variant: string;
}

export interface WeightedVariant {
  readonly variant: string;
  readonly weight: number;
}

export type Rule = IndividualRule | ConditionalRule | AbTestRule | RolloutRule;
export type RuleKind = Rule['kind'];

export type FlagState = 'ACTIVE' | 'ARCHIVED';

export interface Flag {
  readonly id: string;
  readonly displayName: string;
  readonly state: FlagState;
  /** Client ids that may resolve the flag; empty means every client of the workspace. */
  readonly clients: readonly string[];
  readonly variants: readonly Variant[];
  /** In evaluation order. */
  readonly rules: readonly Rule[];
}

export type GroupState = 'ACTIVE' | 'ARCHIVED';

/** An Optimizely-style exclusion group: member segments never share a unit. */
export interface ExclusionGroup {
  readonly id: string;
  readonly displayName: string;
  readonly state: GroupState;
  /** Member segment ids, in the order they were added. */
  readonly members: readonly string[];
}

export interface Client {
  readonly id: string;
  readonly displayName: string;
  /**
   * The client secret resolves authenticate with; "" when unknown (the secrets file beside
   * the workspace is missing). Never written into the workspace document.
   */
  readonly secret: string;
  /** Environments the client's credential belongs to. */
  readonly environments: readonly string[];
}

export interface Workspace {
  /** The account id (without `accounts/`) that salts segment hashing. */
  readonly account: string;
  /** Recorded seed every allocation derives its randomness from. */
  readonly seed: string;
  readonly environments: readonly string[];
  readonly clients: readonly Client[];
  readonly segments: readonly Segment[];
  readonly flags: readonly Flag[];
  readonly groups: readonly ExclusionGroup[];
}

/** The coordination part of a segment: what the allocator's conflict relation reads. */
export interface Coordination {
  readonly exclusivityTags: readonly string[];
  readonly exclusiveTo: readonly string[];
}

export const NO_STICKY: Sticky = Object.freeze({
  enabled: false,
  pausedIntake: false,
  ignoreTargetingForAssigned: false,
});
