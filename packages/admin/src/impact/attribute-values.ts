/**
 * Representative values of one attribute: a finite list of context values such that every
 * truth pattern a single value (a list element) can give the attribute's criteria is given by
 * one of them. Core decides each representative's pattern (see possible-cases.ts); what is
 * argued here is only that no pattern is missed, per kind of criterion:
 *
 * - numbers, versions, timestamps, strings under ranges: a criterion's truth is constant
 *   between consecutive literals, so each literal, a value on each side of it and one value
 *   in every gap cover every pattern;
 * - strings under equality and starts/ends/contains: a string equal to no literal has the
 *   pattern of `p z c1 z … z s`, where p is the longest start it has, s its longest end, c1…
 *   the contained literals and z a character no literal holds (the string's own pattern is
 *   forced on any string with that start, end and contents, and the separators add nothing);
 * - a value core cannot read as the criterion's type reads as the text `"null"` (an object, a
 *   boolean against a text criterion) or as nothing: `{}`, `true`, `"x"` and `0` stand for them.
 *
 * Criteria of different kinds on one attribute (a number range and a text prefix) are not
 * reasoned about: null tells the caller that every pattern may occur.
 */
import { parseTimestamp, parseVersion } from '@allot/core';

import type { Literal } from '../targeting/ast.js';

/** One attribute criterion, positive (negation stays in the expression). */
export type Criterion =
  | { readonly kind: 'eq'; readonly value: Literal }
  | { readonly kind: 'range'; readonly value: Literal }
  | { readonly kind: 'set'; readonly values: readonly Literal[] }
  | { readonly kind: 'text'; readonly op: 'starts with' | 'ends with' | 'contains'; readonly value: string }
  | { readonly kind: 'null' };

/** Values that core cannot read as most criterion types: they compare as `"null"` or as nothing. */
const UNREADABLE: readonly unknown[] = [{}, true, false, 'x', 0];

/** Above this many representatives the attribute is not reasoned about (all patterns kept). */
const MAX_REPRESENTATIVES = 2_000;

/** Representatives of an attribute with these criteria, or null when they are not reasoned about. */
export function representatives(criteria: readonly Criterion[]): unknown[] | null {
  const kinds = new Set<string>();
  for (const c of criteria) {
    const k = kindOf(c);
    if (k !== null) kinds.add(k);
  }
  const literals = (type: Literal['type']): Literal[] =>
    criteria.flatMap((c) => (c.kind === 'eq' || c.kind === 'range' ? [c.value] : c.kind === 'set' ? c.values : [])).filter((l) => l.type === type);
  let reps: unknown[] | null;
  if (kinds.size === 0) reps = [];
  else if (kinds.size === 1 || (kinds.size === 2 && kinds.has('string') && kinds.has('text'))) {
    const kind = kinds.has('string') ? 'string' : [...kinds][0]!;
    switch (kind) {
      case 'number':
        reps = numbers(literals('number').map((l) => l.value as number));
        break;
      case 'version':
        reps = versions(literals('version').map((l) => l.value as string));
        break;
      case 'timestamp':
        reps = timestamps(literals('timestamp').map((l) => l.value as string));
        break;
      case 'bool':
        reps = [true, false];
        break;
      default:
        reps = strings(criteria, literals('string').map((l) => l.value as string));
    }
  } else reps = null;
  if (reps === null || reps.length + UNREADABLE.length > MAX_REPRESENTATIVES) return null;
  return [...reps, ...UNREADABLE];
}

/**
 * The type core reads values as for this criterion: a comparison's literal, a set's first
 * value; text operators read text only; null for a criterion only a null value meets.
 */
function kindOf(c: Criterion): string | null {
  switch (c.kind) {
    case 'eq':
    case 'range':
      return c.value.type;
    case 'set':
      return c.values[0]?.type ?? null;
    case 'text':
      return 'text';
    case 'null':
      return null;
  }
}

function numbers(points: readonly number[]): number[] {
  const sorted = [...new Set(points)].sort((a, b) => a - b);
  const out: number[] = [...sorted, -Infinity, Infinity, NaN];
  for (let i = 0; i + 1 < sorted.length; i++) out.push(sorted[i]! / 2 + sorted[i + 1]! / 2);
  if (sorted.length > 0) out.push(sorted[0]! - 1, sorted[sorted.length - 1]! + 1);
  return out;
}

type Tuple = readonly [number, number, number, number];
const PART_MAX = 9_999_999_999;

/** Each version literal as written and with a tag after `-` (same order, other text), its neighbours. */
function versions(texts: readonly string[]): string[] {
  const out = new Set<string>(['v', '0.0.0', [PART_MAX, PART_MAX, PART_MAX, PART_MAX].join('.')]);
  for (const text of texts) {
    const v = parseVersion(text);
    if (v === null) continue;
    const t: Tuple = [v.major, v.minor, v.patch, v.tag];
    out.add(text);
    let tagged = `${t.join('.')}-allot`;
    while (texts.includes(tagged)) tagged += '~';
    out.add(tagged);
    out.add(t.join('.'));
    for (const n of [step(t, 1), step(t, -1)]) if (n !== null) out.add(n.join('.'));
  }
  return [...out];
}

/** The next (+1) or previous (−1) version tuple, or null past either end. */
function step(t: Tuple, by: 1 | -1): Tuple | null {
  const parts = [...t];
  for (let i = 3; i >= 0; i--) {
    const next = parts[i]! + by;
    if (next >= 0 && next <= PART_MAX) {
      parts[i] = next;
      return parts as unknown as Tuple;
    }
    parts[i] = by === 1 ? 0 : PART_MAX;
  }
  return null;
}

/** Each timestamp literal, and the instants a nanosecond before and after it, as RFC 3339 text. */
function timestamps(texts: readonly string[]): string[] | null {
  const out: string[] = [];
  for (const text of texts) {
    const ms = parseTimestamp(text.replace(/(:\d{1,2})\.\d+/, '$1'));
    if (Number.isNaN(ms)) return null;
    const fraction = /:\d{1,2}\.(\d+)/.exec(text)?.[1] ?? '';
    const nanos = Number(fraction.slice(0, 9).padEnd(9, '0'));
    const seconds = ms / 1000;
    out.push(text);
    for (const [s, n] of [
      [seconds, nanos],
      [nanos === 0 ? seconds - 1 : seconds, nanos === 0 ? 999_999_999 : nanos - 1],
      [nanos === 999_999_999 ? seconds + 1 : seconds, nanos === 999_999_999 ? 0 : nanos + 1],
    ] as const) {
      const written = rfc3339(s, n);
      if (written === null) return null;
      out.push(written);
    }
  }
  return out;
}

function rfc3339(seconds: number, nanos: number): string | null {
  const iso = new Date(seconds * 1000).toISOString();
  if (!/^\d{4}-/.test(iso)) return null;
  return `${iso.slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}

/** Separators for `p z c z s`: the first that no literal holds. */
const SEPARATORS = ['~', '|', '#', '\u00b6', '\u2042', '\u{1f9ea}'];
const MAX_TEXT_SHAPES = 512;

function strings(criteria: readonly Criterion[], equal: readonly string[]): unknown[] | null {
  const text = (op: string): string[] => [...new Set(criteria.flatMap((c) => (c.kind === 'text' && c.op === op ? [c.value] : [])))];
  const starts = text('starts with');
  const ends = text('ends with');
  const contains = text('contains');
  const ranged = criteria.some((c) => c.kind === 'range');
  const all = [...new Set([...equal, ...starts, ...ends, ...contains])];
  // Numbers read as their decimal text by an equality: the number each literal writes.
  const numeric = all.map(Number).filter((n) => !Number.isNaN(n));
  let other = 0.5;
  while (all.includes(String(other))) other += 1;
  const out: unknown[] = [...all, ...numeric, other, -Infinity, Infinity, NaN, ''];
  if (ranged) {
    // Ranges alone: every literal and its immediate successor (a gap's least member).
    if (starts.length + ends.length + contains.length > 0) return null;
    for (const s of all) out.push(`${s}\u0000`);
    return out;
  }
  if ((starts.length + 1) * (ends.length + 1) * 2 ** contains.length > MAX_TEXT_SHAPES) return null;
  const z = SEPARATORS.find((sep) => all.every((s) => !s.includes(sep)));
  if (z === undefined) return null;
  for (const p of ['', ...starts]) {
    for (const s of ['', ...ends]) {
      for (let mask = 0; mask < 1 << contains.length; mask++) {
        const inner = contains.filter((_, i) => ((mask >> i) & 1) === 1);
        out.push(`${p}${z}${[...inner, ''].join(z)}${s}`);
      }
    }
  }
  return out;
}
