/**
 * From a scenario to its plan: what will be counted at each step, and the exact facts that
 * need no population at all (bucket overlaps of conflicting segments, buckets lost by a
 * raise, compiled splits and proportions against the configured ones).
 */
import { ReferenceModel, SEGMENT_BUCKETS, type ReferenceRule } from '../reference/reference.js';
import type { ClaimSpec, ClaimTarget, ConfiguredStep, Coordination, Plan, PlanAssignment, PlanClaimTarget, PlanFlag, PlanRule, Scenario, SegmentPair, StepClaim, StepPlan } from '../types.js';

function popcount(bits: Uint8Array | null): number {
  if (bits === null) return SEGMENT_BUCKETS;
  let n = 0;
  for (let b of bits) {
    while (b !== 0) {
      b &= b - 1;
      n++;
    }
  }
  return n;
}

/** Buckets in `a` and in `b` (null is every bucket); with `negateB`, in `a` but not in `b`. */
export function sharedBuckets(a: Uint8Array | null, b: Uint8Array | null, negateB = false): number {
  if (negateB) {
    if (b === null) return 0;
    if (a === null) return SEGMENT_BUCKETS - popcount(b);
  } else {
    if (a === null) return popcount(b);
    if (b === null) return popcount(a);
  }
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]! & (negateB ? ~b[i]! : b[i]!);
    while (x !== 0) {
      x &= x - 1;
      n++;
    }
  }
  return n;
}

/**
 * Whether a segment's buckets were placed in aligned blocks of 16 (the allocator's unit since
 * the runs encoding): at least half of them lie in whole blocks. A scattered set of up to 90%
 * of the buckets holds under a fifth of them in whole blocks by chance.
 */
export function blockAllocated(bits: Uint8Array): boolean {
  let inBlocks = 0;
  let all = 0;
  for (let i = 0; i < bits.length; i += 2) {
    const x = bits[i]!;
    const y = bits[i + 1]!;
    if (x === 0xff && y === 0xff) inBlocks += 16;
    all += bitCount(x) + bitCount(y);
  }
  return all > 0 && inBlocks * 2 >= all;
}

/**
 * Two segments counted within the space both could be allocated in: the space held by no
 * segment that conflicts with either. Within it, independently allocated segments are
 * independent random subsets of the allocator's unit (outside it, shared exclusions make
 * them correlated by design). The unit is the block when both are block-allocated, a block
 * counting as in a segment when the segment holds any of its buckets and as open when no
 * conflicting segment holds any; otherwise the bucket, as a random scattered set is
 * hypergeometric against any set at bucket level. Counting blocks at bucket level would
 * treat 16 buckets drawn together as 16 draws and inflate χ² about 16 times.
 */
export function pairWithin(a: Uint8Array, b: Uint8Array, excluded: readonly (Uint8Array | null)[]): Omit<SegmentPair, 'a' | 'b'> {
  const unit = blockAllocated(a) && blockAllocated(b) ? 'block' : 'bucket';
  let universe = 0;
  let inA = 0;
  let inB = 0;
  let shared = 0;
  if (excluded.includes(null)) return { unit, universe, inA, inB, shared };
  const free = new Uint8Array(a.length).fill(0xff);
  for (const x of excluded) for (let i = 0; i < a.length; i++) free[i]! &= ~x![i]!;
  if (unit === 'bucket') {
    for (let i = 0; i < a.length; i++) {
      const fa = a[i]! & free[i]!;
      const fb = b[i]! & free[i]!;
      universe += bitCount(free[i]!);
      inA += bitCount(fa);
      inB += bitCount(fb);
      shared += bitCount(fa & fb);
    }
  } else {
    for (let i = 0; i < a.length; i += 2) {
      if (free[i] !== 0xff || free[i + 1] !== 0xff) continue;
      const ha = (a[i]! | a[i + 1]!) !== 0;
      const hb = (b[i]! | b[i + 1]!) !== 0;
      universe++;
      if (ha) inA++;
      if (hb) inB++;
      if (ha && hb) shared++;
    }
  }
  return { unit, universe, inA, inB, shared };
}

function bitCount(x: number): number {
  let n = 0;
  for (let v = x & 0xff; v !== 0; v &= v - 1) n++;
  return n;
}

/** Symmetric conflict: one's exclusiveTo meets the other's exclusivityTags. */
export function conflicts(a: Coordination | undefined, b: Coordination | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const meets = (to: readonly string[], tags: readonly string[]): boolean => to.some((t) => tags.includes(t));
  return meets(a.exclusiveTo, b.exclusivityTags) || meets(b.exclusiveTo, a.exclusivityTags);
}

/** Buckets each assignment wins, first assignment first where ranges overlap; and the uncovered rest. */
function widths(rule: ReferenceRule): { widths: number[]; uncovered: number } {
  const points = new Set<number>([0, rule.bucketCount]);
  for (const a of rule.assignments) for (const [lo, hi] of a.ranges) points.add(Math.min(lo, rule.bucketCount)).add(Math.min(hi, rule.bucketCount));
  const sorted = [...points].sort((x, y) => x - y);
  const out = rule.assignments.map(() => 0);
  let uncovered = 0;
  for (let i = 0; i + 1 < sorted.length; i++) {
    const lo = sorted[i]!;
    const span = sorted[i + 1]! - lo;
    const owner = rule.assignments.findIndex((a) => a.ranges.some(([l, h]) => lo >= l && lo < h));
    if (owner < 0) uncovered += span;
    else out[owner]! += span;
  }
  return { widths: out, uncovered };
}

function planRule(flag: string, rule: ReferenceRule, step: ConfiguredStep, mismatches: string[]): PlanRule {
  const { widths: w, uncovered } = widths(rule);
  const configured = step.splits[flag]?.[rule.name];
  const assignments = rule.assignments.map((a, i): PlanAssignment => {
    const share = configured?.[a.id] ?? (a.variant !== '' ? configured?.[a.variant] : undefined);
    return { id: a.id, type: a.type, variant: a.variant, width: w[i]!, configured: share ?? null };
  });
  if (configured !== undefined) {
    for (const a of assignments) {
      if (a.configured === null) continue;
      const compiled = a.width / rule.bucketCount;
      // Weights rarely divide the buckets exactly: less than one bucket off is rounding.
      if (Math.abs(a.width - a.configured * rule.bucketCount) >= 1 - 1e-9) {
        mismatches.push(`${rule.name}: ${a.variant || a.id} is configured at ${fmt(a.configured)} but the state gives it ${a.width} of ${rule.bucketCount} buckets (${fmt(compiled)})`);
      }
    }
  }
  const outcomes = w.filter((x) => x > 0).length + (uncovered > 0 ? 1 : 0);
  return {
    name: rule.name,
    segment: rule.segmentName,
    enabled: rule.enabled,
    bucketCount: rule.bucketCount,
    assignments,
    uncovered,
    sticky: rule.sticky,
    // A rule with paused intake hashes nobody (it serves stored assignments only): no split to test.
    split: rule.enabled && rule.fullRollout < 0 && outcomes > 1 && rule.sticky?.mustMatch !== true,
  };
}

function fmt(x: number): string {
  return `${(x * 100).toFixed(4).replace(/\.?0+$/, '')}%`;
}

export interface PlannedStep {
  readonly plan: StepPlan;
  readonly model: ReferenceModel;
}

function clientSecretOf(model: ReferenceModel, wanted: string | null): string {
  if (wanted !== null) return wanted;
  const secrets = [...model.clients.keys()];
  if (secrets.length !== 1) throw new Error(`the state has ${secrets.length} clients; name one with clientSecret in the scenario (${secrets.join(', ') || 'none'})`);
  return secrets[0]!;
}

/** The step's claims and the segments and flags they are about (see PlanClaimTarget). */
function planClaims(
  claims: readonly ClaimSpec[],
  label: string,
  segments: ReadonlyMap<string, number>,
  flags: readonly PlanFlag[],
  previous: StepPlan | undefined,
): { claimTargets: PlanClaimTarget[]; claims: StepClaim[] } {
  const claimTargets: PlanClaimTarget[] = [];
  const targetIndex = (t: ClaimTarget): number => {
    const at = claimTargets.findIndex((x) => x.kind === t.kind && x.name === t.name);
    if (at >= 0) return at;
    const index = t.kind === 'segment' ? (segments.get(t.name) ?? -1) : flags.findIndex((f) => f.name === t.name);
    const before = previous?.claimTargets.findIndex((x) => x.kind === t.kind && x.name === t.name) ?? -1;
    claimTargets.push({ kind: t.kind, name: t.name, index, previous: before });
    return claimTargets.length - 1;
  };
  const out: StepClaim[] = [];
  claims.forEach((c, i) => {
    if (c.steps !== null && !c.steps.includes(label)) return;
    const none = { claim: i, kind: c.kind, targets: [], flag: -1, rule: -1, rules: 0 };
    switch (c.kind) {
      case 'exclusive':
      case 'monotone':
        out.push({ ...none, targets: c.members.map(targetIndex) });
        break;
      default: {
        const flag = flags.findIndex((f) => f.name === c.flag);
        const rules = flag < 0 ? [] : flags[flag]!.rules;
        const rule = c.kind === 'precedence' && c.rule !== null ? rules.findIndex((r) => r.name === c.rule) : -1;
        out.push({ ...none, flag, rule, rules: rules.length });
      }
    }
  });
  return { claimTargets, claims: out };
}

function planStep(step: ConfiguredStep, secret: string, previous: PlannedStep | undefined, allow: Scenario['checks']['allowCorrelated'], claims: readonly ClaimSpec[]): PlannedStep {
  const model = new ReferenceModel(step.referenceState ?? step.state);
  const segments = [...model.segments.values()];
  const index = new Map(segments.map((s, i) => [s.name, i]));
  const conflictList: StepPlan['conflicts'][number][] = [];
  const pairList: StepPlan['segmentPairs'][number][] = [];
  for (let a = 0; a < segments.length; a++) {
    for (let b = a + 1; b < segments.length; b++) {
      const sa = segments[a]!;
      const sb = segments[b]!;
      if (conflicts(step.coordination[sa.name], step.coordination[sb.name])) {
        conflictList.push({ a, b, sharedBuckets: sharedBuckets(sa.bits, sb.bits) });
      } else if (sa.bits !== null && sb.bits !== null) {
        pairList.push({ a, b, ...pairWithin(sa.bits, sb.bits, segments.filter((x) => x !== sa && x !== sb && (conflicts(step.coordination[sa.name], step.coordination[x.name]) || conflicts(step.coordination[sb.name], step.coordination[x.name]))).map((x) => x.bits)) });
      }
    }
  }
  const proportionMismatches: string[] = [];
  const planSegments = segments.map((s) => {
    const buckets = popcount(s.bits);
    const configured = step.proportions[s.name] ?? null;
    if (configured !== null && buckets !== Math.round(configured * SEGMENT_BUCKETS)) {
      proportionMismatches.push(`${s.name}: configured at ${fmt(configured)} (${Math.round(configured * SEGMENT_BUCKETS)} buckets) but its bitset has ${buckets}`);
    }
    return { name: s.name, buckets, configured, audience: s.targeting !== null };
  });
  const splitMismatches: string[] = [];
  const flags = model.flagsFor(secret).map((f) => ({ name: f.name, rules: f.rules.map((r) => planRule(f.name, r, step, splitMismatches)) }));
  const flagIndex = new Map(flags.map((f, i) => [f.name, i]));
  const groups = step.groups.map((g) => ({
    name: g.name,
    members: g.members.flatMap((m) => {
      const f = flagIndex.get(m.flag);
      return f === undefined ? [] : [{ flag: f, segment: m.segment }];
    }),
  }));
  const allowed = (x: string, y: string): boolean => allow.some(([p, q]) => (p === x && q === y) || (p === y && q === x));
  const splits: [number, number][] = [];
  flags.forEach((f, fi) => { f.rules.forEach((r, ri) => { if (r.split) splits.push([fi, ri]); }); });
  const experimentPairs: StepPlan['experimentPairs'][number][] = [];
  for (let i = 0; i < splits.length; i++) {
    for (let j = i + 1; j < splits.length; j++) {
      const a = splits[i]!;
      const b = splits[j]!;
      if (a[0] === b[0]) continue;
      const fa = flags[a[0]]!;
      const fb = flags[b[0]]!;
      if (allowed(fa.name, fb.name)) continue;
      const sa = fa.rules[a[1]]!.segment;
      const sb = fb.rules[b[1]]!.segment;
      // A segment does not conflict with itself: two experiments hashing on one segment are tested.
      if (sa !== sb && conflicts(step.coordination[sa], step.coordination[sb])) continue;
      experimentPairs.push({ a, b });
    }
  }
  const monotone = step.monotone.flatMap((name) => {
    const here = index.get(name);
    const prevIndex = previous?.plan.segments.findIndex((s) => s.name === name) ?? -1;
    if (here === undefined || previous === undefined || prevIndex < 0) return [];
    const before = previous.model.segments.get(name)!.bits;
    return [{ segment: here, previous: prevIndex, lostBuckets: sharedBuckets(before, segments[here]!.bits, true) }];
  });
  return {
    model,
    plan: {
      label: step.label,
      description: step.description,
      segments: planSegments,
      conflicts: conflictList,
      segmentPairs: pairList,
      flags,
      groups,
      experimentPairs,
      monotone,
      splitMismatches,
      proportionMismatches,
      ...planClaims(claims, step.label, index, flags, previous?.plan),
    },
  };
}

/** Plans every step of a scenario for `units` units (defaults to the population's count). */
export function planScenario(scenario: Scenario, units: number = scenario.population.units, seed: number = scenario.population.seed): { plan: Plan; steps: PlannedStep[]; clientSecret: string } {
  const steps: PlannedStep[] = [];
  let secret: string | null = scenario.clientSecret;
  for (const step of scenario.steps) {
    if (secret === null) secret = clientSecretOf(new ReferenceModel(step.referenceState ?? step.state), null);
    steps.push(planStep(step, secret, steps[steps.length - 1], scenario.checks.allowCorrelated, scenario.claims));
  }
  return {
    plan: {
      format: 'allot-simulation-plan/1',
      scenario: scenario.name,
      description: scenario.description,
      units,
      seed,
      checks: scenario.checks,
      claims: scenario.claims,
      steps: steps.map((s) => s.plan),
    },
    steps,
    clientSecret: secret ?? '',
  };
}
