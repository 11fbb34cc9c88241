/**
 * Inline SVG charts of the HTML report, written by hand (no scripts, no external resources,
 * no DOM at build time): each is a function of the report's data to one `<svg>` element with
 * a title, labelled axes and ticks at round numbers. The charts are built to show a problem:
 * deviations from the expected share centred on zero, p-values against what chance gives.
 */
import type { CheckResult, Report } from '../types.js';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  // The roundest step near the raw one (up to ~40% more ticks than asked for).
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * 0.7) ?? 10 * power;
  const out: number[] = [];
  const last = Math.floor(hi / step + 1e-9);
  for (let k = Math.ceil(lo / step - 1e-9); k <= last; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

/** A tick label with as many decimals as the step needs. */
function tickText(v: number, ticks: readonly number[]): string {
  if (v === 0) return '0';
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(digits);
}

const svgOpen = (cls: string, width: number, height: number, title: string): string =>
  `<svg class="chart ${cls}" role="img" aria-label="${escapeXml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"><title>${escapeXml(title)}</title>`;

const f1 = (x: number): string => x.toFixed(1);

/** `text` in lines of at most `max` characters, broken at spaces (a longer word is cut across lines): a label shown whole. */
export function wrapText(text: string, max: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (candidate.length <= max) {
      line = candidate;
      continue;
    }
    if (line !== '') lines.push(line);
    line = word;
    while (line.length > max) {
      lines.push(line.slice(0, max));
      line = line.slice(max);
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

const LINE_HEIGHT = 13;

/** A right-aligned label of one or more lines, vertically centred on `y`. */
function labelText(x: number, y: number, lines: readonly string[]): string {
  const first = y + 4 - ((lines.length - 1) * LINE_HEIGHT) / 2;
  const spans = lines.map((l, i) => `<tspan x="${x}" ${i === 0 ? `y="${f1(first)}"` : `dy="${LINE_HEIGHT}"`}>${escapeXml(l)}</tspan>`).join('');
  return `<text text-anchor="end" class="label">${spans}</text>`;
}

/** Height of a row holding `lines` lines of label, at least `min`. */
const rowHeight = (lines: number, min: number): number => Math.max(min, lines * LINE_HEIGHT + 8);

function shortName(subject: string): string {
  return subject.replace(/flags\/([^ ]+) · flags\/\1\/rules\//, '$1 · ').replace(/\b(segments|flags)\//g, '');
}

/** One row per split outcome of a step's proportion tests: observed − expected (pp) with its 99% interval. */
export function deviationChart(step: string, tests: readonly CheckResult[]): string {
  const rows = tests.flatMap((t) => {
    const shares = t.shares ?? [];
    // Two outcomes mirror each other: one row says it all.
    return (shares.length === 2 ? shares.slice(0, 1) : shares).map((s) => ({
      lines: wrapText(`${shortName(t.subject)}: ${s.label}`, 60),
      mid: (s.share - s.expectedShare) * 100,
      low: (s.low - s.expectedShare) * 100,
      high: (s.high - s.expectedShare) * 100,
      failed: !t.passed,
      title: `${t.subject}, ${s.label}: ${(s.share * 100).toFixed(3)}% observed, ${(s.expectedShare * 100).toFixed(3)}% expected (${s.observed.toLocaleString('en-US')} units); p = ${t.pValue?.toPrecision(3) ?? ''}`,
    }));
  });
  const heights = rows.map((r) => rowHeight(r.lines.length, 22));
  const tops = heights.map((_, i) => heights.slice(0, i).reduce((a, b) => a + b, 0));
  const labelW = 390;
  const plotW = 460;
  const top = 10;
  const width = labelW + plotW + 30;
  const rowsHeight = heights.reduce((a, b) => a + b, 0);
  const height = top + rowsHeight + 46;
  const extent = Math.max(0.05, ...rows.map((r) => Math.max(Math.abs(r.low), Math.abs(r.high)))) * 1.1;
  const ticks = niceTicks(-extent, extent, 6);
  const span = Math.max(extent, Math.abs(ticks[0]!), Math.abs(ticks[ticks.length - 1]!));
  const x = (v: number): number => labelW + ((v + span) / (2 * span)) * plotW;
  const bottom = top + rowsHeight;
  const parts = [svgOpen('deviation', width, height, `Deviation from the expected share, step ${step}`)];
  ticks.forEach((t) => {
    parts.push(`<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${top}" y2="${bottom}" class="${t === 0 ? 'zero' : 'grid'}"/>`, `<text x="${f1(x(t))}" y="${bottom + 14}" text-anchor="middle" class="tick">${tickText(t, ticks)}</text>`);
  });
  rows.forEach((r, i) => {
    const y = top + tops[i]! + heights[i]! / 2;
    if (i % 2 === 0) parts.push(`<rect x="0" y="${top + tops[i]!}" width="${width}" height="${heights[i]!}" class="band"/>`);
    parts.push(
      labelText(labelW - 8, y, r.lines),
      `<line x1="${f1(x(r.low))}" x2="${f1(x(r.high))}" y1="${y}" y2="${y}" class="interval${r.failed ? ' bad' : ''}"/>`,
      `<circle cx="${f1(x(r.mid))}" cy="${y}" r="4" class="point${r.failed ? ' bad' : ''}"><title>${escapeXml(r.title)}</title></circle>`,
    );
  });
  parts.push(`<text x="${labelW + plotW / 2}" y="${bottom + 34}" text-anchor="middle" class="axis-label">observed − expected share (percentage points); bars: 99% interval</text>`, '</svg>');
  return parts.join('');
}

/** −log10 p of the distinct tests, sorted, against the quantiles of the uniform distribution. */
export function qqChart(report: Report): string {
  const tests = report.checks.filter((c) => c.pValue !== undefined && c.sameAs === undefined).sort((a, b) => a.pValue! - b.pValue!);
  const m = tests.length;
  const threshold = -Math.log10(report.alpha / Math.max(1, report.tests));
  const size = 380;
  const left = 56;
  const top = 14;
  const plotW = size - left - 16;
  const plotH = size - top - 50;
  const expectedMax = m === 0 ? 1 : -Math.log10(0.5 / m);
  const cap = Math.max(threshold * 1.25, expectedMax * 1.1);
  const observed = tests.map((t) => (t.pValue! <= 0 ? Infinity : -Math.log10(t.pValue!)));
  const yMax = Math.min(cap * 2, Math.max(cap, ...observed.filter((v) => Number.isFinite(v)).map((v) => v * 1.05)));
  const xMax = Math.max(1, expectedMax * 1.1);
  const x = (v: number): number => left + (v / xMax) * plotW;
  const y = (v: number): number => top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const parts = [svgOpen('qq', size + 170, size, 'p-values against the uniform distribution (QQ plot)')];
  const xt = niceTicks(0, xMax, 4);
  const yt = niceTicks(0, yMax, 5);
  for (const t of xt) parts.push(`<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${top}" y2="${top + plotH}" class="grid"/><text x="${f1(x(t))}" y="${top + plotH + 14}" text-anchor="middle" class="tick">${tickText(t, xt)}</text>`);
  for (const t of yt) parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${f1(y(t))}" y2="${f1(y(t))}" class="grid"/><text x="${left - 6}" y="${f1(y(t) + 4)}" text-anchor="end" class="tick">${tickText(t, yt)}</text>`);
  const diagonal = Math.min(xMax, yMax);
  parts.push(
    `<line x1="${x(0)}" y1="${y(0)}" x2="${f1(x(diagonal))}" y2="${f1(y(diagonal))}" class="diagonal"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${f1(y(threshold))}" y2="${f1(y(threshold))}" class="threshold"/>`,
    `<text x="${left + plotW + 6}" y="${f1(y(threshold) + 4)}" class="tick threshold-label">fail above: α/m = ${report.alpha}/${report.tests}</text>`,
    `<text x="${left + plotW + 6}" y="${f1(y(diagonal) + 4)}" class="tick">chance (y = x)</text>`,
  );
  tests.forEach((t, i) => {
    const ex = -Math.log10((i + 0.5) / m);
    const ob = observed[i]!;
    const off = ob > yMax;
    const cx = x(ex);
    const cy = y(ob);
    const title = `${t.step} · ${t.subject}: p = ${t.pValue!.toPrecision(3)}${off ? ' (off the chart)' : ''}`;
    parts.push(
      off
        ? `<path d="M${f1(cx - 5)},${f1(cy + 8)} L${f1(cx + 5)},${f1(cy + 8)} L${f1(cx)},${f1(cy)} Z" class="point bad"><title>${escapeXml(title)}</title></path>`
        : `<circle cx="${f1(cx)}" cy="${f1(cy)}" r="3.5" class="point${t.passed ? '' : ' bad'}"><title>${escapeXml(title)}</title></circle>`,
    );
    if (!t.passed) parts.push(`<text x="${f1(cx - 8)}" y="${f1(cy + 4)}" text-anchor="end" class="tick bad-label">${escapeXml(shortName(t.subject))}</text>`);
  });
  parts.push(
    `<text x="${left + plotW / 2}" y="${size - 14}" text-anchor="middle" class="axis-label">expected −log10 p (uniform, ${m} distinct tests)</text>`,
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis-label">observed −log10 p</text>`,
    '</svg>',
  );
  return parts.join('');
}

/** The minimal detectable effect (pp, 80% power) of every distinct proportion test, and the required one. */
export function powerChart(report: Report): string {
  const tests = report.checks.filter((c) => c.mde !== undefined && c.kind !== 'power' && c.sameAs === undefined);
  const labels = tests.map((t) => wrapText(`${report.steps.length > 1 ? `${t.step} · ` : ''}${shortName(t.subject)}`, 50));
  const heights = labels.map((l) => rowHeight(l.length, 20));
  const tops = heights.map((_, i) => heights.slice(0, i).reduce((a, b) => a + b, 0));
  const labelW = 330;
  const plotW = 400;
  const top = 10;
  const width = labelW + plotW + 90;
  const bottom = top + heights.reduce((a, b) => a + b, 0);
  const height = bottom + 46;
  const max = Math.max(0.1, report.requiredMde ?? 0, ...tests.map((t) => t.mde!)) * 1.1;
  const ticks = niceTicks(0, max, 5);
  const end = Math.max(max, ticks[ticks.length - 1]!);
  const x = (v: number): number => labelW + (v / end) * plotW;
  const parts = [svgOpen('power', width, height, 'Minimal detectable effect of each proportion test at 80% power')];
  for (const t of ticks) parts.push(`<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${top}" y2="${bottom}" class="grid"/><text x="${f1(x(t))}" y="${bottom + 14}" text-anchor="middle" class="tick">${tickText(t, ticks)}</text>`);
  tests.forEach((t, i) => {
    const y = top + tops[i]!;
    const mid = y + heights[i]! / 2;
    const tooWeak = report.requiredMde !== null && t.mde! > report.requiredMde;
    parts.push(
      labelText(labelW - 8, mid, labels[i]!),
      `<rect x="${labelW}" y="${f1(mid - 6)}" width="${f1(Math.max(1, x(t.mde!) - labelW))}" height="12" class="bar${tooWeak ? ' bad' : ''}"><title>${escapeXml(`${t.subject}: ${t.mde!.toPrecision(3)} pp between ${t.mdeBetween?.join(' and ') ?? ''} over ${t.units?.toLocaleString('en-US') ?? ''} units`)}</title></rect>`,
      `<text x="${f1(x(t.mde!) + 4)}" y="${f1(mid + 4)}" class="value">${t.mde!.toPrecision(2)} pp</text>`,
    );
  });
  if (report.requiredMde !== null) {
    parts.push(`<line x1="${f1(x(report.requiredMde))}" x2="${f1(x(report.requiredMde))}" y1="${top - 4}" y2="${bottom}" class="threshold"/><text x="${f1(x(report.requiredMde))}" y="${bottom + 28}" text-anchor="middle" class="tick threshold-label">required ${report.requiredMde} pp</text>`);
  }
  parts.push(`<text x="${labelW + plotW / 2}" y="${bottom + 42}" text-anchor="middle" class="axis-label">smallest shift found with 80% power (percentage points)</text>`, '</svg>');
  return parts.join('');
}

/** Units in both segments of each pair, rows and columns labelled; conflicting pairs (which must be 0) outlined. */
export function overlapHeatmap(o: Report['overlap'][number]): string {
  const n = o.segments.length;
  const names = o.segments.map((s) => shortName(s));
  const cell = Math.max(44, Math.min(72, Math.floor(480 / Math.max(1, n))));
  const labelW = Math.max(90, 7 * Math.max(...names.map((s) => s.length)) + 12);
  const top = Math.max(60, 5 * Math.max(...names.map((s) => s.length)) + 20);
  // Column labels lean right, past the last column.
  const width = Math.max(labelW + n * cell + Math.max(...names.map((s) => s.length)) * 5 + 10, LEGEND_WIDTH);
  const gridBottom = top + n * cell;
  const height = gridBottom + 6 + LEGEND_HEIGHT;
  const max = Math.max(1, ...o.units.flatMap((row, a) => row.filter((_, b) => a !== b)));
  const parts = [svgOpen('heatmap', width, height, `Units in both segments, step ${o.step}`)];
  for (let b = 0; b < n; b++) {
    const cx = labelW + b * cell + cell / 2;
    parts.push(`<text transform="translate(${f1(cx)} ${top - 6}) rotate(-40)" class="label col-label">${escapeXml(names[b]!)}</text>`);
  }
  for (let a = 0; a < n; a++) {
    parts.push(`<text x="${labelW - 6}" y="${top + a * cell + cell / 2 + 4}" text-anchor="end" class="label row-label">${escapeXml(names[a]!)}</text>`);
    for (let b = 0; b < n; b++) {
      const v = o.units[a]![b]!;
      const diagonal = a === b;
      const heat = diagonal ? 0 : v / max;
      const fill = diagonal ? DIAGONAL_FILL : heatFill(heat);
      const conflict = o.conflicting[a]![b]!;
      const cls = conflict ? (v === 0 ? 'cell conflict' : 'cell conflict bad') : 'cell';
      parts.push(
        `<rect x="${labelW + b * cell}" y="${top + a * cell}" width="${cell - 2}" height="${cell - 2}" fill="${fill}" class="${cls}"><title>${escapeXml(`${o.segments[a]!} × ${o.segments[b]!}: ${v.toLocaleString('en-US')} units${diagonal ? ' (in the segment)' : ''}${conflict ? ' (conflicting: must be 0)' : ''}`)}</title></rect>`,
        `<text x="${labelW + b * cell + cell / 2 - 1}" y="${top + a * cell + cell / 2 + 3}" text-anchor="middle" class="count">${compact(v)}</text>`,
      );
    }
  }
  parts.push(heatmapLegend(gridBottom + 14, max), '</svg>');
  return parts.join('');
}

const DIAGONAL_FILL = '#e5e7eb';
const LEGEND_WIDTH = 540;
const LEGEND_HEIGHT = 96;

/** White (0) to blue (the most units any pair shares). */
function heatFill(heat: number): string {
  return `rgb(${Math.round(255 - 180 * heat)},${Math.round(255 - 110 * heat)},255)`;
}

/** What the heatmap's colours and outlines mean, under its grid. */
function heatmapLegend(y: number, max: number): string {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((h, i) => `<rect x="${10 + i * 22}" y="${y}" width="22" height="14" fill="${heatFill(h)}" class="legend-swatch"/>`).join('');
  const line = (dy: number, text: string): string => `<text x="130" y="${y + dy}" class="legend">${escapeXml(text)}</text>`;
  return [
    `<g class="legend">`,
    stops,
    `<text x="10" y="${y + 26}" class="tick">0</text><text x="120" y="${y + 26}" text-anchor="end" class="tick">${compact(max)}</text>`,
    line(11, 'blue: units in both segments of the pair (darker: more)'),
    `<rect x="10" y="${y + 34}" width="14" height="14" fill="${DIAGONAL_FILL}"/>`,
    line(45, 'grey, on the diagonal: units in the segment'),
    `<rect x="10" y="${y + 54}" width="14" height="14" fill="#ffffff" class="cell conflict"/>`,
    line(65, 'green outline: conflicting segments, which must share no unit'),
    `<rect x="10" y="${y + 74}" width="14" height="14" fill="#ffffff" class="cell conflict bad"/>`,
    line(85, 'red outline: conflicting segments that share units'),
    '</g>',
  ].join('');
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  return v.toLocaleString('en-US');
}
