/**
 * Power of Pearson's χ² goodness-of-fit test: the smallest imbalance a test finds with 80%
 * probability at its (Bonferroni-corrected) threshold, and the units needed to find a given
 * one. Under an imbalance the statistic is noncentral χ² with noncentrality
 * λ = n Σ (p₁ᵢ − p₀ᵢ)² / p₀ᵢ; moving a share δ from category j to category i gives
 * λ = n δ² (1/p₀ᵢ + 1/p₀ⱼ), which is smallest (hardest to detect) between the two largest
 * categories: that shift is the one reported.
 */
import { chiSquareTail } from './chi-square.js';

/** The power at which minimal detectable effects are stated. */
export const POWER = 0.8;

/** x with P(χ²(df) ≥ x) = alpha. */
export function chiSquareCritical(alpha: number, df: number): number {
  let lo = 0;
  let hi = 16;
  while (chiSquareTail(hi, df) > alpha) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-10 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (chiSquareTail(mid, df) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(X ≥ x) for X ~ noncentral χ²(df, λ): a Poisson(λ/2) mixture of central χ²(df + 2j) tails. */
export function noncentralChiSquareTail(x: number, df: number, lambda: number): number {
  if (lambda <= 0) return chiSquareTail(x, df);
  const half = lambda / 2;
  const last = Math.ceil(half + 12 * Math.sqrt(half) + 40);
  let weight = Math.exp(-half);
  let sum = 0;
  for (let j = 0; j <= last; j++) {
    if (j > 0) weight *= half / j;
    sum += weight * chiSquareTail(x, df + 2 * j);
  }
  return Math.min(1, sum);
}

const required = new Map<string, number>();

/** The noncentrality at which a χ²(df) test at `alpha` rejects with probability `power`. */
export function requiredNoncentrality(alpha: number, df: number, power: number = POWER): number {
  const key = `${alpha}|${df}|${power}`;
  const known = required.get(key);
  if (known !== undefined) return known;
  const critical = chiSquareCritical(alpha, df);
  let lo = 0;
  let hi = 8;
  while (noncentralChiSquareTail(critical, df, hi) < power) hi *= 2;
  for (let i = 0; i < 100 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (noncentralChiSquareTail(critical, df, mid) < power) lo = mid;
    else hi = mid;
  }
  const lambda = (lo + hi) / 2;
  required.set(key, lambda);
  return lambda;
}

export interface DetectableEffect {
  /** The shift of share (0.005 = 0.5 pp) found with 80% power; Infinity when no unit reached the test. */
  readonly effect: number;
  /** Indices of the two categories the share moves between (the two largest). */
  readonly between: readonly [number, number];
  /** λ per unit of the shift: units n detect δ when n δ² · perUnit ≥ λ*. */
  readonly perUnit: number;
  readonly lambda: number;
}

/**
 * The minimal detectable effect of a goodness-of-fit test over `n` units with expected
 * `proportions` (normalized here), at significance `alpha` and 80% power.
 */
export function minimalDetectableEffect(n: number, proportions: readonly number[], alpha: number): DetectableEffect {
  const total = proportions.reduce((a, b) => a + b, 0);
  const order = proportions.map((p, i) => [p / total, i] as const).filter(([p]) => p > 0).sort((a, b) => b[0] - a[0]);
  const df = Math.max(1, order.length - 1);
  const lambda = requiredNoncentrality(alpha, df);
  const [first, second] = [order[0] ?? [1, 0], order[1] ?? order[0] ?? [1, 0]];
  const perUnit = 1 / first[0] + 1 / second[0];
  const effect = n > 0 ? Math.sqrt(lambda / (n * perUnit)) : Infinity;
  return { effect, between: [first[1], second[1]], perUnit, lambda };
}

/** Units a test must see to detect `effect` (a share) with 80% power. */
export function unitsToDetect(effect: number, d: DetectableEffect): number {
  return Math.ceil(d.lambda / (effect * effect * d.perUnit));
}
