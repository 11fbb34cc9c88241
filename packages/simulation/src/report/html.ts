/** The self-contained HTML report: inline CSS and SVG, no scripts, no external resources. */
import type { CheckResult, Report } from '../types.js';
import { formatP, notTestableSummary, verdictText } from './markdown.js';
import { deviationChart, escapeXml, overlapHeatmap, powerChart, qqChart } from './svg.js';

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#111827;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:30px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
p.note{color:#4b5563;font-size:13px;margin:4px 0 10px}
.verdict{font-size:16px;padding:10px 14px;border-radius:6px}.verdict.ok{background:#dcfce7}.verdict.ko{background:#fee2e2}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f9fafb}td.pass{color:#15803d;font-weight:600}td.fail{color:#b91c1c;font-weight:700}td.inconclusive{color:#b45309;font-weight:700}td.not-testable{color:#4b5563;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:18px}.charts figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px 8px}figcaption{font-size:13px;font-weight:600;color:#111827;margin:0 0 4px}
svg text{font:11px system-ui,sans-serif;fill:#374151}svg .count{font-size:10px}svg .axis-label{font-size:12px;fill:#111827}
svg .band{fill:#f9fafb}svg .grid{stroke:#e5e7eb}svg .zero{stroke:#111827;stroke-width:1.5}
svg .point{fill:#2563eb}svg .point.bad{fill:#dc2626}svg .interval{stroke:#2563eb;stroke-width:2}svg .interval.bad{stroke:#dc2626}
svg .bar{fill:#60a5fa}svg .bar.bad{fill:#f87171}svg .diagonal{stroke:#9ca3af;stroke-dasharray:5 4}
svg .threshold{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:4 3}svg .threshold-label,svg .bad-label{fill:#b91c1c}
svg .cell.conflict{stroke:#16a34a;stroke-width:2}svg .cell.bad{stroke:#dc2626;stroke-width:3}
`;

function verdictCell(c: CheckResult): string {
  const cls = c.verdict === 'inconclusive' ? 'inconclusive' : c.verdict === 'not-testable' ? 'not-testable' : c.passed ? 'pass' : 'fail';
  return `<td class="${cls}">${escapeXml(verdictText(c))}</td>`;
}

function claimsTable(report: Report): string {
  const claims = report.checks.filter((c) => c.claim !== undefined && c.kind !== 'power');
  if (claims.length === 0) return '<p class="note">The scenario states no intent claims (claims: exclusive, precedence, share, monotone, sticky).</p>';
  const rows = claims.map(
    (c) =>
      `<tr>${verdictCell(c)}<td>${escapeXml(c.claim!)}</td><td>${escapeXml(c.step)}</td><td>${c.pValue === undefined ? (c.verdict === 'inconclusive' ? 'not tested' : 'exact') : escapeXml(`χ² p = ${formatP(c.pValue)}`)}</td><td>${escapeXml(c.detail)}</td></tr>`,
  );
  return `<table class="claims"><thead><tr><th>verdict</th><th>claim</th><th>step</th><th>test</th><th>detail</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

export function renderHtml(report: Report): string {
  const failed = report.checks.filter((c) => !c.passed);
  const inconclusive = report.checks.filter((c) => c.verdict === 'inconclusive').length;
  const untestable = notTestableSummary(report);
  const verdict = report.passed
    ? `<p class="verdict ok">PASSED: all ${report.checks.length} checks over ${report.units.toLocaleString('en-US')} units${inconclusive > 0 ? ` (${inconclusive} inconclusive, allowed by the scenario)` : ''}.</p>`
    : `<p class="verdict ko">FAILED: ${failed.length} of ${report.checks.length} checks (${failed.filter((c) => c.verdict === 'inconclusive').length} inconclusive).</p>`;
  const proportionTests = report.checks.filter((c) => c.shares !== undefined && c.shares.length > 0 && c.sameAs === undefined);
  const deviations = report.steps
    .map((step) => [step, proportionTests.filter((c) => c.step === step)] as const)
    .filter(([, tests]) => tests.length > 0)
    .map(([step, tests]) => `<figure><figcaption>${escapeXml(`Step ${step}: ${tests.length} proportion test${tests.length === 1 ? '' : 's'}`)}</figcaption>${deviationChart(step, tests)}</figure>`);
  const rows = report.checks.map(
    (c) =>
      `<tr>${verdictCell(c)}<td>${escapeXml(c.kind)}</td><td>${escapeXml(c.step)}</td><td>${escapeXml(c.subject)}</td><td>${c.pValue === undefined ? '' : escapeXml(`χ²=${c.statistic!.toFixed(2)}, df=${c.df}`)}</td><td>${formatP(c.pValue)}${c.sameAs === undefined ? '' : escapeXml(` (as at ${c.sameAs})`)}</td><td>${c.mde === undefined ? '' : `${c.mde.toPrecision(2)} pp`}</td><td>${escapeXml(c.detail)}</td></tr>`,
  );
  const threshold = report.alpha / Math.max(1, report.tests);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>allot simulation: ${escapeXml(report.scenario)}</title><style>${CSS}</style></head>
<body>
<h1>Simulation: ${escapeXml(report.scenario)}</h1>
<p>${escapeXml(report.description)}</p>
<p>${report.units.toLocaleString('en-US')} units, seed ${report.seed}, steps: ${escapeXml(report.steps.join(' → '))}. ${report.run.workers} workers, ${report.run.seconds.toFixed(1)} s. ${report.tests} distinct statistical tests at family-wise α = ${report.alpha}: each fails below p = ${formatP(threshold)}.</p>
${verdict}
${untestable === '' ? '' : `<p class="note not-testable">${escapeXml(untestable)}</p>`}
<h2 id="claims">Intent claims</h2>
<p class="note">What the scenario's author intends, checked apart from what the workspace says. Inconclusive: no unit reached the claim.</p>
${claimsTable(report)}
<h2 id="deviations">Deviation from the expected share</h2>
<p class="note">Each row is one outcome of a proportion test (a segment's allocation, a rule's split, a share claim): observed minus expected share in percentage points, with its 99% Wilson interval. Centred on zero; red rows belong to failed tests.</p>
<div class="charts">${deviations.join('\n') || '<p class="note">No proportion test ran.</p>'}</div>
<h2 id="pvalues">p-values against chance</h2>
<p class="note">Sorted p-values of the ${report.tests} distinct tests against the quantiles a correct configuration gives (uniform): points near the dashed diagonal are chance; points above the red line fail.</p>
<div class="charts"><figure>${qqChart(report)}</figure></div>
<h2 id="power">Power: the smallest imbalance each test finds</h2>
<p class="note">Minimal detectable effect at 80% power and the corrected threshold: a shift between the two largest outcomes this small or larger would fail the test 4 times in 5.${report.requiredMde === null ? '' : ` The scenario requires ${report.requiredMde} pp.`}</p>
<div class="charts"><figure>${powerChart(report)}</figure></div>
<h2 id="overlap">Segment overlap</h2>
<p class="note">Units in both segments of each pair: the darker the blue, the more units (the legend under each grid gives the scale). The grey diagonal: units in the segment (in its audience, where it has targeting, and its allocation). Green outline: a conflicting pair, which must hold 0; red: one that does not.</p>
<div class="charts">${report.overlap.map((o) => `<figure><figcaption>${escapeXml(`Step ${o.step}: units in both segments`)}</figcaption>${overlapHeatmap(o)}</figure>`).join('\n')}</div>
<h2 id="checks">Every check</h2>
<table class="checks"><thead><tr><th>result</th><th>check</th><th>step</th><th>subject</th><th>test</th><th>p</th><th>MDE</th><th>detail</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
</body></html>
`;
}
