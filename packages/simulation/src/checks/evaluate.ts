/**
 * From a plan and its (merged) counts to check results. Exact checks pass only at zero;
 * statistical ones are Pearson χ² tests whose threshold is the family-wise alpha divided by
 * the number of distinct statistical tests (Bonferroni: a test repeated unchanged at a later
 * step, same subject and same counts, is one test). A check no unit reached is inconclusive.
 */
import { StepLayout } from '../plan/layout.js';
import { SEGMENT_BUCKETS } from '../reference/reference.js';
import { chiSquareIndependence } from '../stats/chi-square.js';
import { hypergeometricTest } from '../stats/hypergeometric.js';
import type { CheckResult, Plan, PlanRule, StepPlan, Tally } from '../types.js';
import { claimChecks } from './claims.js';
import { count, goodnessOfFit, type Draft } from './draft.js';
import { minimalDetectableEffect, unitsToDetect, type DetectableEffect } from '../stats/power.js';

function ruleSplit(step: StepPlan, flag: string, rule: PlanRule, entries: number[]): Draft {
  const configured = rule.assignments.some((a) => a.configured !== null);
  const expected = rule.assignments.map((a) => (configured ? (a.configured ?? 0) * rule.bucketCount : a.width));
  expected.push(configured ? Math.max(0, rule.bucketCount - expected.reduce((a, b) => a + b, 0)) : rule.uncovered);
  const labels = [...rule.assignments.map((a) => a.variant || a.id || a.type), 'no range'];
  const keep = expected.map((e, i) => e > 0 || entries[i]! > 0);
  return goodnessOfFit(
    step,
    'proportion',
    `${flag} · ${rule.name}`,
    labels.filter((_, i) => keep[i]),
    entries.filter((_, i) => keep[i]),
    expected.filter((_, i) => keep[i]),
  );
}

function stepChecks(step: StepPlan, counts: readonly number[], out: Draft[]): void {
  const L = new StepLayout(step);
  const units = counts[L.units]!;
  const at = (i: number): number => counts[i]!;
  const segName = (i: number): string => step.segments[i]!.name;
  const S = step.segments.length;
  const both = (a: number, b: number): number => at(L.pairs + Math.min(a, b) * S + Math.max(a, b));

  for (const m of step.proportionMismatches) out.push({ kind: 'configuration', step: step.label, subject: 'segment proportion', passed: false, detail: m });
  for (const m of step.splitMismatches) out.push({ kind: 'configuration', step: step.label, subject: 'rule split', passed: false, detail: m });

  for (const c of step.conflicts) {
    const inBoth = both(c.a, c.b);
    out.push({
      kind: 'mutual-exclusion',
      step: step.label,
      subject: `${segName(c.a)} × ${segName(c.b)}`,
      passed: inBoth === 0 && c.sharedBuckets === 0,
      detail: `${count(inBoth)} of ${count(units)} units in both; ${count(c.sharedBuckets)} of 1,000,000 buckets shared`,
    });
  }
  step.groups.forEach((g, i) => {
    const overlap = at(L.groupOverlap[i]!);
    out.push({ kind: 'exclusion-group', step: step.label, subject: g.name, passed: overlap === 0, detail: `${count(overlap)} of ${count(units)} units served by two member segments of the group` });
  });

  step.segments.forEach((s, i) => {
    if (s.buckets === 0 || s.buckets === SEGMENT_BUCKETS) return;
    const expected = s.configured !== null ? Math.round(s.configured * SEGMENT_BUCKETS) : s.buckets;
    const inside = at(L.members + i);
    out.push(goodnessOfFit(step, 'proportion', s.name, ['in', 'out'], [inside, units - inside], [expected, SEGMENT_BUCKETS - expected]));
  });
  step.flags.forEach((f, fi) => {
    f.rules.forEach((r, ri) => {
      if (!r.split) return;
      const base = L.ruleEntries[fi]![ri]!;
      const split = ruleSplit(step, f.name, r, Array.from({ length: r.assignments.length + 1 }, (_, a) => at(base + a)));
      if (split.verdict === 'inconclusive') {
        // Units served from their stored assignments were hashed at an earlier step, not here.
        const stored = at(L.ruleOutcome[fi]![ri]! + r.assignments.length);
        split.untestable = stored > 0 ? `no unit was newly assigned by this rule here: its ${count(stored)} units are served their stored sticky variants` : 'no unit reached this rule here';
      }
      out.push(split);
    });
    const wrong = at(L.mismatches[fi]!);
    out.push({ kind: 'rule-precedence', step: step.label, subject: f.name, passed: wrong === 0, detail: `${count(wrong)} of ${count(units)} resolves disagree with the reference evaluation` });
  });

  for (const p of step.segmentPairs) {
    const { unit, universe: u, inA: a, inB: b, shared: both } = p;
    if (a === 0 || b === 0 || a === u || b === u) continue;
    const r = chiSquareIndependence([
      [both, a - both],
      [b - both, u - a - b + both],
    ]);
    // Counted in the unit the allocator drew independently (see pairWithin in plan.ts), and
    // tested exactly: the overlap expected is often one or two blocks, too few for χ².
    const pValue = hypergeometricTest(u, a, b, both);
    const units = unit === 'block' ? 'blocks of 16 buckets' : 'buckets';
    const why = unit === 'block' ? 'both placed in aligned blocks, so counted by block' : 'one placed bucket by bucket, so counted by bucket';
    out.push({
      kind: 'independence',
      step: step.label,
      test: { key: `allocation|${segName(p.a)}|${segName(p.b)}|${unit}|${u},${a},${b},${both}` },
      subject: `${segName(p.a)} × ${segName(p.b)} (allocation)`,
      detail: `${count(both)} ${units} shared, ${count((a * b) / u)} expected if allocated independently (within the ${count(u)} ${units} open to both; ${why}; Fisher's exact test); Cramér's V ${r.cramersV.toFixed(4)}`,
      statistic: r.statistic,
      df: r.df,
      pValue,
      cramersV: r.cramersV,
    });
  }
  step.experimentPairs.forEach((p, i) => {
    const ra = step.flags[p.a[0]]!.rules[p.a[1]]!;
    const rb = step.flags[p.b[0]]!.rules[p.b[1]]!;
    const rows = ra.assignments.length + 1;
    const cols = rb.assignments.length + 1;
    const base = L.pairTables[i]!;
    const table = Array.from({ length: rows }, (_, x) => Array.from({ length: cols }, (_, y) => at(base + x * cols + y)));
    const r = chiSquareIndependence(table);
    const subject = `${step.flags[p.a[0]]!.name} × ${step.flags[p.b[0]]!.name}`;
    if (r.df === 0) {
      const detail = `${count(r.n)} units in both experiments, with too few outcomes to test`;
      out.push({ kind: 'independence', step: step.label, subject, verdict: 'inconclusive', units: r.n, detail, untestable: `${detail} here` });
      return;
    }
    out.push({
      kind: 'independence',
      step: step.label,
      subject,
      detail: `${count(r.n)} units in both experiments; Cramér's V ${r.cramersV.toFixed(4)}`,
      statistic: r.statistic,
      df: r.df,
      pValue: r.pValue,
      cramersV: r.cramersV,
      units: r.n,
      test: { key: `experiments|${subject}|${JSON.stringify(table)}` },
    });
  });

  step.monotone.forEach((m, i) => {
    const left = at(L.monotoneLeft[i]!);
    out.push({ kind: 'monotonicity', step: step.label, subject: segName(m.segment), passed: left === 0 && m.lostBuckets === 0, detail: `${count(left)} units left the segment; ${count(m.lostBuckets)} buckets dropped from its allocation` });
  });
  step.flags.forEach((f, fi) => { f.rules.forEach((r, ri) => {
      if (r.sticky === null) return;
      const checked = at(L.stickyChecked[fi]![ri]!);
      if (checked > 0) {
        const broken = at(L.stickyBroken[fi]![ri]!);
        out.push({ kind: 'stickiness', step: step.label, subject: `${f.name} · ${r.name}`, passed: broken === 0, detail: `${count(broken)} of ${count(checked)} sticky units lost their variant` });
      }
      if (r.sticky.mustMatch) {
        const admitted = at(L.intakeNew[fi]![ri]!);
        out.push({ kind: 'paused-intake', step: step.label, subject: `${f.name} · ${r.name}`, passed: admitted === 0, detail: `${count(admitted)} units admitted with intake paused` });
      }
    }); },
  );
}

/** Every check of a run: Bonferroni over the distinct tests, inconclusive allowances, power. */
export function evaluateChecks(plan: Plan, tally: Tally): { checks: CheckResult[]; tests: number } {
  const drafts: Draft[] = [];
  const stepOf: number[] = [];
  plan.steps.forEach((step, k) => {
    stepChecks(step, tally.counts[k]!, drafts);
    claimChecks(plan, k, tally.counts[k]!, drafts);
    while (stepOf.length < drafts.length) stepOf.push(k);
  });
  const first = new Map<string, Draft>();
  for (const d of drafts) {
    if (d.pValue === undefined || d.test === undefined) continue;
    const seen = first.get(d.test.key);
    if (seen === undefined) first.set(d.test.key, d);
    else d.sameAs = seen.step;
  }
  const tests = first.size;
  const threshold = plan.checks.alpha / Math.max(1, tests);
  const allow = plan.checks.allowInconclusive;
  const allowed = (d: Draft): boolean =>
    allow === true || (Array.isArray(allow) && (allow.includes(d.subject) || allow.includes(d.step) || (d.claim !== undefined && allow.includes(d.claim))));
  const coveredAt = coverage(drafts, stepOf, plan);
  const checks: CheckResult[] = [];
  drafts.forEach((d, i) => {
    const { test, passed: exact, verdict: given, untestable, ...rest } = d;
    const expectedShares = test?.expectedShares;
    const covering = coveredAt.get(d);
    if (covering !== undefined) {
      checks.push({ ...rest, verdict: 'not-testable', passed: true, coveredAt: covering, detail: `not testable at this step: ${untestable!}; covered at step ${covering}, where it was tested` });
      return;
    }
    if (untestable !== undefined && plan.checks.mde !== null && d.kind === 'proportion') {
      // Never tested at any step: the required power is not there, whatever is allowed.
      checks.push({ kind: 'power', step: d.step, subject: d.subject, verdict: 'inconclusive', passed: false, units: 0, detail: `no unit reached it at any step, so it cannot detect ${fmtPp(plan.checks.mde * 100)} pp` });
    }
    const verdict = given ?? (d.pValue !== undefined ? (d.pValue >= threshold ? 'pass' : 'fail') : exact === false ? 'fail' : 'pass');
    // A test with one possible outcome detects any shift exactly: no power to state.
    const power = expectedShares !== undefined && expectedShares.filter((x) => x > 0).length > 1 && d.units !== undefined && d.units > 0 ? minimalDetectableEffect(d.units, expectedShares, threshold) : null;
    const labels = d.shares?.map((s) => s.label) ?? [];
    checks.push({
      ...rest,
      verdict,
      passed: verdict === 'pass' || (verdict === 'inconclusive' && allowed(d)),
      ...(d.pValue === undefined ? {} : { threshold }),
      ...(power === null ? {} : { mde: power.effect * 100, mdeBetween: [labels[power.between[0]] ?? '', labels[power.between[1]] ?? ''] as const }),
    });
    if (power !== null && plan.checks.mde !== null && d.sameAs === undefined) {
      checks.push(powerCheck(d, power, plan.checks.mde, tally.counts[stepOf[i]!]![0]!, plan.units));
    }
  });
  return { checks, tests };
}

/**
 * Checks the scenario did not write (no claim, no power requirement) that the timeline makes
 * untestable at a step (a sticky rule whose units are all served their stored variants hashes
 * nobody new), mapped to the step where the same check was tested: the nearest earlier one,
 * else the first later one. A check tested at no step stays inconclusive.
 */
function coverage(drafts: readonly Draft[], stepOf: readonly number[], plan: Plan): Map<Draft, string> {
  // Steps where each check (kind and subject) was tested, in increasing order.
  const tested = new Map<string, number[]>();
  drafts.forEach((d, i) => {
    if (d.claim !== undefined || d.verdict === 'inconclusive') return;
    const key = `${d.kind}|${d.subject}`;
    const steps = tested.get(key) ?? [];
    steps.push(stepOf[i]!);
    tested.set(key, steps);
  });
  const out = new Map<Draft, string>();
  drafts.forEach((d, i) => {
    if (d.untestable === undefined || d.claim !== undefined) return;
    const steps = tested.get(`${d.kind}|${d.subject}`);
    if (steps === undefined) return;
    const k = stepOf[i]!;
    const at = steps.filter((s) => s < k).at(-1) ?? steps.find((s) => s > k);
    // Tested only at this same step (another rule pair of the same two flags): not covered.
    if (at !== undefined) out.set(d, plan.steps[at]!.label);
  });
  return out;
}

/** Whether a proportion test can find the scenario's required effect with 80% power. */
function powerCheck(d: Draft, power: DetectableEffect, required: number, stepUnits: number, units: number): CheckResult {
  const want = `${fmtPp(required * 100)} pp`;
  const has = `the smallest imbalance it detects with 80% power is ${fmtPp(power.effect * 100)} pp, with ${count(d.units!)} of ${count(stepUnits)} units reaching it`;
  const base = { kind: 'power' as const, step: d.step, subject: d.subject, ...(d.claim === undefined ? {} : { claim: d.claim }), units: d.units!, mde: power.effect * 100 };
  if (power.effect <= required) return { ...base, verdict: 'pass', passed: true, detail: `meets the required ${want}: ${has}` };
  // The share of units reaching the test stays; the run must grow until that share is enough.
  const need = Math.ceil((unitsToDetect(required, power) * units) / d.units!);
  return { ...base, verdict: 'fail', passed: false, detail: `too few units to detect ${want} on ${d.subject} at step ${d.step}; need ${count(need)} units (${has})` };
}

export function fmtPp(pp: number): string {
  return pp >= 10 ? pp.toFixed(1) : pp >= 1 ? pp.toFixed(2) : pp.toPrecision(2);
}
