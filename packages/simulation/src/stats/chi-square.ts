/**
 * Pearson's χ² tests with exact tail p-values (the regularized upper incomplete gamma
 * function, accurate far into the tail where 1 - cdf would round to 0).
 */
import { upperRegularizedGamma } from './gamma.js';

/** P(X ≥ x) for X ~ χ²(df). */
export function chiSquareTail(x: number, df: number): number {
  if (df <= 0) return 1;
  if (!(x > 0)) return 1;
  return upperRegularizedGamma(df / 2, x / 2);
}

export interface ChiSquareResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
}

/**
 * Goodness of fit of `observed` counts to `proportions` (normalized). Categories expected to
 * be empty must be observed empty: one that is not gives p = 0 (an impossible outcome).
 */
export function chiSquareGoodnessOfFit(observed: readonly number[], proportions: readonly number[]): ChiSquareResult {
  const n = observed.reduce((a, b) => a + b, 0);
  const total = proportions.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = (n * proportions[i]!) / total;
    if (expected === 0) {
      if (observed[i]! > 0) return { statistic: Infinity, df: Math.max(1, categories), pValue: 0 };
      continue;
    }
    categories++;
    const d = observed[i]! - expected;
    statistic += (d * d) / expected;
  }
  const df = categories - 1;
  return { statistic, df, pValue: chiSquareTail(statistic, df) };
}

export interface ContingencyResult extends ChiSquareResult {
  /** Cramér's V: 0 for independence, 1 for a perfect association. */
  readonly cramersV: number;
  readonly n: number;
}

/** χ² test of independence of a rows × columns table; empty rows and columns are dropped. */
export function chiSquareIndependence(table: readonly (readonly number[])[]): ContingencyResult {
  const rows = table.filter((row) => row.some((x) => x > 0));
  const cols = rows.length === 0 ? [] : rows[0]!.map((_, j) => j).filter((j) => rows.some((row) => row[j]! > 0));
  const n = rows.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
  if (rows.length < 2 || cols.length < 2 || n === 0) return { statistic: 0, df: 0, pValue: 1, cramersV: 0, n };
  const rowSums = rows.map((row) => cols.reduce((a, j) => a + row[j]!, 0));
  const colSums = cols.map((j) => rows.reduce((a, row) => a + row[j]!, 0));
  let statistic = 0;
  rows.forEach((row, i) => { cols.forEach((j, jj) => {
      const expected = (rowSums[i]! * colSums[jj]!) / n;
      const d = row[j]! - expected;
      statistic += (d * d) / expected;
    }); },
  );
  const df = (rows.length - 1) * (cols.length - 1);
  const k = Math.min(rows.length, cols.length) - 1;
  return { statistic, df, pValue: chiSquareTail(statistic, df), cramersV: Math.sqrt(statistic / (n * k)), n };
}
