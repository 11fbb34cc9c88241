/** A check result before the run-wide verdicts (Bonferroni threshold, inconclusive allowances, power). */
import { chiSquareGoodnessOfFit } from '../stats/chi-square.js';
import { wilsonInterval } from '../stats/wilson.js';
import type { CheckResult, ObservedShare, StepPlan } from '../types.js';

export type Draft = Omit<CheckResult, 'passed' | 'threshold' | 'verdict' | 'sameAs'> & {
  passed?: boolean;
  sameAs?: string;
  verdict?: CheckResult['verdict'];
  /**
   * Why a check the scenario did not write could not be tested at this step. When the same
   * check was tested at another step, it is reported as not testable here, covered there.
   */
  untestable?: string;
  /** Statistical tests: what makes two tests the same test (subject and counts); proportion tests: the expected proportions. */
  test?: { readonly key: string; readonly expectedShares?: readonly number[] };
};

export const count = (n: number): string => Math.round(n).toLocaleString('en-US');
export const pct = (x: number): string => `${(x * 100).toFixed(3)}%`;

function shares(labels: readonly string[], observed: readonly number[], expected: readonly number[]): ObservedShare[] {
  const n = observed.reduce((a, b) => a + b, 0);
  const total = expected.reduce((a, b) => a + b, 0);
  return labels.map((label, i) => {
    const { low, high } = wilsonInterval(observed[i]!, n);
    return {
      label,
      observed: observed[i]!,
      expected: (n * expected[i]!) / total,
      share: n === 0 ? 0 : observed[i]! / n,
      low,
      high,
      expectedShare: expected[i]! / total,
    };
  });
}

export function goodnessOfFit(step: StepPlan, kind: CheckResult['kind'], subject: string, labels: string[], observed: number[], expected: number[]): Draft {
  const n = observed.reduce((a, b) => a + b, 0);
  if (n === 0) return { kind, step: step.label, subject, verdict: 'inconclusive', units: 0, detail: 'no unit reached it: nothing was tested' };
  const r = chiSquareGoodnessOfFit(observed, expected);
  const parts = shares(labels, observed, expected).map((s) => `${s.label} ${pct(s.share)} (expected ${pct(s.expectedShare)})`);
  return {
    kind,
    step: step.label,
    subject,
    detail: `${count(n)} units: ${parts.join(', ')}`,
    statistic: r.statistic,
    df: r.df,
    pValue: r.pValue,
    shares: shares(labels, observed, expected),
    units: n,
    test: { key: `${kind}|${subject}|${observed.join(',')}|${expected.join(',')}`, expectedShares: expected },
  };
}

