/**
 * Counting a step's intent claims for one unit (see `claimSlots` for what goes where). The
 * claims are compiled once per worker into flat arrays of numbers and strings, so that the
 * loop reads monomorphic data: a run with claims stays close to one without.
 */
import type { ResolvedFlag } from '@allot/core';

import { StepLayout } from '../plan/layout.js';
import type { ReferenceModel, ReferenceSegment, StickyView } from '../reference/reference.js';
import { parseTargeting, type Expr } from '../reference/targeting.js';
import type { ClaimSpec, StepPlan } from '../types.js';

const EXCLUSIVE = 0;
const PRECEDENCE = 1;
const SHARE = 2;
const MONOTONE = 3;
const STICKY = 4;
const KIND_CODE = { exclusive: EXCLUSIVE, precedence: PRECEDENCE, share: SHARE, monotone: MONOTONE, sticky: STICKY } as const;

function conditionOf(claim: ClaimSpec): Expr | null {
  return claim.when === null ? null : parseTargeting(claim.when.targeting, new Set());
}

const served = (r: ResolvedFlag | undefined): boolean => r !== undefined && r.reason === 'RESOLVE_REASON_MATCH';

export class ClaimCounter {
  /** Whether there is anything to count at this step. */
  readonly active: boolean;
  private readonly kinds: Int32Array;
  private readonly bases: Int32Array;
  private readonly flags: Int32Array;
  private readonly rules: Int32Array;
  private readonly ruleCounts: Int32Array;
  /** Claim i's targets are targetList[targetStart[i] .. targetStart[i + 1]). */
  private readonly targetStart: Int32Array;
  private readonly targetList: Int32Array;
  /** Claim index in the plan (sticky claims remember by it). */
  private readonly planIndex: Int32Array;
  /** share: the variant; precedence: the allowed variants (empty when a rule is claimed). */
  private readonly variant: readonly string[];
  private readonly allowed: readonly (readonly string[])[];
  private readonly when: readonly (Expr | null)[];
  /** Claim targets: segment or flag index, whether a flag, the audience to test (null: the allocation bit decides), previous step's index. */
  private readonly targetIndex: Int32Array;
  private readonly targetIsFlag: Uint8Array;
  private readonly targetAudience: readonly (ReferenceSegment | null)[];
  private readonly targetPrevious: Int32Array;
  /** Whether this unit is in each target at this step (read by the next step's monotone claims). */
  readonly targetIn: Uint8Array;
  /** Sticky claims whose `from` is this step: plan index, flag, condition. */
  private readonly fromClaims: Int32Array;
  private readonly fromFlags: Int32Array;
  private readonly fromWhen: readonly (Expr | null)[];

  constructor(plan: StepPlan, claims: readonly ClaimSpec[], model: ReferenceModel) {
    const layout = new StepLayout(plan);
    const n = plan.claims.length;
    this.kinds = Int32Array.from(plan.claims, (c) => KIND_CODE[c.kind]);
    this.bases = Int32Array.from(layout.claims);
    this.flags = Int32Array.from(plan.claims, (c) => c.flag);
    this.rules = Int32Array.from(plan.claims, (c) => c.rule);
    this.ruleCounts = Int32Array.from(plan.claims, (c) => c.rules);
    this.planIndex = Int32Array.from(plan.claims, (c) => c.claim);
    this.targetStart = new Int32Array(n + 1);
    plan.claims.forEach((c, i) => (this.targetStart[i + 1] = this.targetStart[i]! + c.targets.length));
    this.targetList = Int32Array.from(plan.claims.flatMap((c) => c.targets));
    this.variant = plan.claims.map((c) => {
      const spec = claims[c.claim]!;
      return spec.kind === 'share' ? spec.variant : '';
    });
    this.allowed = plan.claims.map((c) => {
      const spec = claims[c.claim]!;
      return spec.kind === 'precedence' && spec.variants !== null ? spec.variants : [];
    });
    this.when = plan.claims.map((c) => (c.kind === 'sticky' ? null : conditionOf(claims[c.claim]!)));
    this.targetIndex = Int32Array.from(plan.claimTargets, (t) => t.index);
    this.targetIsFlag = Uint8Array.from(plan.claimTargets, (t) => (t.kind === 'flag' ? 1 : 0));
    this.targetAudience = plan.claimTargets.map((t) => {
      const segment = t.kind === 'segment' && t.index >= 0 ? (model.segments.get(t.name) ?? null) : null;
      return segment?.targeting == null ? null : segment;
    });
    this.targetPrevious = Int32Array.from(plan.claimTargets, (t) => t.previous);
    this.targetIn = new Uint8Array(plan.claimTargets.length);
    const from = claims.flatMap((c, i) => (c.kind === 'sticky' && c.from === plan.label ? [{ i, flag: plan.flags.findIndex((f) => f.name === c.flag), when: conditionOf(c) }] : []));
    this.fromClaims = Int32Array.from(from, (f) => f.i);
    this.fromFlags = Int32Array.from(from, (f) => f.flag);
    this.fromWhen = from.map((f) => f.when);
    this.active = n > 0 || from.length > 0;
  }

  /**
   * Counts one unit. `results`: core's result per flag of the step; `members`: allocation
   * membership per segment; `ruleIndex`: per flag, rule name → index; `remembered`: per plan
   * claim, the variant a sticky claim's `from` step served this unit.
   */
  count(
    c: Float64Array,
    model: ReferenceModel,
    results: readonly ResolvedFlag[],
    members: Uint8Array,
    ruleIndex: readonly ReadonlyMap<string, number>[],
    previous: ClaimCounter | null,
    context: Readonly<Record<string, unknown>>,
    unit: string,
    store: StickyView,
    remembered: (string | null)[],
  ): void {
    for (let i = 0; i < this.fromClaims.length; i++) {
      const f = this.fromFlags[i]!;
      const r = f >= 0 ? results[f] : undefined;
      const when = this.fromWhen[i] ?? null;
      const holds = when === null || model.matches(when, context, unit, store);
      remembered[this.fromClaims[i]!] = holds && served(r) && r!.variant !== '' ? r!.variant : null;
    }
    const targetIn = this.targetIn;
    for (let t = 0; t < targetIn.length; t++) {
      const index = this.targetIndex[t]!;
      let inside = false;
      if (index >= 0) {
        if (this.targetIsFlag[t] === 1) inside = served(results[index]);
        else {
          const audience = this.targetAudience[t] ?? null;
          inside = audience === null ? members[index] === 1 : model.inSegment(audience, context, unit, store);
        }
      }
      targetIn[t] = inside ? 1 : 0;
    }
    const kinds = this.kinds;
    for (let k = 0; k < kinds.length; k++) {
      const when = this.when[k] ?? null;
      if (when !== null && !model.matches(when, context, unit, store)) continue;
      const base = this.bases[k]!;
      const first = this.targetStart[k]!;
      const m = this.targetStart[k + 1]! - first;
      const flag = this.flags[k]!;
      const r = flag >= 0 ? results[flag] : undefined;
      switch (kinds[k]) {
        case EXCLUSIVE: {
          let n = 0;
          for (let a = 0; a < m; a++) {
            if (targetIn[this.targetList[first + a]!] === 0) continue;
            n++;
            c[base + a]!++;
            for (let b = a + 1; b < m; b++) if (targetIn[this.targetList[first + b]!] === 1) c[base + m + a * m + b]!++;
          }
          if (n >= 2) c[base + m + m * m]!++;
          break;
        }
        case PRECEDENCE: {
          c[base]!++;
          const decided = served(r) ? (ruleIndex[flag]!.get(r!.rule) ?? -1) : -1;
          const rule = this.rules[k]!;
          const ok = rule >= 0 ? decided === rule : decided >= 0 && this.allowed[k]!.includes(r!.variant);
          if (ok) c[base + 1]!++;
          c[base + 2 + (decided >= 0 ? decided : this.ruleCounts[k]!)]!++;
          break;
        }
        case SHARE:
          c[base]!++;
          if (served(r) && r!.variant === this.variant[k]) c[base + 1]!++;
          break;
        case MONOTONE:
          if (previous === null) break;
          for (let a = 0; a < m; a++) {
            const t = this.targetList[first + a]!;
            const before = this.targetPrevious[t]!;
            if (before < 0 || previous.targetIn[before] === 0) continue;
            c[base + 2 * a]!++;
            if (targetIn[t] === 0) c[base + 2 * a + 1]!++;
          }
          break;
        default: {
          const variant = remembered[this.planIndex[k]!] ?? null;
          if (variant === null) break;
          c[base]!++;
          if (!served(r)) c[base + 3]!++;
          else if (r!.variant === variant) c[base + 1]!++;
          else c[base + 2]!++;
        }
      }
    }
  }
}
