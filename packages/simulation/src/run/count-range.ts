/**
 * The inner loop: units [start, end) through every step of a scenario, each context resolved
 * by core and by the reference evaluator, everything counted into one Float64Array per step.
 * Written for the machine: one reused context, typed arrays, no allocation per context that
 * can be avoided (unit id strings and sticky records aside).
 */
import { loadState, resolveFlag, type CompiledFlag, type ResolvedFlag } from '@allot/core';

import { StepLayout } from '../plan/layout.js';
import { Population, withAttributes } from '../population/population.js';
import { readPath } from '../reference/targeting.js';
import {
  OUTCOME_MATCH,
  OUTCOME_NO_MATCH,
  PrefixCache,
  ReferenceModel,
  TRACE_STICKY,
  referenceResolve,
  unitOfValue,
  type ReferenceFlag,
  type ReferenceOutcome,
  type ReferenceSegment,
} from '../reference/reference.js';
import type { AttributeSpec, MismatchExample, Plan, Scenario, StepPlan, Tally } from '../types.js';
import { ClaimCounter, NOT_REMEMBERED } from './claim-counter.js';
import { CoreFacts, Names } from './core-facts.js';
import { UnitStickyStore } from './sticky-store.js';

const MAX_EXAMPLES = 5;
const REASONS = ['RESOLVE_REASON_MATCH', 'RESOLVE_REASON_NO_SEGMENT_MATCH', 'RESOLVE_REASON_TARGETING_KEY_ERROR'] as const;

/** Everything one step needs in the loop, prepared once per worker. */
interface PreparedStep {
  readonly plan: StepPlan;
  readonly layout: StepLayout;
  readonly counts: Float64Array;
  readonly population: Population;
  readonly model: ReferenceModel;
  readonly state: ReturnType<typeof loadState>;
  readonly client: NonNullable<ReturnType<ReturnType<typeof loadState>['client']>>;
  readonly environments: readonly string[];
  readonly coreFlags: readonly CompiledFlag[];
  readonly refFlags: readonly ReferenceFlag[];
  readonly traces: readonly Int32Array[];
  /** Per flag: the assignment a stored sticky variant picked for this unit, or -1 (hashed, or not served). */
  readonly stickyAssignment: Int32Array;
  /** Per flag: core's result read as integers. */
  readonly facts: readonly CoreFacts[];
  /** Per flag and counts slot of a reference outcome: the core result last found to agree with it. */
  readonly agreed: (ResolvedFlag | null)[];
  /** Per exclusion group: its members' segment ids. */
  readonly groupSegments: readonly Int32Array[];
  /** Per segment: its column in the model's `allocation` (-1: every bucket). */
  readonly segmentColumns: Int32Array;
  readonly sticky: boolean;
  readonly members: Uint8Array;
  /**
   * Per flag and rule: the sticky rule's index in `hashed` (-1: not sticky). A sticky rule's
   * split counts a unit the first time the rule hashes it: a unit hashed again at a later step
   * (it landed in no range, so nothing was stored) has the same bucket, and the units it
   * stored are served, not hashed, so counting the rest again would bias the split.
   */
  readonly stickyRuleIds: readonly Int32Array[];
  /** Per sticky rule of the run: whether the unit being counted was hashed by it at an earlier step. One array, shared by every step. */
  readonly hashed: Uint8Array;
  /** Segments with an audience (targeting), as plan indices, and the reference's segment of each plan index. */
  readonly targeted: Int32Array;
  readonly segmentRefs: readonly ReferenceSegment[];
  readonly memberList: Int32Array;
  readonly examples: MismatchExample[];
  readonly claims: ClaimCounter;
}


export interface RangeJob {
  readonly scenario: Scenario;
  readonly plan: Plan;
  readonly clientSecret: string;
  readonly start: number;
  readonly end: number;
}

/** `store` and `remembered`: the run's, read by claims. */
function prepare(job: RangeJob, store: UnitStickyStore, remembered: Int32Array): PreparedStep[] {
  const out: PreparedStep[] = [];
  let attributes: AttributeSpec[] = [];
  // Prefixes shared with core (see PrefixCache): each (prefix, unit) is hashed once per step.
  const prefixes = new PrefixCache();
  const names = new Names();
  const stickyRules = new Map<string, number>();
  const hashed = new Uint8Array(job.plan.steps.reduce((n, p) => n + p.flags.reduce((m, f) => m + f.rules.length, 0), 0));
  job.scenario.steps.forEach((step, k) => {
    const plan = job.plan.steps[k]!;
    attributes = [...attributes.filter((a) => !step.attributes.some((b) => b.name === a.name)), ...step.attributes];
    // Every flag's walk written as code at load (core's `specialize`): the loop never runs the
    // generic walk, nor meets the switch to the specialized one after a thousand resolves, which
    // would throw away the compiled loop and compile it again in every thread.
    const state = loadState(step.state, { specialize: 'all' });
    const client = state.client(job.clientSecret);
    if (client === undefined) throw new Error(`step ${plan.label}: the state has no client with secret ${job.clientSecret}`);
    prefixes.adopt(state.salt);
    for (const flag of state.flags.values()) for (const rule of flag.rules) prefixes.adopt(rule.prefix);
    const model = new ReferenceModel(step.referenceState ?? step.state, prefixes);
    // Core keeps its bitsets compact (CompactBitset), the reference its own bytes: no copy to
    // share between them (shareEqualBitsets), and core's sets are small enough to stay cached.
    const refFlags = plan.flags.map((f) => model.flags.find((x) => x.name === f.name)!);
    const coreFlags = plan.flags.map((f) => {
      const flag = state.flag(f.name);
      if (flag === undefined) throw new Error(`step ${plan.label}: core's state has no flag ${f.name}`);
      return flag;
    });
    const layout = new StepLayout(plan);
    const ruleIndex = plan.flags.map((f) => new Map(f.rules.map((r, i) => [r.name, i])));
    const facts = ruleIndex.map((index) => new CoreFacts(index, names));
    const population = new Population(withAttributes(job.scenario.population, attributes));
    const members = new Uint8Array(plan.segments.length);
    const inputs = { model, context: population.context, members, store, remembered };
    out.push({
      plan,
      layout,
      counts: new Float64Array(layout.size),
      population,
      model,
      state,
      client,
      environments: model.clients.get(job.clientSecret)?.environments ?? [],
      coreFlags,
      refFlags,
      traces: refFlags.map((f) => new Int32Array(Math.max(1, f.rules.length))),
      stickyAssignment: new Int32Array(refFlags.length).fill(-1),
      facts,
      agreed: new Array<ResolvedFlag | null>(layout.size).fill(null),
      groupSegments: plan.groups.map((g) => Int32Array.from(g.members, (m) => names.id(m.segment))),
      segmentColumns: Int32Array.from(model.segments.values(), (x) => x.column),
      sticky: plan.flags.some((f) => f.rules.some((r) => r.sticky !== null)),
      members,
      stickyRuleIds: plan.flags.map((f) =>
        Int32Array.from(f.rules, (r) => {
          if (r.sticky === null) return -1;
          if (!stickyRules.has(r.name)) stickyRules.set(r.name, stickyRules.size);
          return stickyRules.get(r.name)!;
        }),
      ),
      hashed,
      targeted: Int32Array.from(plan.segments.flatMap((seg, i) => (model.segments.get(seg.name)?.targeting ?? null) !== null ? [i] : [])),
      segmentRefs: plan.segments.map((seg) => model.segments.get(seg.name)!),
      memberList: new Int32Array(plan.segments.length),
      examples: [],
      claims: new ClaimCounter(plan, job.plan.claims, inputs, facts, names, out[k - 1]?.claims ?? null),
    });
  });
  return out;
}

function describeCore(r: ResolvedFlag): string {
  return `${r.reason} rule=${r.rule || '-'} variant=${r.variant || '-'} assignment=${r.assignmentId || '-'} (${r.assignmentKind}) fallthroughs=${r.fallthroughs.length}`;
}

function describeReference(o: ReferenceOutcome, f: ReferenceFlag): string {
  const rule = o.rule >= 0 ? f.rules[o.rule]! : null;
  const id = rule !== null && o.assignment >= 0 ? rule.assignments[o.assignment]!.id : '';
  return `${REASONS[o.outcome]!} rule=${rule?.name ?? '-'} variant=${o.variant || '-'} assignment=${id || '-'} (${o.sticky ? 'sticky' : 'hashed'}) fallthroughs=${o.fallthroughs}`;
}

function agrees(r: ResolvedFlag, o: ReferenceOutcome, f: ReferenceFlag): boolean {
  if (r.reason !== REASONS[o.outcome]) return false;
  if (r.fallthroughs.length !== o.fallthroughs) return false;
  if (o.outcome !== OUTCOME_MATCH) return true;
  const rule = f.rules[o.rule]!;
  if (r.rule !== rule.name || r.variant !== o.variant) return false;
  if (o.sticky) return r.assignmentKind === 'sticky';
  return r.assignmentKind !== 'sticky' && r.assignmentId === rule.assignments[o.assignment]!.id;
}

/** Units in one piece of work: progress is told after each, and counting threads take them in turn. */
export const CHUNK = 16_384;

/** Units per call of the optimized loop (see `RangeCounter.batch`). */
const BATCH = 256;

/**
 * A job's steps prepared once (states loaded, populations, reference models), then counting
 * any units of the job's range given to `count`, in increasing order across calls (the first
 * mismatch examples are kept), and adding them into one tally.
 */
export class RangeCounter {
  private readonly steps: readonly PreparedStep[];
  private readonly store = new UnitStickyStore();
  private readonly anySticky: boolean;
  private readonly outcome: ReferenceOutcome = { outcome: OUTCOME_NO_MATCH, rule: -1, assignment: -1, variant: '', sticky: false, fallthroughs: 0 };

  constructor(job: RangeJob) {
    // Per claim: the variant id a sticky claim's `from` step served this unit.
    const remembered = new Int32Array(job.plan.claims.length).fill(NOT_REMEMBERED);
    this.steps = prepare(job, this.store, remembered);
    this.anySticky = this.steps.some((s) => s.sticky);
  }

  /** Counts units [start, end). */
  count(start: number, end: number): void {
    for (let from = start; from < end; from += BATCH) this.batch(from, Math.min(end, from + BATCH));
  }

  /**
   * Counts units [from, to) at every step: the loop V8 optimizes. Calls are short (BATCH
   * units), so it is compiled as a whole function once it is hot, and every later call, of
   * every chunk, starts in that code. A loop over a whole chunk would be compiled while it runs
   * (on-stack replacement), and each new call would run in unoptimized code again.
   */
  private batch(from: number, to: number): void {
    const steps = this.steps;
    const store = this.store;
    const outcome = this.outcome;
    const anySticky = this.anySticky;
    for (let i = from; i < to; i++) {
      if (anySticky) {
        store.clear();
        steps[0]!.hashed.fill(0);
      }
      // Steps change attributes, never ids: one id string per unit (and equal strings hash once).
      const id = steps.length > 1 ? steps[0]!.population.idAt(i) : undefined;
      for (let k = 0; k < steps.length; k++) {
        const step = steps[k]!;
        const prev = k > 0 ? steps[k - 1]! : null;
        // Filled here rather than in countUnit, whose inlining budget V8 has spent: from here
        // the population's small functions (draws, hashes) are inlined, not called with boxed results.
        countUnit(step, prev, i, step.population.fill(i, id), store, outcome);
        if (step.sticky) store.commit();
      }
    }
  }

  /** What has been counted so far (a copy: counting on, or `reset`, leaves it as it is). */
  tally(): Tally {
    return {
      counts: this.steps.map((s) => Array.from(s.counts)),
      mismatches: this.steps.map((s) => [...s.examples]),
    };
  }

  /**
   * Forgets what has been counted (the counts and the mismatch examples), keeping everything
   * prepared, to count another range as a new counter would. Nothing else carries from one
   * unit to the next: the sticky store, the remembered claims and the hashed rules are per unit.
   */
  reset(): void {
    for (const s of this.steps) {
      s.counts.fill(0);
      s.examples.length = 0;
    }
  }
}

/** Counts units [job.start, job.end); `progress` is told after every CHUNK units. */
export function countRange(job: RangeJob, progress?: (units: number) => void): Tally {
  const counter = new RangeCounter(job);
  for (let from = job.start; from < job.end; from += CHUNK) {
    const to = Math.min(job.end, from + CHUNK);
    counter.count(from, to);
    progress?.(to - from);
  }
  return counter.tally();
}

/** Counts unit `i` at one step; `id` is its id, already written into the step's context. */
function countUnit(step: PreparedStep, prev: PreparedStep | null, i: number, id: string | number, store: UnitStickyStore, outcome: ReferenceOutcome): void {
  const c = step.counts;
  const L = step.layout;
  const plan = step.plan;
  const context = step.population.context;
  const unit = typeof id === 'string' ? id : String(id);
  c[0]!++;

  // Allocation membership of every segment, and of every pair.
  const model = step.model;
  const bucket = model.saltBucketOf(unit);
  const members = step.members;
  const list = step.memberList;
  const S = plan.segments.length;
  const columns = step.segmentColumns;
  const bitsets = model.columnBits;
  const byte = bucket >> 3;
  const bit = 1 << (bucket & 7);
  let n = 0;
  for (let s = 0; s < S; s++) {
    const column = columns[s]!;
    const inside = column < 0 || (bitsets[column]![byte]! & bit) !== 0;
    members[s] = inside ? 1 : 0;
    if (inside) {
      c[L.members + s]!++;
      list[n++] = s;
    }
  }
  // Pairs count units in both segments: a segment with an audience keeps only the units in it.
  if (step.targeted.length > 0) n = keepAudience(step, context, unit, store, n);
  for (let x = 0; x < n; x++) for (let y = x + 1; y < n; y++) c[L.pairs + list[x]! * S + list[y]!]!++;
  if (prev !== null) {
    for (let m = 0; m < plan.monotone.length; m++) {
      const mono = plan.monotone[m]!;
      if (prev.members[mono.previous] === 1 && members[mono.segment] === 0) c[L.monotoneLeft[m]!]!++;
    }
  }

  // Every flag, by core and by the reference.
  const flags = plan.flags;
  const access = step.sticky ? store.access : null;
  for (let f = 0; f < flags.length; f++) {
    const ref = step.refFlags[f]!;
    const trace = step.traces[f]!;
    referenceResolve(model, ref, step.environments, context, store, outcome, trace, null);
    const result = resolveFlag(step.state, step.client, step.coreFlags[f]!, context, access);
    step.facts[f]!.read(result);
    let slot: number;
    if (outcome.outcome === OUTCOME_MATCH) {
      slot = L.ruleOutcome[f]![outcome.rule]! + (outcome.sticky ? ref.rules[outcome.rule]!.assignments.length : outcome.assignment);
    } else {
      slot = outcome.outcome === OUTCOME_NO_MATCH ? L.noMatch[f]! : L.keyError[f]!;
    }
    c[slot]!++;
    // Agreement is a function of core's (frozen) result object and the reference's outcome.
    // An outcome without a stored variant or fallthroughs is its slot: the result last found
    // to agree with it is remembered, and the same object agrees again.
    const settled = !outcome.sticky && outcome.fallthroughs === 0;
    if (!settled || step.agreed[slot] !== result) {
      if (agrees(result, outcome, ref)) {
        if (settled && Object.isFrozen(result)) step.agreed[slot] = result;
      } else {
        c[L.mismatches[f]!]!++;
        if (step.examples.length < MAX_EXAMPLES) step.examples.push({ unit: i, flag: ref.name, core: describeCore(result), reference: describeReference(outcome, ref) });
      }
    }
    const entries = L.ruleEntries[f]!;
    const stickyIds = step.stickyRuleIds[f]!;
    for (let r = 0; r < ref.rules.length; r++) {
      const t = trace[r]!;
      if (t < 0) continue;
      const sticky = stickyIds[r]!;
      if (sticky >= 0) {
        if (step.hashed[sticky] === 1) continue;
        step.hashed[sticky] = 1;
      }
      c[entries[r]! + t]!++;
    }
    if (step.sticky) {
      step.stickyAssignment[f] = outcome.sticky ? outcome.assignment : -1;
      countSticky(step, f, result, context, store);
    }
  }

  if (step.claims.active) step.claims.count(c, unit);

  // Exclusion groups: units served by rules on two different member segments of one group
  // (several flags may use one member segment: that is one experiment's traffic).
  for (let g = 0; g < plan.groups.length; g++) {
    const group = plan.groups[g]!.members;
    const segments = step.groupSegments[g]!;
    let first = -1;
    let overlap = false;
    for (let j = 0; j < group.length; j++) {
      const r = step.facts[group[j]!.flag]!;
      if (!r.served || r.segment !== segments[j]) continue;
      if (first === -1) first = segments[j]!;
      else if (segments[j] !== first) overlap = true;
    }
    if (overlap) c[L.groupOverlap[g]!]!++;
  }

  // Independence of experiments in different flags: joint assignment tables. A unit served
  // its stored sticky variant is in the experiment under that variant's assignment.
  for (let p = 0; p < plan.experimentPairs.length; p++) {
    const pair = plan.experimentPairs[p]!;
    let ta = step.traces[pair.a[0]]![pair.a[1]]!;
    let tb = step.traces[pair.b[0]]![pair.b[1]]!;
    if (ta === TRACE_STICKY) ta = step.stickyAssignment[pair.a[0]]!;
    if (tb === TRACE_STICKY) tb = step.stickyAssignment[pair.b[0]]!;
    if (ta < 0 || tb < 0) continue;
    const width = plan.flags[pair.b[0]]!.rules[pair.b[1]]!.assignments.length + 1;
    c[L.pairTables[p]! + ta * width + tb]!++;
  }
}

/**
 * Of the `n` segments in `step.memberList` (allocation), keeps those whose audience the unit is
 * in, counting it in each targeted one; returns how many are kept. `members` stays allocation.
 */
function keepAudience(step: PreparedStep, context: Record<string, unknown>, unit: string, store: UnitStickyStore, n: number): number {
  const list = step.memberList;
  const c = step.counts;
  const L = step.layout;
  let kept = 0;
  for (let x = 0; x < n; x++) {
    const s = list[x]!;
    const segment = step.segmentRefs[s]!;
    if (segment.targeting !== null) {
      if (!step.model.memberOf(segment, context, unit, store)) continue;
      c[L.inSegment + s]!++;
    }
    list[kept++] = s;
  }
  return kept;
}

/**
 * Stickiness and paused intake for one flag. A unit whose stored assignment (written at any
 * earlier step, paused steps included) names a variant for a sticky rule must be served that
 * variant by it, unless an earlier rule now decides or it left an audience the rule enforces.
 */
function countSticky(step: PreparedStep, f: number, result: ResolvedFlag, context: Record<string, unknown>, store: UnitStickyStore): void {
  const c = step.counts;
  const L = step.layout;
  const rules = step.plan.flags[f]!.rules;
  const served = step.facts[f]!.rule;
  const ref = step.refFlags[f]!;
  if (served >= 0) {
    const spec = rules[served]!.sticky;
    if (spec !== null && spec.mustMatch) {
      const unit = unitOfValue(readPath(context, ref.rules[served]!.path));
      if (typeof unit === 'string' && !store.has(unit, spec.read)) c[L.intakeNew[f]![served]!]!++;
    }
  }
  for (let r = 0; r < rules.length; r++) {
    if (served >= 0 && served < r) return; // an earlier rule now decides: precedence, not stickiness
    const rule = rules[r]!;
    if (!rule.enabled || rule.sticky === null || rule.sticky.read === '') continue;
    const refRule = ref.rules[r]!;
    const unit = unitOfValue(readPath(context, refRule.path));
    if (typeof unit !== 'string') continue;
    const stored = store.get(unit, rule.sticky.read);
    const variant = stored !== null && Object.prototype.hasOwnProperty.call(stored, rule.name) ? stored[rule.name]! : undefined;
    if (variant === undefined || !ref.variants.has(variant)) continue;
    if (!rule.sticky.ignoreTargeting && (refRule.segment === null || !step.model.memberOf(refRule.segment, context, unit, store))) continue;
    c[L.stickyChecked[f]![r]!]!++;
    if (served !== r || result.variant !== variant) c[L.stickyBroken[f]![r]!]!++;
  }
}
