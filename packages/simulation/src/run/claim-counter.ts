/**
 * Counting a step's intent claims for one unit (see `claimSlots` for what goes where). Each
 * claim is compiled once per worker into a small object of its kind holding what it reads
 * (its targets, its flag's `CoreFacts`, names as `Names` ids), so that the loop makes one
 * call per claim and compares integers: a run with claims stays close to one without.
 */
import { StepLayout } from '../plan/layout.js';
import type { ReferenceModel, ReferenceSegment, StickyView } from '../reference/reference.js';
import { parseTargeting, type Expr } from '../reference/targeting.js';
import type { ClaimSpec, StepClaim, StepPlan } from '../types.js';
import { Names, type CoreFacts } from './core-facts.js';

/** `remembered` entry of a sticky claim whose `from` step served this unit no variant. */
export const NOT_REMEMBERED = -1;

/** What claims read besides core's results, the same objects for every unit of a run. */
export interface ClaimInputs {
  readonly model: ReferenceModel;
  /** The step's context (the population's reused object). */
  readonly context: Readonly<Record<string, unknown>>;
  /** Allocation membership per segment of the step. */
  readonly members: Uint8Array;
  readonly store: StickyView;
  /** Per plan claim: the variant id a sticky claim's `from` step served this unit (NOT_REMEMBERED: none). */
  readonly remembered: Int32Array;
}

function conditionOf(claim: ClaimSpec): Expr | null {
  return claim.when === null ? null : parseTargeting(claim.when.targeting, new Set());
}

/** A segment or flag a claim is about, and whether this unit is in it at this step. */
class Target {
  inside = false;

  constructor(
    private readonly inputs: ClaimInputs,
    /** A flag target's facts (in: served by a rule), else null. */
    private readonly flag: CoreFacts | null,
    /** A segment target's index, or -1 when the step has no such segment (or flag). */
    private readonly segment: number,
    /** A segment with targeting: in is its audience and allocation; null: the allocation bit decides. */
    private readonly audience: ReferenceSegment | null,
  ) {}

  update(unit: string): void {
    const inputs = this.inputs;
    if (this.flag !== null) this.inside = this.flag.served;
    else if (this.segment < 0) this.inside = false;
    else if (this.audience === null) this.inside = inputs.members[this.segment] === 1;
    else this.inside = inputs.model.memberOf(this.audience, inputs.context, unit, inputs.store);
  }
}

/** One claim at one step; counts from `base` (the claim's first slot). */
abstract class Claim {
  constructor(
    protected readonly inputs: ClaimInputs,
    protected readonly base: number,
    private readonly when: Expr | null,
  ) {}

  /** Whether this unit is one the claim speaks of (it matches `when`). */
  protected applies(unit: string): boolean {
    const inputs = this.inputs;
    return this.when === null || inputs.model.matches(this.when, inputs.context, unit, inputs.store);
  }

  abstract count(c: Float64Array, unit: string): void;
}

class Exclusive extends Claim {
  constructor(
    inputs: ClaimInputs,
    base: number,
    when: Expr | null,
    private readonly targets: readonly Target[],
  ) {
    super(inputs, base, when);
  }

  count(c: Float64Array, unit: string): void {
    if (!this.applies(unit)) return;
    const targets = this.targets;
    const base = this.base;
    const m = targets.length;
    let n = 0;
    for (let a = 0; a < m; a++) {
      if (!targets[a]!.inside) continue;
      n++;
      c[base + a]!++;
      for (let b = a + 1; b < m; b++) if (targets[b]!.inside) c[base + m + a * m + b]!++;
    }
    if (n >= 2) c[base + m + m * m]!++;
  }
}

class Precedence extends Claim {
  constructor(
    inputs: ClaimInputs,
    base: number,
    when: Expr | null,
    private readonly flag: CoreFacts | null,
    /** The claimed rule's index, or -1 when variants are claimed. */
    private readonly rule: number,
    private readonly rules: number,
    private readonly allowed: Int32Array,
  ) {
    super(inputs, base, when);
  }

  count(c: Float64Array, unit: string): void {
    if (!this.applies(unit)) return;
    const base = this.base;
    const r = this.flag;
    c[base]!++;
    const decided = r !== null && r.served ? r.rule : -1;
    const ok = this.rule >= 0 ? decided === this.rule : decided >= 0 && this.allowed.includes(r!.variant);
    if (ok) c[base + 1]!++;
    c[base + 2 + (decided >= 0 ? decided : this.rules)]!++;
  }
}

class Share extends Claim {
  constructor(
    inputs: ClaimInputs,
    base: number,
    when: Expr | null,
    private readonly flag: CoreFacts | null,
    private readonly variant: number,
  ) {
    super(inputs, base, when);
  }

  count(c: Float64Array, unit: string): void {
    if (!this.applies(unit)) return;
    const r = this.flag;
    c[this.base]!++;
    if (r !== null && r.served && r.variant === this.variant) c[this.base + 1]!++;
  }
}

class Monotone extends Claim {
  constructor(
    inputs: ClaimInputs,
    base: number,
    when: Expr | null,
    private readonly targets: readonly Target[],
    /** Each target at the previous step (null: not a target there, or no previous step). */
    private readonly before: readonly (Target | null)[],
  ) {
    super(inputs, base, when);
  }

  count(c: Float64Array, unit: string): void {
    if (!this.applies(unit)) return;
    for (let a = 0; a < this.targets.length; a++) {
      const before = this.before[a] ?? null;
      if (before === null || !before.inside) continue;
      c[this.base + 2 * a]!++;
      if (!this.targets[a]!.inside) c[this.base + 2 * a + 1]!++;
    }
  }
}

class Sticky extends Claim {
  constructor(
    inputs: ClaimInputs,
    base: number,
    private readonly flag: CoreFacts | null,
    /** The claim's index in the plan (what `remembered` is indexed by). */
    private readonly claim: number,
  ) {
    super(inputs, base, null);
  }

  count(c: Float64Array): void {
    const variant = this.inputs.remembered[this.claim]!;
    if (variant === NOT_REMEMBERED) return;
    const r = this.flag;
    c[this.base]!++;
    if (r === null || !r.served) c[this.base + 3]!++;
    else if (r.variant === variant) c[this.base + 1]!++;
    else c[this.base + 2]!++;
  }
}

/** A sticky claim whose `from` is this step: remembers the variant this step serves the unit. */
class Remember extends Claim {
  constructor(
    inputs: ClaimInputs,
    when: Expr | null,
    private readonly flag: CoreFacts | null,
    private readonly claim: number,
  ) {
    super(inputs, -1, when);
  }

  count(_c: Float64Array, unit: string): void {
    const holds = this.applies(unit);
    const r = this.flag;
    this.inputs.remembered[this.claim] = holds && r !== null && r.served && r.variant !== Names.EMPTY ? r.variant : NOT_REMEMBERED;
  }
}

export class ClaimCounter {
  /** Whether there is anything to count at this step. */
  readonly active: boolean;
  /** The step's claim targets (the next step's monotone claims read them). */
  readonly targets: readonly Target[];
  /** Sticky claims whose `from` is this step. */
  private readonly remember: readonly Remember[];
  /** The step's claims, in plan order. */
  private readonly claims: readonly Claim[];

  /**
   * `facts`: core's result per flag of the step; `previous`: the previous step's counter
   * (null at the first step).
   */
  constructor(
    private readonly plan: StepPlan,
    claims: readonly ClaimSpec[],
    inputs: ClaimInputs,
    facts: readonly CoreFacts[],
    names: Names,
    previous: ClaimCounter | null,
  ) {
    const layout = new StepLayout(plan);
    const flagOf = (index: number): CoreFacts | null => (index >= 0 ? facts[index]! : null);
    this.targets = plan.claimTargets.map((t) => {
      const segment = t.kind === 'segment' && t.index >= 0 ? (inputs.model.segments.get(t.name) ?? null) : null;
      return new Target(inputs, t.kind === 'flag' ? flagOf(t.index) : null, t.kind === 'segment' ? t.index : -1, segment?.targeting == null ? null : segment);
    });
    this.remember = claims.flatMap((c, i) =>
      c.kind === 'sticky' && c.from === plan.label ? [new Remember(inputs, conditionOf(c), flagOf(plan.flags.findIndex((f) => f.name === c.flag)), i)] : [],
    );
    this.claims = plan.claims.map((c, k) => this.claim(c, claims[c.claim]!, layout.claims[k]!, inputs, flagOf(c.flag), names, previous));
    this.active = this.remember.length + this.claims.length > 0;
  }

  private claim(c: StepClaim, spec: ClaimSpec, base: number, inputs: ClaimInputs, flag: CoreFacts | null, names: Names, previous: ClaimCounter | null): Claim {
    const when = c.kind === 'sticky' ? null : conditionOf(spec);
    const targets = c.targets.map((t) => this.targets[t]!);
    switch (spec.kind) {
      case 'exclusive':
        return new Exclusive(inputs, base, when, targets);
      case 'precedence':
        return new Precedence(inputs, base, when, flag, c.rule, c.rules, Int32Array.from(spec.variants ?? [], (v) => names.id(v)));
      case 'share':
        return new Share(inputs, base, when, flag, names.id(spec.variant));
      case 'monotone': {
        const before = c.targets.map((t) => {
          const at = this.plan.claimTargets[t]!.previous;
          return previous !== null && at >= 0 ? previous.targets[at]! : null;
        });
        return new Monotone(inputs, base, when, targets, before);
      }
      case 'sticky':
        return new Sticky(inputs, base, flag, c.claim);
    }
  }

  /** Counts one unit (core's results are in the step's `CoreFacts`). */
  count(c: Float64Array, unit: string): void {
    const remember = this.remember;
    for (let k = 0; k < remember.length; k++) remember[k]!.count(c, unit);
    const targets = this.targets;
    for (let t = 0; t < targets.length; t++) targets[t]!.update(unit);
    const claims = this.claims;
    for (let k = 0; k < claims.length; k++) claims[k]!.count(c, unit);
  }
}
