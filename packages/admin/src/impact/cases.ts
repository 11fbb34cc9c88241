/**
 * Results that depend on who matches the audience conditions. A result is computed exactly
 * for every combination of matches (a case); conditions whose match never changes it are
 * dropped, and what is left is summed up as shares: exact when nothing is left, bounds over
 * every possible population otherwise, and an estimate once a population profile is known.
 */
import type { Share } from './types.js';

/**
 * Values (a flat vector) for every combination of `k` conditions: bit j of the index is
 * condition j; null for a combination no context can have.
 */
export interface CaseTable {
  readonly k: number;
  readonly values: readonly (Float64Array | null)[];
}

/** Two computations of one share that agree to this much are the same number. */
const SAME = 1e-12;

export interface ReducedCases {
  /** Positions (among the k) of the conditions that matter. */
  readonly relevant: readonly number[];
  /**
   * One per combination of the relevant conditions that some context can have, in order of
   * the combination (bit i of it is `relevant[i]`).
   */
  readonly cases: readonly { readonly matches: readonly boolean[]; readonly values: Float64Array }[];
}

/**
 * Drops the conditions whose match changes no value: in turn, each one is dropped when the
 * possible combinations that agree on the others left have the same values.
 */
export function reduceCases(table: CaseTable): ReducedCases {
  const live = table.values.flatMap((v, t) => (v === null ? [] : [t]));
  let relevant = Array.from({ length: table.k }, (_, j) => j);
  for (let j = 0; j < table.k; j++) {
    const rest = relevant.filter((x) => x !== j);
    if (valuesFollow(table, live, rest)) relevant = rest;
  }
  const byCase = new Map<number, Float64Array>();
  for (const t of live) {
    const c = relevant.reduce((acc, j, i) => ((t >> j) & 1 ? acc | (1 << i) : acc), 0);
    if (!byCase.has(c)) byCase.set(c, table.values[t]!);
  }
  const cases = [...byCase]
    .sort(([a], [b]) => a - b)
    .map(([c, values]) => ({ matches: relevant.map((_, i) => ((c >> i) & 1) === 1), values }));
  return { relevant, cases };
}

/** Whether the values of the `live` combinations are a function of the conditions `kept`. */
function valuesFollow(table: CaseTable, live: readonly number[], kept: readonly number[]): boolean {
  const mask = kept.reduce((m, j) => m | (1 << j), 0);
  const first = new Map<number, Float64Array>();
  for (const t of live) {
    const seen = first.get(t & mask);
    if (seen === undefined) first.set(t & mask, table.values[t]!);
    else if (!sameValues(seen, table.values[t]!)) return false;
  }
  return true;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > SAME) return false;
  return true;
}

/** The share of value `index` over `cases`; `weights` (units per case) give the estimate. */
export function shareOf(cases: readonly { readonly values: Float64Array }[], index: number, weights: readonly number[] | null): Share {
  let low = Infinity;
  let high = -Infinity;
  for (const c of cases) {
    const v = c.values[index]!;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  low = clean(low);
  high = clean(high);
  let estimate: number | null = null;
  if (weights !== null) {
    const total = weights.reduce((a, b) => a + b, 0);
    estimate = total === 0 ? null : clean(cases.reduce((sum, c, i) => sum + c.values[index]! * weights[i]!, 0) / total);
  }
  return { exact: high - low <= SAME ? low : null, low, high, estimate };
}

/** Rounds away the float noise of sums of exact fractions (1e-17 is no share of units). */
function clean(x: number): number {
  const r = Math.round(x * 1e12) / 1e12;
  return r === 0 ? 0 : r;
}
