/** Inline SVG charts of the HTML report: no scripts, no external resources. */
import type { CheckResult, Report } from '../types.js';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const pct = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)}%`;

/** Observed share per outcome (bar) with its 99% Wilson interval (whisker) and the expected share (tick). */
export function splitChart(check: CheckResult): string {
  const shares = check.shares ?? [];
  const rowH = 26;
  const labelW = 170;
  const plotW = 420;
  const height = shares.length * rowH + 34;
  const max = Math.min(1, Math.max(...shares.map((s) => Math.max(s.high, s.expectedShare)), 0.01) * 1.15);
  const x = (v: number): number => labelW + (v / max) * plotW;
  const rows = shares.map((s, i) => {
    const y = 8 + i * rowH;
    return [
      `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end" class="label">${escapeXml(s.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${Math.max(1, x(s.share) - labelW).toFixed(2)}" height="${rowH - 8}" class="bar${check.passed ? '' : ' bad'}"><title>${escapeXml(`${s.label}: ${pct(s.share, 3)} observed, ${pct(s.expectedShare, 3)} expected`)}</title></rect>`,
      `<line x1="${x(s.low).toFixed(2)}" x2="${x(s.high).toFixed(2)}" y1="${y + rowH / 2 - 1}" y2="${y + rowH / 2 - 1}" class="whisker"/>`,
      `<line x1="${x(s.expectedShare).toFixed(2)}" x2="${x(s.expectedShare).toFixed(2)}" y1="${y}" y2="${y + rowH - 2}" class="expected"/>`,
      `<text x="${labelW + plotW + 8}" y="${y + 15}" class="value">${pct(s.share)} / ${pct(s.expectedShare)}</text>`,
    ].join('');
  });
  const axisY = 8 + shares.length * rowH + 4;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => t * max).map((v) => `<text x="${x(v).toFixed(1)}" y="${axisY + 14}" text-anchor="middle" class="tick">${pct(v, 1)}</text>`);
  return `<svg class="chart split" role="img" width="${labelW + plotW + 130}" height="${height}" viewBox="0 0 ${labelW + plotW + 130} ${height}" xmlns="http://www.w3.org/2000/svg"><title>${escapeXml(check.subject)}: observed vs expected</title><line x1="${labelW}" x2="${labelW + plotW}" y1="${axisY}" y2="${axisY}" class="axis"/>${rows.join('')}${ticks.join('')}</svg>`;
}

/** Units in both segments of each pair; red outlines mark conflicting pairs (which must be 0). */
export function overlapHeatmap(o: Report['overlap'][number]): string {
  const n = o.segments.length;
  const cell = Math.max(28, Math.min(64, Math.floor(480 / Math.max(1, n))));
  const labelW = 190;
  const top = 20;
  const size = labelW + n * cell + 10;
  const max = Math.max(1, ...o.units.flatMap((row, a) => row.filter((_, b) => a !== b)));
  const cells: string[] = [];
  for (let a = 0; a < n; a++) {
    cells.push(`<text x="${labelW - 6}" y="${top + a * cell + cell / 2 + 4}" text-anchor="end" class="label">${escapeXml(o.segments[a]!)}</text>`);
    for (let b = 0; b < n; b++) {
      const v = o.units[a]![b]!;
      const diagonal = a === b;
      const heat = diagonal ? 0 : v / max;
      const fill = diagonal ? '#e5e7eb' : `rgb(${Math.round(255 - 200 * heat)},${Math.round(255 - 120 * heat)},255)`;
      const conflict = o.conflicting[a]![b]!;
      const cls = conflict ? (v === 0 ? 'cell conflict' : 'cell conflict bad') : 'cell';
      cells.push(
        `<rect x="${labelW + b * cell}" y="${top + a * cell}" width="${cell - 2}" height="${cell - 2}" fill="${fill}" class="${cls}"><title>${escapeXml(`${o.segments[a]!} × ${o.segments[b]!}: ${v.toLocaleString('en-US')} units${conflict ? ' (conflicting)' : ''}`)}</title></rect>`,
        `<text x="${labelW + b * cell + cell / 2 - 1}" y="${top + a * cell + cell / 2 + 3}" text-anchor="middle" class="count">${compact(v)}</text>`,
      );
    }
  }
  const height = top + n * cell + 10;
  return `<svg class="chart heatmap" role="img" width="${size}" height="${height}" viewBox="0 0 ${size} ${height}" xmlns="http://www.w3.org/2000/svg"><title>Segment overlap, ${escapeXml(o.step)}</title><text x="${labelW}" y="14" class="tick">columns in the order of the rows</text>${cells.join('')}</svg>`;
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  return String(v);
}

/** −log10 p of every statistical test against the Bonferroni threshold. */
export function pValueChart(report: Report): string {
  const tests = report.checks.filter((c) => c.pValue !== undefined);
  const threshold = -Math.log10(report.alpha / Math.max(1, report.tests));
  const score = (p: number): number => (p <= 0 ? 320 : -Math.log10(p));
  const max = Math.max(threshold * 1.3, ...tests.map((t) => Math.min(score(t.pValue!), threshold * 3)));
  const barW = Math.max(6, Math.min(28, Math.floor(640 / Math.max(1, tests.length))));
  const h = 180;
  const width = 50 + tests.length * barW + 20;
  const y = (v: number): number => 10 + h - (Math.min(v, max) / max) * h;
  const bars = tests.map((t, i) => {
    const v = score(t.pValue!);
    return `<rect x="${50 + i * barW}" y="${y(v).toFixed(1)}" width="${barW - 2}" height="${Math.max(1, 10 + h - y(v)).toFixed(1)}" class="bar${t.passed ? '' : ' bad'}"><title>${escapeXml(`${t.step} · ${t.subject}: p = ${t.pValue!.toExponential(3)}`)}</title></rect>`;
  });
  return `<svg class="chart pvalues" role="img" width="${width}" height="${h + 40}" viewBox="0 0 ${width} ${h + 40}" xmlns="http://www.w3.org/2000/svg"><title>−log10 p of each test and the Bonferroni threshold</title><line x1="45" x2="${width - 10}" y1="${10 + h}" y2="${10 + h}" class="axis"/>${bars.join('')}<line x1="45" x2="${width - 10}" y1="${y(threshold).toFixed(1)}" y2="${y(threshold).toFixed(1)}" class="threshold"/><text x="${width - 12}" y="${y(threshold) - 4}" text-anchor="end" class="tick">fail above: −log10(α/m) = ${threshold.toFixed(2)}</text><text x="40" y="${10 + h}" text-anchor="end" class="tick">0</text><text x="40" y="18" text-anchor="end" class="tick">${max.toFixed(1)}</text></svg>`;
}
