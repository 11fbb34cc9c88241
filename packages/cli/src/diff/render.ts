/**
 * The impact preview as text: per changed flag its start / stop / change shares and the
 * from → to matrix of outcomes, per changed segment its buckets and who enters or leaves,
 * and, where an audience decides, one row per combination of audience matches.
 */
import type { FlagImpact, ImpactPreview, SegmentImpact, Share } from '@allot/admin';

/** `0.15` as `15%`, `0.0123456` as `1.2346%`. */
export function percent(x: number): string {
  const text = (x * 100).toFixed(4).replace(/\.?0+$/, '');
  return `${text === '-0' ? '0' : text}%`;
}

/** An exact share as is; otherwise the estimate (when there is one) and the bounds. */
export function formatShare(s: Share): string {
  if (s.exact !== null) return percent(s.exact);
  const bounds = `${percent(s.low)}–${percent(s.high)}`;
  return s.estimate === null ? bounds : `≈${percent(s.estimate)} (${bounds})`;
}

export function renderImpact(preview: ImpactPreview, before: string, after: string): string[] {
  const lines = [`impact of ${before} → ${after} (account ${preview.account})`];
  const flags = preview.flags.filter((f) => f.changed);
  const segments = preview.segments.filter((s) => s.changed || s.buckets.added + s.buckets.removed > 0);
  const used = new Set([...flags.flatMap((f) => f.conditions), ...segments.flatMap((s) => s.conditions)]);
  if (used.size > 0) {
    lines.push('', 'Audiences (who matches them is up to the population; every result is exact for each combination some context can have; the others are not listed):');
    for (const i of [...used].sort((a, b) => a - b)) lines.push(`  ${preview.conditions[i]!.label}  ${preview.conditions[i]!.text}`);
    lines.push(
      preview.population === null
        ? 'Totals that depend on them are shown as bounds over every possible population; --population scenario.yaml estimates them.'
        : `Estimates (≈) from ${preview.population.units} units of ${preview.population.source}, each to the decimal place of its standard error (at most √(p(1−p)/${preview.population.units})); bounds over every population in brackets.`,
    );
  }
  for (const f of flags) lines.push('', ...renderFlag(f, preview));
  for (const s of segments) lines.push('', ...renderSegment(s, preview));
  const quiet = [
    ...listUnchanged('flag', preview.flags.filter((f) => !f.changed).map((f) => f.flag)),
    ...listUnchanged('segment', preview.segments.filter((s) => !segments.includes(s)).map((s) => s.segment)),
  ];
  if (quiet.length > 0) lines.push('', ...quiet);
  if (flags.length === 0 && segments.length === 0) lines.push('', 'No unit changes outcome or segment.');
  return lines;
}

function listUnchanged(what: string, ids: readonly string[]): string[] {
  return ids.length === 0 ? [] : [`unchanged ${what}s (${ids.length}): ${ids.join(', ')}`];
}

function renderFlag(f: FlagImpact, preview: ImpactPreview): string[] {
  const state = f.before === f.after ? f.before : `${f.before} → ${f.after}`;
  const lines = [`flag ${f.flag} (${state})`];
  lines.push(`  start served ${formatShare(f.start)}, stop served ${formatShare(f.stop)}, change variant ${formatShare(f.change)}`);
  if (f.conditions.length > 0) {
    lines.push(
      ...table(
        ['  by audience', 'start', 'stop', 'change'],
        f.cases.slice(0, SHOWN_CASES).map((c) => [`  ${caseLabel(c.matches, f.conditions, preview)}`, percent(c.start), percent(c.stop), percent(c.change)]),
      ),
      ...moreCases(f.cases.length),
    );
  }
  // Only the outcomes some unit has, before or after.
  const shown = f.outcomes.map((_, i) => i).filter((i) => f.outcomes.some((_, j) => f.matrix[i]![j]!.high > 0 || f.matrix[j]![i]!.high > 0));
  lines.push(
    ...table(
      ['  from \\ to', ...shown.map((j) => f.outcomes[j]!)],
      shown.map((i) => [`  ${f.outcomes[i]!}`, ...shown.map((j) => formatShare(f.matrix[i]![j]!))]),
    ),
  );
  for (const note of f.notes) lines.push(`  note: ${note}`);
  return lines;
}

function renderSegment(s: SegmentImpact, preview: ImpactPreview): string[] {
  const state = s.before === s.after ? s.before : `${s.before} → ${s.after}`;
  const b = s.buckets;
  const lines = [
    `segment ${s.segment} (${state}${s.targetingChanged ? ', targeting changed' : ''})`,
    `  buckets ${b.before} → ${b.after} (kept ${b.kept}, added ${b.added}, removed ${b.removed})`,
    `  enter ${formatShare(s.enter)}, leave ${formatShare(s.leave)}`,
  ];
  if (s.conditions.length > 0) {
    lines.push(
      ...table(
        ['  by audience', 'enter', 'leave'],
        s.cases.slice(0, SHOWN_CASES).map((c) => [`  ${retargetLabel(s, c.matches) ?? caseLabel(c.matches, s.conditions, preview)}`, percent(c.enter), percent(c.leave)]),
      ),
      ...moreCases(s.cases.length),
    );
  }
  return lines;
}

/**
 * For a segment retargeted from one condition to another, the case in plain words: matches
 * both, only the targeting before, only the one after, neither.
 */
function retargetLabel(s: SegmentImpact, matches: readonly boolean[]): string | undefined {
  const { before, after } = s.audience;
  if (before === null || after === null || before === after || s.conditions.length !== 2) return undefined;
  const b = s.conditions.indexOf(before);
  const a = s.conditions.indexOf(after);
  if (b < 0 || a < 0) return undefined;
  if (matches[b] && matches[a]) return 'matches both';
  if (matches[b]) return 'matches only before';
  if (matches[a]) return 'matches only after';
  return 'matches neither';
}

/** Cases listed in text; the rest are in --json. */
const SHOWN_CASES = 16;

function moreCases(total: number): string[] {
  return total > SHOWN_CASES ? [`  … ${total - SHOWN_CASES} more combinations (--json lists every one)`] : [];
}

/** `A, not B`. */
function caseLabel(matches: readonly boolean[], conditions: readonly number[], preview: ImpactPreview): string {
  return conditions.map((c, i) => `${matches[i] ? '' : 'not '}${preview.conditions[c]!.label}`).join(', ');
}

/** Rows as columns: the first left-aligned, the rest right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}
