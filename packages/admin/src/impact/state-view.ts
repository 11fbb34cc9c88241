/**
 * A workspace as the resolver will see it once compiled (see compile.ts): which segments
 * exist with which buckets and audience, and each flag's rules in order with the buckets of
 * their variant hash. Archived segments and rules are absent, unallocated segments hold no
 * bucket, rules with inline targeting (and individual targeting) get a segment of their own
 * over every bucket.
 */
import type { BucketSet } from '../allocation/bucket-set.js';
import { BUCKETS } from '../allocation/bucket-set.js';
import { ownSegment, RULE_BUCKETS, splitRanges } from '../compile/compile.js';
import { segmentReferences, type Targeting } from '../targeting/ast.js';
import type { Rule, Segment, Workspace } from '../workspace/model.js';
import { printExpr, type AudienceNode, type ConditionRegistry } from './audience.js';

/** A segment's buckets: every one, none, or a set. */
export type Bits = { readonly kind: 'all' } | { readonly kind: 'none' } | { readonly kind: 'set'; readonly set: BucketSet };

export interface SegmentView {
  /** The segment id (`x`, or `flag.rule` for a rule's own segment). */
  readonly id: string;
  readonly bits: Bits;
  /** null: everyone. */
  readonly audience: AudienceNode | null;
  /** Segments referenced whose reference core compiles to "never" (it closes a cycle). */
  readonly cut: ReadonlySet<string>;
}

export interface VariantRange {
  readonly variant: string;
  readonly lower: number;
  readonly upper: number;
}

export interface RuleView {
  readonly id: string;
  /** The segment serving the rule; its id also salts the variant hash (`segmentId|unit`). */
  readonly segment: string;
  /** The context field the rule randomizes on (`targeting_key` when blank). */
  readonly field: string;
  /** Enabled, for the client's environments, and open to units with no sticky assignment. */
  readonly applies: boolean;
  readonly ranges: readonly VariantRange[];
  readonly bucketCount: number;
  readonly sticky: boolean;
  readonly pausedIntake: boolean;
  readonly environments: readonly string[];
}

export interface FlagView {
  readonly id: string;
  readonly state: 'ACTIVE' | 'ARCHIVED';
  readonly variants: readonly string[];
  readonly rules: readonly RuleView[];
}

export interface StateView {
  readonly segments: ReadonlyMap<string, SegmentView>;
  readonly flags: ReadonlyMap<string, FlagView>;
  /** Workspace segments by id, archived ones included (for their reported state). */
  readonly declared: ReadonlyMap<string, Segment>;
  /** Canonical targeting text of each workspace segment ('' for everyone). */
  readonly targetingText: ReadonlyMap<string, string>;
}

export function viewOf(workspace: Workspace, registry: ConditionRegistry, environments: readonly string[] | undefined): StateView {
  const raw = new Map<string, { bits: Bits; targeting: Targeting | null }>();
  const declared = new Map<string, Segment>();
  const targetingText = new Map<string, string>();
  for (const s of workspace.segments) {
    declared.set(s.id, s);
    targetingText.set(s.id, s.targeting === null ? '' : printExpr(s.targeting.expr));
    if (s.state !== 'ARCHIVED') raw.set(s.id, { bits: bitsOf(s), targeting: s.targeting });
  }
  const flags = new Map<string, FlagView>();
  for (const f of workspace.flags) {
    const rules: RuleView[] = [];
    for (const r of f.rules) {
      if (r.state === 'ARCHIVED') continue;
      const own = ownSegment(r);
      const segment = own === undefined ? (r as { audience: { segment: string } }).audience.segment : `${f.id}.${r.id}`;
      if (own !== undefined) raw.set(segment, { bits: { kind: 'all' }, targeting: own.targeting });
      rules.push(ruleView(r, segment, environments));
    }
    flags.set(f.id, { id: f.id, state: f.state, variants: f.variants.map((v) => v.name), rules });
  }
  const cuts = cycleCuts(raw);
  const segments = new Map<string, SegmentView>();
  for (const [id, s] of raw) {
    segments.set(id, { id, bits: s.bits, audience: registry.audienceOf(s.targeting), cut: cuts.get(id) ?? new Set() });
  }
  return { segments, flags, declared, targetingText };
}

function bitsOf(s: Segment): Bits {
  if (s.state !== 'ALLOCATED' || s.buckets === null) return { kind: 'none' };
  if (s.buckets.count === BUCKETS) return { kind: 'all' };
  if (s.buckets.count === 0) return { kind: 'none' };
  return { kind: 'set', set: s.buckets };
}

function ruleView(r: Rule, segment: string, environments: readonly string[] | undefined): RuleView {
  const field = (r.kind === 'individual' ? '' : r.randomizationField) || 'targeting_key';
  const inEnvironment = r.environments.length === 0 || environments === undefined || r.environments.some((e) => environments.includes(e));
  const pausedIntake = r.sticky.enabled && r.sticky.pausedIntake;
  return {
    id: r.id,
    segment,
    field,
    applies: r.state === 'ENABLED' && inEnvironment && !pausedIntake,
    ranges: rangesOf(r),
    bucketCount: RULE_BUCKETS,
    sticky: r.sticky.enabled,
    pausedIntake,
    environments: r.environments,
  };
}

/** The rule's variant ranges over [0, RULE_BUCKETS), as compile writes them. */
function rangesOf(r: Rule): VariantRange[] {
  switch (r.kind) {
    case 'individual':
      return [{ variant: r.variant, lower: 0, upper: RULE_BUCKETS }];
    case 'rollout':
      return [{ variant: r.variant, lower: 0, upper: Math.round(r.reach * RULE_BUCKETS) }];
    case 'conditional':
      return splitRanges(r.split, Math.round(r.percentage * RULE_BUCKETS));
    case 'ab-test':
      return splitRanges(r.weights, RULE_BUCKETS);
  }
}

/**
 * Core compiles a reference from → to as "never" when `to` reaches `from` (it closes a
 * cycle); the same cuts here.
 */
function cycleCuts(raw: ReadonlyMap<string, { targeting: Targeting | null }>): Map<string, Set<string>> {
  const refs = new Map<string, string[]>();
  for (const [id, s] of raw) refs.set(id, s.targeting === null ? [] : segmentReferences(s.targeting.expr));
  const reaches = (from: string, target: string): boolean => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n === target) return true;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(refs.get(n) ?? []));
    }
    return false;
  };
  const cuts = new Map<string, Set<string>>();
  for (const [id, targets] of refs) {
    for (const to of targets) {
      if (raw.has(to) && reaches(to, id)) {
        let set = cuts.get(id);
        if (set === undefined) cuts.set(id, (set = new Set()));
        set.add(to);
      }
    }
  }
  return cuts;
}
