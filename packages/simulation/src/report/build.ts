/** A run's report: the checks, the overlap matrices and the run's numbers, as JSON data. */
import { evaluateChecks } from '../checks/evaluate.js';
import { StepLayout } from '../plan/layout.js';
import type { Plan, Report, Tally } from '../types.js';

export interface RunFacts {
  readonly workers: number;
  readonly seconds: number;
  readonly shards: number;
}

export function buildReport(plan: Plan, tally: Tally, run: RunFacts): Report {
  const { checks, tests } = evaluateChecks(plan, tally);
  const contexts = tally.counts.reduce((a, c) => a + c[0]!, 0);
  const overlap = plan.steps.map((step, k) => {
    const L = new StepLayout(step);
    const c = tally.counts[k]!;
    const S = step.segments.length;
    // The diagonal: units in the segment, its audience included where it has one.
    const inside = (a: number): number => (step.segments[a]!.audience ? c[L.inSegment + a]! : c[L.members + a]!);
    const units = step.segments.map((_, a) => step.segments.map((_, b) => (a === b ? inside(a) : c[L.pairs + Math.min(a, b) * S + Math.max(a, b)]!)));
    const conflicting = step.segments.map((_, a) => step.segments.map((_, b) => step.conflicts.some((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a))));
    return { step: step.label, segments: step.segments.map((s) => s.name), units, conflicting };
  });
  return {
    format: 'allot-simulation-report/1',
    scenario: plan.scenario,
    description: plan.description,
    units: plan.units,
    seed: plan.seed,
    steps: plan.steps.map((s) => s.label),
    passed: checks.every((c) => c.passed),
    alpha: plan.checks.alpha,
    tests,
    requiredMde: plan.checks.mde === null ? null : plan.checks.mde * 100,
    checks,
    overlap,
    mismatches: tally.mismatches.flat(),
    run: { ...run, contextsPerSecond: run.seconds > 0 ? contexts / run.seconds : 0 },
  };
}
