/** The Markdown summary printed after a run and written as report.md. */
import type { CheckKind, CheckResult, Report } from '../types.js';

const TITLES: Record<CheckKind, string> = {
  configuration: 'Configuration compiled as configured',
  'mutual-exclusion': 'Mutual exclusion (exact)',
  'exclusion-group': 'Exclusion groups (exact)',
  'rule-precedence': 'Rule precedence vs reference evaluation (exact)',
  proportion: 'Allocation proportions (sample ratio tests)',
  independence: 'Independence of non-conflicting segments and experiments',
  monotonicity: 'Monotone raises and ramps',
  stickiness: 'Sticky assignments kept',
  'paused-intake': 'Paused intake',
};

export function formatP(p: number | undefined): string {
  if (p === undefined) return '';
  if (p === 0) return '0';
  return p < 1e-4 ? p.toExponential(4) : p.toPrecision(4);
}

function row(c: CheckResult, steps: number): string {
  const stat = c.pValue === undefined ? 'exact' : `χ²=${c.statistic!.toFixed(2)} df=${c.df} p=${formatP(c.pValue)}`;
  const step = steps > 1 ? `${c.step} · ` : '';
  return `| ${c.passed ? 'pass' : '**FAIL**'} | ${step}${c.subject} | ${stat} | ${c.detail} |`;
}

export function renderMarkdown(report: Report): string {
  const failed = report.checks.filter((c) => !c.passed);
  const lines: string[] = [
    `# Simulation: ${report.scenario}`,
    '',
    report.description.trim(),
    '',
    `${report.units.toLocaleString('en-US')} units (seed ${report.seed})${report.steps.length > 1 ? ` through ${report.steps.length} steps (${report.steps.join(' → ')})` : ''}; ` +
      `${report.run.workers} worker${report.run.workers === 1 ? '' : 's'}, ${report.run.seconds.toFixed(1)} s, ${Math.round(report.run.contextsPerSecond).toLocaleString('en-US')} contexts/s.`,
    '',
    report.passed
      ? `**PASSED**: all ${report.checks.length} checks; ${report.tests} statistical tests at family-wise α = ${report.alpha} (Bonferroni: each p ≥ ${formatP(report.alpha / Math.max(1, report.tests))}).`
      : `**FAILED**: ${failed.length} of ${report.checks.length} checks failed.`,
  ];
  const kinds = [...new Set(report.checks.map((c) => c.kind))];
  for (const kind of kinds) {
    const list = report.checks.filter((c) => c.kind === kind);
    const bad = list.filter((c) => !c.passed).length;
    lines.push('', `## ${TITLES[kind]}: ${bad === 0 ? `${list.length} passed` : `${bad} of ${list.length} FAILED`}`, '', '| result | subject | test | detail |', '|---|---|---|---|');
    for (const c of list) lines.push(row(c, report.steps.length));
  }
  if (report.mismatches.length > 0) {
    lines.push('', '## First disagreements with the reference evaluation', '');
    for (const m of report.mismatches) lines.push(`- unit #${m.unit}, ${m.flag}: core ${m.core}; reference ${m.reference}`);
  }
  return `${lines.join('\n')}\n`;
}
