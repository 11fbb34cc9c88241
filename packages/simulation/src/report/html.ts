/** The self-contained HTML report: inline CSS and SVG, no scripts, no external resources. */
import type { Report } from '../types.js';
import { formatP } from './markdown.js';
import { escapeXml, overlapHeatmap, pValueChart, splitChart } from './svg.js';

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#111827;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.verdict{font-size:16px;padding:10px 14px;border-radius:6px}.verdict.ok{background:#dcfce7}.verdict.ko{background:#fee2e2}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
td.pass{color:#15803d;font-weight:600}td.fail{color:#b91c1c;font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:18px}.charts figure{margin:0}figcaption{font-size:12px;color:#374151}
svg .label,svg .value,svg .tick,svg .count{font:11px system-ui,sans-serif;fill:#374151}svg .count{font-size:10px}
svg .bar{fill:#60a5fa}svg .bar.bad{fill:#f87171}svg .whisker{stroke:#1f2937;stroke-width:2}svg .expected{stroke:#f59e0b;stroke-width:3}
svg .axis{stroke:#9ca3af}svg .threshold{stroke:#dc2626;stroke-dasharray:4 3}svg .cell.conflict{stroke:#16a34a;stroke-width:2}svg .cell.bad{stroke:#dc2626;stroke-width:3}
`;

export function renderHtml(report: Report): string {
  const splits = report.checks.filter((c) => c.shares !== undefined && c.shares.length > 0);
  const verdict = report.passed
    ? `<p class="verdict ok">PASSED: all ${report.checks.length} checks over ${report.units.toLocaleString('en-US')} units.</p>`
    : `<p class="verdict ko">FAILED: ${report.checks.filter((c) => !c.passed).length} of ${report.checks.length} checks.</p>`;
  const rows = report.checks.map(
    (c) =>
      `<tr><td class="${c.passed ? 'pass' : 'fail'}">${c.passed ? 'pass' : 'FAIL'}</td><td>${escapeXml(c.kind)}</td><td>${escapeXml(c.step)}</td><td>${escapeXml(c.subject)}</td><td>${c.pValue === undefined ? 'exact' : escapeXml(`χ²=${c.statistic!.toFixed(2)}, df=${c.df}`)}</td><td>${formatP(c.pValue)}</td><td>${c.threshold === undefined ? '' : formatP(c.threshold)}</td><td>${escapeXml(c.detail)}</td></tr>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>allot simulation: ${escapeXml(report.scenario)}</title><style>${CSS}</style></head>
<body>
<h1>Simulation: ${escapeXml(report.scenario)}</h1>
<p>${escapeXml(report.description)}</p>
<p>${report.units.toLocaleString('en-US')} units, seed ${report.seed}, steps: ${escapeXml(report.steps.join(' → '))}. ${report.run.workers} workers, ${report.run.seconds.toFixed(1)} s.</p>
${verdict}
<h2>Observed vs expected proportions (99% Wilson intervals; orange tick: expected)</h2>
<div class="charts">${splits.map((c) => `<figure>${splitChart(c)}<figcaption>${escapeXml(`${c.step} · ${c.subject}: p = ${formatP(c.pValue)}`)}</figcaption></figure>`).join('\n')}</div>
<h2>Segment overlap (units in both; green outline: conflicting pair, must be 0)</h2>
<div class="charts">${report.overlap.map((o) => `<figure>${overlapHeatmap(o)}<figcaption>${escapeXml(o.step)}</figcaption></figure>`).join('\n')}</div>
<h2>p-values of the statistical tests</h2>
<div class="charts"><figure>${pValueChart(report)}</figure></div>
<h2>Every check</h2>
<table><thead><tr><th>result</th><th>check</th><th>step</th><th>subject</th><th>test</th><th>p</th><th>threshold</th><th>detail</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
</body></html>
`;
}
