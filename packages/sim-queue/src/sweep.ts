/**
 * A calibration sweep: one scenario at many seeds. When the configuration does what it claims,
 * every failed run is a false alarm; the share of seeds that failed, with its 99% Wilson
 * interval, is the false-alarm rate of the scenario's own checks, to hold against their α.
 */
import { wilsonInterval, type Report } from '@allot/simulation';

export interface SweepSummary {
  readonly seeds: number;
  /** Seeds whose run failed. */
  readonly failed: readonly number[];
  readonly rate: number;
  /** 99% Wilson interval of the rate. */
  readonly low: number;
  readonly high: number;
  /** The scenario's family-wise significance level. */
  readonly alpha: number;
  /** The rate is not shown to exceed α: the interval's lower end is at most α. */
  readonly calibrated: boolean;
  /** Failed checks, by kind and subject, and at how many seeds each failed (most first). */
  readonly failedChecks: readonly { readonly check: string; readonly seeds: number }[];
}

export function summarizeSweep(reports: readonly Report[]): SweepSummary {
  const failed = reports.filter((r) => !r.passed).map((r) => r.seed);
  const { low, high } = wilsonInterval(failed.length, reports.length);
  const alpha = reports[0]?.alpha ?? 0;
  const byCheck = new Map<string, number>();
  for (const r of reports) {
    const names = new Set(r.checks.filter((c) => !c.passed).map((c) => `${c.kind}: ${c.subject}`));
    for (const name of names) byCheck.set(name, (byCheck.get(name) ?? 0) + 1);
  }
  return {
    seeds: reports.length,
    failed,
    rate: reports.length === 0 ? 0 : failed.length / reports.length,
    low,
    high,
    alpha,
    calibrated: low <= alpha,
    failedChecks: [...byCheck].map(([check, seeds]) => ({ check, seeds })).sort((a, b) => b.seeds - a.seeds || a.check.localeCompare(b.check)),
  };
}

const percent = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;

export function renderSweep(scenario: string, summary: SweepSummary, seeds: string): string {
  const lines = [
    `# Calibration sweep: ${scenario}`,
    '',
    `Seeds ${seeds}: ${summary.failed.length} of ${summary.seeds} runs failed — false-alarm rate ${percent(summary.rate)}, 99% Wilson interval ${percent(summary.low)}–${percent(summary.high)}; the checks' family-wise α is ${percent(summary.alpha)}.`,
    '',
    summary.calibrated
      ? `Calibrated: the rate is not shown to exceed α (the interval starts at or below it).`
      : `NOT calibrated: the whole interval lies above α, so these checks raise more false alarms than they promise.`,
  ];
  if (summary.failed.length > 0) {
    lines.push('', `Failed seeds: ${summary.failed.join(', ')}`, '', '| failed check | seeds |', '|---|---|');
    for (const c of summary.failedChecks) lines.push(`| ${c.check} | ${c.seeds} |`);
  }
  return `${lines.join('\n')}\n`;
}
