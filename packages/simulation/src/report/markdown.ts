/** The Markdown summary printed after a run and written as report.md. */
import type { CheckKind, CheckResult, Report } from '../types.js';

const TITLES: Record<CheckKind, string> = {
  exclusive: 'Claim: exclusive',
  precedence: 'Claim: precedence',
  share: 'Claim: share',
  monotone: 'Claim: monotone',
  sticky: 'Claim: sticky',
  configuration: 'Configuration compiled as configured',
  'mutual-exclusion': 'Mutual exclusion by coordination tags (exact)',
  'exclusion-group': 'Exclusion groups (exact)',
  'rule-precedence': 'Core agrees with the reference evaluation (exact)',
  proportion: 'Allocation proportions and splits (sample ratio tests)',
  independence: 'Independence of non-conflicting segments and experiments',
  monotonicity: 'Raises and ramps keep their units',
  stickiness: 'Sticky assignments kept',
  'paused-intake': 'Paused intake',
  power: 'Power: the required minimal detectable effect',
};

const CLAIMS: readonly CheckKind[] = ['exclusive', 'precedence', 'share', 'monotone', 'sticky'];

export function formatP(p: number | undefined): string {
  if (p === undefined) return '';
  if (p === 0) return '0';
  return p < 1e-4 ? p.toExponential(4) : p.toPrecision(4);
}

/** pass, FAIL, INCONCLUSIVE, inconclusive (allowed by the scenario), or not testable here (covered at another step). */
export function verdictText(c: CheckResult): string {
  if (c.verdict === 'inconclusive') return c.passed ? 'inconclusive (allowed)' : 'INCONCLUSIVE';
  if (c.verdict === 'not-testable') return `not testable here (covered at ${c.coveredAt ?? 'another step'})`;
  return c.verdict === 'pass' ? 'pass' : 'FAIL';
}

/** One line naming the check, the step and the numbers: what a failure message says. */
export function describeCheck(c: CheckResult): string {
  return `${verdictText(c)}: ${c.claim !== undefined ? `claim "${c.claim}"` : `${c.kind} ${c.subject}`} at step ${c.step}: ${c.detail}`;
}

const pp = (x: number | undefined): string => (x === undefined ? '' : x >= 10 ? `${x.toFixed(1)} pp` : `${x.toPrecision(2)} pp`);

function row(c: CheckResult, steps: number): string {
  const mark = c.passed ? verdictText(c) : `**${verdictText(c)}**`;
  const stat = c.verdict === 'inconclusive' || c.verdict === 'not-testable' ? 'not tested' : c.kind === 'power' ? '80% power' : c.pValue === undefined ? 'exact' : `χ²=${c.statistic!.toFixed(2)} df=${c.df} p=${formatP(c.pValue)}${c.sameAs === undefined ? '' : ` (same test as at ${c.sameAs})`}`;
  const step = steps > 1 ? `${c.step} · ` : '';
  return `| ${mark} | ${step}${c.subject} | ${stat} | ${pp(c.mde)} | ${c.detail} |`;
}

/**
 * One sentence on the checks the timeline left untestable at a step and where each was
 * tested instead ('' when there are none): they pass the run, and the report says so.
 */
export function notTestableSummary(report: Report): string {
  const list = report.checks.filter((c) => c.verdict === 'not-testable');
  if (list.length === 0) return '';
  const where = [...new Set(list.map((c) => c.coveredAt ?? ''))].join(', ');
  return `Not testable at their step: ${list.length} check${list.length === 1 ? '' : 's'} the scenario did not write (no unit newly assigned there, e.g. a sticky experiment's units served their stored variants), each covered at the step where it was tested (${where}); they do not fail the run.`;
}

export function renderMarkdown(report: Report): string {
  const failed = report.checks.filter((c) => !c.passed);
  const inconclusive = report.checks.filter((c) => c.verdict === 'inconclusive');
  const untestable = notTestableSummary(report);
  const threshold = formatP(report.alpha / Math.max(1, report.tests));
  const lines: string[] = [
    `# Simulation: ${report.scenario}`,
    '',
    report.description.trim(),
    '',
    `${report.units.toLocaleString('en-US')} units (seed ${report.seed})${report.steps.length > 1 ? ` through ${report.steps.length} steps (${report.steps.join(' → ')})` : ''}; ` +
      `${report.run.workers} worker${report.run.workers === 1 ? '' : 's'}, ${report.run.seconds.toFixed(1)} s, ${Math.round(report.run.contextsPerSecond).toLocaleString('en-US')} contexts/s.`,
    '',
    report.passed
      ? `**PASSED**: all ${report.checks.length} checks${inconclusive.length > 0 ? ` (${inconclusive.length} inconclusive, allowed by the scenario)` : ''}; ${report.tests} distinct statistical tests at family-wise α = ${report.alpha} (Bonferroni: each p ≥ ${threshold}).`
      : `**FAILED**: ${failed.length} of ${report.checks.length} checks (${failed.filter((c) => c.verdict === 'inconclusive').length} inconclusive: no unit reached them); ${report.tests} distinct statistical tests, each p ≥ ${threshold}.`,
  ];
  if (untestable !== '') lines.push('', untestable);
  if (failed.length > 0) {
    lines.push('');
    for (const c of failed.slice(0, 20)) lines.push(`- ${describeCheck(c)}`);
    if (failed.length > 20) lines.push(`- … and ${failed.length - 20} more below`);
  }
  const kinds = [...new Set(report.checks.map((c) => c.kind))].sort((a, b) => Number(!CLAIMS.includes(a)) - Number(!CLAIMS.includes(b)));
  for (const kind of kinds) {
    const list = report.checks.filter((c) => c.kind === kind);
    const bad = list.filter((c) => !c.passed).length;
    lines.push('', `## ${TITLES[kind]}: ${bad === 0 ? `${list.length} passed` : `${bad} of ${list.length} FAILED`}`, '', '| result | subject | test | MDE (80% power) | detail |', '|---|---|---|---|---|');
    for (const c of list) lines.push(row(c, report.steps.length));
  }
  if (report.mismatches.length > 0) {
    lines.push('', '## First disagreements with the reference evaluation', '');
    for (const m of report.mismatches) lines.push(`- unit #${m.unit}, ${m.flag}: core ${m.core}; reference ${m.reference}`);
  }
  return `${lines.join('\n')}\n`;
}
