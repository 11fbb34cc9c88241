/**
 * Public types of @allot/simulation: scenario specs, the run plan, and the report. Everything
 * here is plain JSON data, so that plans and counts travel between workers, shards and machines.
 */

/** How unit ids look. Every shape is injective in the unit index. */
export type IdShape = 'uuid' | 'sequential' | 'email' | 'numeric';

export type Distribution =
  | { readonly kind: 'categorical'; readonly values: readonly (string | number | boolean)[]; readonly weights: readonly number[] }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number; readonly integer: boolean }
  | { readonly kind: 'normal'; readonly mean: number; readonly sd: number; readonly integer: boolean }
  | { readonly kind: 'boolean'; readonly p: number }
  | { readonly kind: 'version'; readonly major: readonly [number, number]; readonly minor: readonly [number, number]; readonly patch: readonly [number, number] }
  | { readonly kind: 'timestamp'; readonly from: number; readonly to: number; readonly format: 'iso' | 'seconds' | 'millis' }
  | { readonly kind: 'list'; readonly values: readonly string[]; readonly p: readonly number[] }
  | { readonly kind: 'constant'; readonly value: string | number | boolean };

export interface AttributeSpec {
  /** Context field; dots make nested objects (`app.version`). */
  readonly name: string;
  readonly distribution: Distribution;
  /** Probability that the attribute is absent from a context. */
  readonly missing: number;
}

export interface PopulationSpec {
  readonly units: number;
  readonly seed: number;
  readonly id: { readonly shape: IdShape; readonly field: string; readonly prefix: string };
  readonly attributes: readonly AttributeSpec[];
}

/** Coordination tags of a segment (Confidence's allocation.exclusivityTags / exclusiveTo). */
export interface Coordination {
  readonly exclusivityTags: readonly string[];
  readonly exclusiveTo: readonly string[];
}

/** Experiments that must never share a unit: a flag served by a rule on one of the segments. */
export interface ExclusionGroupSpec {
  readonly name: string;
  readonly members: readonly { readonly flag: string; readonly segment: string }[];
}

/**
 * One configuration the population goes through: a compiled state (Confidence resolver-state
 * JSON) plus what the configuration claims about it, for the checks to hold it to.
 */
export interface ConfiguredStep {
  readonly label: string;
  readonly description: string;
  /** The state the resolver (core) loads. */
  readonly state: unknown;
  /** The state the reference evaluator reads; the same as `state` unless a self-test injects a defect. */
  readonly referenceState?: unknown;
  /** Coordination tags by segment name (`segments/x`); segments absent here conflict with none. */
  readonly coordination: Readonly<Record<string, Coordination>>;
  /** Configured allocation proportions by segment name. */
  readonly proportions: Readonly<Record<string, number>>;
  /** Configured splits: flag → rule → assignment id or variant → share of the rule's buckets. */
  readonly splits: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, number>>>>>>;
  readonly groups: readonly ExclusionGroupSpec[];
  /** Attributes that change from this step on (an audience that changes mid-run). */
  readonly attributes: readonly AttributeSpec[];
  /** Segments whose allocation must only grow from the previous step (a raise, a ramp). */
  readonly monotone: readonly string[];
}

export interface CheckOptions {
  /** Family-wise significance level, Bonferroni-corrected over every distinct statistical test. */
  readonly alpha: number;
  /** Flag pairs allowed to be correlated (e.g. deliberately sharing a segment). */
  readonly allowCorrelated: readonly (readonly [string, string])[];
  /**
   * Inconclusive results (no unit reached the check or claim) that do not fail the run: claim
   * names, check subjects or step labels (everything inconclusive at that step), or `true` for
   * all. By default an inconclusive result fails it.
   */
  readonly allowInconclusive: boolean | readonly string[];
  /** Largest minimal detectable effect (a share, 0.005 = 0.5 pp) every proportion test must reach at 80% power. */
  readonly mde: number | null;
}

/** What a claim is about: a segment (its audience and allocation) or a flag (served by one of its rules). */
export interface ClaimTarget {
  readonly kind: 'segment' | 'flag';
  /** `segments/x` or `flags/x`. */
  readonly name: string;
}

/** A targeting expression of a claim: admin's text and its Confidence form. */
export interface ClaimCondition {
  readonly source: string;
  readonly targeting: unknown;
}

interface ClaimBase {
  /** How the report names the claim (given, or made from its fields). */
  readonly name: string;
  /** Labels of the steps it holds at; null: every step. */
  readonly steps: readonly string[] | null;
  /** Units the claim is about (null: every unit). */
  readonly when: ClaimCondition | null;
}

/**
 * What the scenario's author intends, stated apart from the workspace, so that a
 * configuration that contradicts it fails however it was written.
 */
export type ClaimSpec =
  | (ClaimBase & { readonly kind: 'exclusive'; readonly members: readonly ClaimTarget[] })
  | (ClaimBase & { readonly kind: 'precedence'; readonly flag: string; readonly rule: string | null; readonly variants: readonly string[] | null })
  | (ClaimBase & { readonly kind: 'share'; readonly flag: string; readonly variant: string; readonly p: number })
  | (ClaimBase & { readonly kind: 'monotone'; readonly members: readonly ClaimTarget[] })
  | (ClaimBase & { readonly kind: 'sticky'; readonly flag: string; readonly from: string; readonly to: string });

export type ClaimKind = ClaimSpec['kind'];

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly clientSecret: string | null;
  readonly population: PopulationSpec;
  readonly steps: readonly ConfiguredStep[];
  readonly checks: CheckOptions;
  readonly claims: readonly ClaimSpec[];
}

// ---- the plan: what is counted, derived from the scenario (JSON, shared by every shard) ----

export interface PlanAssignment {
  readonly id: string;
  readonly type: 'variant' | 'clientDefault' | 'fallthrough';
  readonly variant: string;
  /** Buckets this assignment wins (first range wins where ranges overlap). */
  readonly width: number;
  /** Configured share of the rule's buckets, when the configuration states one. */
  readonly configured: number | null;
}

export interface PlanRule {
  readonly name: string;
  readonly segment: string;
  readonly enabled: boolean;
  readonly bucketCount: number;
  readonly assignments: readonly PlanAssignment[];
  /** Buckets no assignment covers. */
  readonly uncovered: number;
  readonly sticky: { readonly read: string; readonly write: string; readonly mustMatch: boolean; readonly ignoreTargeting: boolean } | null;
  /** More than one outcome has buckets: a split worth a sample ratio test. */
  readonly split: boolean;
}

export interface PlanFlag {
  readonly name: string;
  readonly rules: readonly PlanRule[];
}

export interface PlanSegment {
  readonly name: string;
  /** Buckets of 1,000,000 in the segment's bitset. */
  readonly buckets: number;
  readonly configured: number | null;
  /** The segment has targeting: its units are those in its audience and allocation. */
  readonly audience: boolean;
}

/** A non-conflicting segment pair, counted for the allocation-independence check. */
export interface SegmentPair {
  readonly a: number;
  readonly b: number;
  readonly unit: 'bucket' | 'block';
  readonly universe: number;
  readonly inA: number;
  readonly inB: number;
  readonly shared: number;
}

export interface StepPlan {
  readonly label: string;
  readonly description: string;
  readonly segments: readonly PlanSegment[];
  /** Conflicting segment pairs (indices) with the buckets they share (must be 0). */
  readonly conflicts: readonly { readonly a: number; readonly b: number; readonly sharedBuckets: number }[];
  /**
   * Non-conflicting, partially allocated segment pairs, counted in `unit`s within the space
   * held by no segment conflicting with either (`universe`): units of each, and shared. The
   * unit is what the allocator drew independently: aligned blocks of 16 buckets when both
   * segments are block-allocated, buckets when either is scattered (see `allocationUnit`).
   */
  readonly segmentPairs: readonly SegmentPair[];
  readonly flags: readonly PlanFlag[];
  readonly groups: readonly { readonly name: string; readonly members: readonly { readonly flag: number; readonly segment: string }[] }[];
  /** Split rules in different flags, tested for independence: [flag, rule] pairs. */
  readonly experimentPairs: readonly { readonly a: readonly [number, number]; readonly b: readonly [number, number] }[];
  /** Segments that must only grow from the previous step: index here, index there, buckets lost. */
  readonly monotone: readonly { readonly segment: number; readonly previous: number; readonly lostBuckets: number }[];
  /** Rules whose split the configuration states but the state serves differently. */
  readonly splitMismatches: readonly string[];
  /** Segments whose bitset size differs from the configured proportion. */
  readonly proportionMismatches: readonly string[];
  /** Segments and flags the step's claims are about, in the order `StepClaim.targets` refers to them. */
  readonly claimTargets: readonly PlanClaimTarget[];
  /** The claims that hold at this step (a sticky claim: at its `to` step). */
  readonly claims: readonly StepClaim[];
}

export interface PlanClaimTarget {
  readonly kind: 'segment' | 'flag';
  readonly name: string;
  /** Index among the step's segments or flags; -1 when the step has none of that name. */
  readonly index: number;
  /** Index of the same target in the previous step's `claimTargets`, or -1. */
  readonly previous: number;
}

/** A claim at one step: what its counts refer to. */
export interface StepClaim {
  /** Index into `Plan.claims`. */
  readonly claim: number;
  readonly kind: ClaimKind;
  /** exclusive, monotone: indices into the step's `claimTargets`. */
  readonly targets: readonly number[];
  /** precedence, share, sticky: the flag's index in the step, or -1. */
  readonly flag: number;
  /** precedence: the rule's index in the flag, or -1. */
  readonly rule: number;
  /** precedence: number of rules of the flag (the count slots per deciding rule). */
  readonly rules: number;
}

export interface Plan {
  readonly format: 'allot-simulation-plan/1';
  readonly scenario: string;
  readonly description: string;
  readonly units: number;
  readonly seed: number;
  readonly checks: CheckOptions;
  readonly claims: readonly ClaimSpec[];
  readonly steps: readonly StepPlan[];
}

/** Counts of one run (or shard): one flat list per step, laid out by the plan. Additive. */
export interface Tally {
  readonly counts: readonly number[][];
  /** A few units whose core result disagreed with the reference, per step (lowest indices). */
  readonly mismatches: readonly MismatchExample[][];
}

export interface MismatchExample {
  readonly unit: number;
  readonly flag: string;
  readonly core: string;
  readonly reference: string;
}

// ---- the report ----

export type CheckKind =
  | 'mutual-exclusion'
  | 'exclusion-group'
  | 'configuration'
  | 'proportion'
  | 'rule-precedence'
  | 'independence'
  | 'monotonicity'
  | 'stickiness'
  | 'paused-intake'
  | 'power'
  | ClaimKind;

/**
 * inconclusive: no unit reached the check, so it says nothing (it fails the run unless allowed).
 * not-testable: a check the scenario did not write, which the timeline leaves untestable at this
 * step (no unit newly assigned, its units served their stored sticky variants) and which was
 * tested at another step (`coveredAt`); it does not fail the run.
 */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'not-testable';

export interface ObservedShare {
  readonly label: string;
  readonly observed: number;
  readonly expected: number;
  /** Observed share and its 99% Wilson interval. */
  readonly share: number;
  readonly low: number;
  readonly high: number;
  readonly expectedShare: number;
}

export interface CheckResult {
  readonly kind: CheckKind;
  readonly step: string;
  readonly subject: string;
  readonly verdict: Verdict;
  /** The verdict is pass or not-testable, or inconclusive and the scenario allows it. */
  readonly passed: boolean;
  /** The claim's name, for the scenario's intent claims. */
  readonly claim?: string;
  /** One line a person can act on. */
  readonly detail: string;
  /** Statistical checks only. */
  readonly statistic?: number;
  readonly df?: number;
  readonly pValue?: number;
  /** Per-test threshold after Bonferroni correction. */
  readonly threshold?: number;
  readonly cramersV?: number;
  readonly shares?: readonly ObservedShare[];
  /** Units the test counted. */
  readonly units?: number;
  /** Proportion tests: the smallest shift (pp) found with 80% power at the threshold, and between which outcomes. */
  readonly mde?: number;
  readonly mdeBetween?: readonly [string, string];
  /** not-testable: the label of the step where this check was tested. */
  readonly coveredAt?: string;
  /** The label of the step where the identical test (same subject, same counts) was first run: counted once. */
  readonly sameAs?: string;
}

export interface Report {
  readonly format: 'allot-simulation-report/1';
  readonly scenario: string;
  readonly description: string;
  readonly units: number;
  readonly seed: number;
  readonly steps: readonly string[];
  readonly passed: boolean;
  readonly alpha: number;
  /** Distinct statistical tests: the Bonferroni family. */
  readonly tests: number;
  /** Required minimal detectable effect (pp), when the scenario sets one. */
  readonly requiredMde: number | null;
  readonly checks: readonly CheckResult[];
  /** Per step: segment names and the units in both of each pair (a symmetric matrix). */
  readonly overlap: readonly { readonly step: string; readonly segments: readonly string[]; readonly units: readonly (readonly number[])[]; readonly conflicting: readonly (readonly boolean[])[] }[];
  readonly mismatches: readonly MismatchExample[];
  readonly run: { readonly workers: number; readonly seconds: number; readonly contextsPerSecond: number; readonly shards: number };
}
