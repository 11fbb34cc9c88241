/** Numbers as `allot diff` prints them, and the proportions a user types. */
import type { Share } from '@allot/admin';

/** `0.15` as `15%`. */
export function percent(x: number): string {
  const text = (x * 100).toFixed(4).replace(/\.?0+$/, '');
  return `${text === '-0' ? '0' : text}%`;
}

/** An exact share as is; otherwise the estimate (when there is one) and the bounds, as the CLI prints them. */
export function formatShare(s: Share): string {
  if (s.exact !== null) return percent(s.exact);
  const bounds = `${percent(s.low)}–${percent(s.high)}`;
  return s.estimate === null ? bounds : `≈${percent(s.estimate)} (${bounds})`;
}

export const count = (n: number): string => n.toLocaleString('en');

/** `segments/x` or `flags/f/rules/r` as its last id. */
export const shortId = (name: string): string => name.slice(name.lastIndexOf('/') + 1);

/**
 * A fraction typed as `0.1` or `10%` as the decimal string the API takes (`"0.1"`), or an
 * error message saying what was expected.
 */
export function parseFraction(text: string): { readonly value: string } | { readonly error: string } {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(%?)$/.exec(t);
  if (m === null) return { error: `expected a fraction such as 0.1 or a percentage such as 10%, got ${JSON.stringify(text)}` };
  const n = Number(m[1]) / (m[2] === '%' ? 100 : 1);
  if (n > 1) return { error: `${t} is more than the whole space (at most 1 or 100%)` };
  // toPrecision drops the binary noise of the division (14.3 / 100 is 0.14300000000000002).
  return { value: String(Number(n.toPrecision(12))) };
}

/** `{old: 1, new: 3}` as `old=1, new=3`, and back. */
export function weightsText(w: Readonly<Record<string, number>>): string {
  return Object.entries(w)
    .map(([v, n]) => `${v}=${n}`)
    .join(', ');
}

export function parseWeights(text: string): { readonly value: Record<string, number> } | { readonly error: string } {
  const value: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part);
    if (m === null) return { error: `expected variant=weight pairs separated by commas (old=1, new=3), got ${JSON.stringify(part)}` };
    value[m[1]!] = Number(m[2]);
  }
  if (Object.keys(value).length === 0) return { error: 'give at least one variant=weight pair (old=1, new=3)' };
  return { value };
}

export const tagList = (text: string): string[] =>
  text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
