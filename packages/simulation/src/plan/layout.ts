/**
 * Where each count of a step lives in its flat list of counts. Derived from the step's plan
 * alone, so that workers, shards and `merge` agree on it without sharing anything else.
 */
import type { StepClaim, StepPlan } from '../types.js';

export class StepLayout {
  readonly size: number;
  readonly units = 0;
  /** Units in segment s (allocation: the salt bucket is in its bitset). */
  readonly members: number;
  /** Units in both segments a and b (audience and allocation), at pairs + a * S + b (a < b). */
  readonly pairs: number;
  /** Units in segment s's audience and allocation; counted for segments with targeting only (the others: `members`). */
  readonly inSegment: number;
  /** Per flag: served outcomes. For rule r, ruleOutcome[f][r] + a (a < A_r), + A_r for sticky; then no match, key error. */
  readonly ruleOutcome: readonly (readonly number[])[];
  readonly noMatch: readonly number[];
  readonly keyError: readonly number[];
  /** Per flag and rule: units hashed into each assignment (A_r + 1 slots, the last is "no range"). */
  readonly ruleEntries: readonly (readonly number[])[];
  readonly mismatches: readonly number[];
  readonly groupOverlap: readonly number[];
  /** Contingency table (Aa+1) x (Ab+1) per experiment pair, row-major. */
  readonly pairTables: readonly number[];
  readonly monotoneLeft: readonly number[];
  /** Per flag and rule: sticky units checked, and those that lost their variant. */
  readonly stickyChecked: readonly (readonly number[])[];
  readonly stickyBroken: readonly (readonly number[])[];
  /** Per flag and rule: units served by a paused rule with no stored assignment before the step. */
  readonly intakeNew: readonly (readonly number[])[];
  /** Per claim of the step: where its counts start (see `claimSlots`). */
  readonly claims: readonly number[];

  constructor(plan: StepPlan) {
    let at = 1;
    const take = (n: number): number => {
      const o = at;
      at += n;
      return o;
    };
    const S = plan.segments.length;
    this.members = take(S);
    this.pairs = take(S * S);
    this.inSegment = take(S);
    const perRule = (n: (A: number) => number): number[][] =>
      plan.flags.map((f) => f.rules.map((r) => take(n(r.assignments.length))));
    this.ruleOutcome = perRule((A) => A + 1);
    this.noMatch = plan.flags.map(() => take(1));
    this.keyError = plan.flags.map(() => take(1));
    this.ruleEntries = perRule((A) => A + 1);
    this.mismatches = plan.flags.map(() => take(1));
    this.groupOverlap = plan.groups.map(() => take(1));
    this.pairTables = plan.experimentPairs.map((p) => {
      const a = plan.flags[p.a[0]]!.rules[p.a[1]]!.assignments.length + 1;
      const b = plan.flags[p.b[0]]!.rules[p.b[1]]!.assignments.length + 1;
      return take(a * b);
    });
    this.monotoneLeft = plan.monotone.map(() => take(1));
    this.stickyChecked = perRule(() => 1);
    this.stickyBroken = perRule(() => 1);
    this.intakeNew = perRule(() => 1);
    this.claims = plan.claims.map((c) => take(claimSlots(c)));
    this.size = at;
  }
}

/**
 * Counts of one claim at one step, from its first slot:
 * - exclusive (M targets): units in each target (M), units in both of targets a < b (at M + a·M + b), units in two or more (1);
 * - precedence: units matching `when` (1), decided as claimed (1), decided by each rule (R) or by none (1);
 * - share: units matching `when` (1), served the variant (1);
 * - monotone (M targets): per target, units in it at the previous step (1) and, of those, units not in it now (1);
 * - sticky: units served a variant at `from` (1), served the same one now (1), another one (1), none (1).
 */
export function claimSlots(c: StepClaim): number {
  const m = c.targets.length;
  switch (c.kind) {
    case 'exclusive':
      return m + m * m + 1;
    case 'precedence':
      return 3 + c.rules;
    case 'share':
      return 2;
    case 'monotone':
      return 2 * m;
    case 'sticky':
      return 4;
  }
}
