/**
 * Fisher's exact test of a 2×2 table given as its margins: in a universe of `u` units, `a`
 * drawn for one set and `b` for the other, `k` in both. Under independence k is
 * hypergeometric; the two-sided p-value sums the probabilities of every k no more likely
 * than the one observed. Exact where χ² is not: the allocation-independence check meets
 * expected overlaps of one or two blocks, where χ² alarms at about twice its nominal rate.
 */

/** Two-sided p-value of observing `k` shared under independence. */
export function hypergeometricTest(u: number, a: number, b: number, k: number): number {
  const lo = Math.max(0, a + b - u);
  const hi = Math.min(a, b);
  if (hi <= lo) return 1;
  if (k < lo || k > hi) return 0;
  // Probabilities relative to the mode's, walking out from it while they still count.
  const mode = Math.min(hi, Math.max(lo, Math.floor(((a + 1) * (b + 1)) / (u + 2))));
  const up = (x: number): number => ((a - x) * (b - x)) / ((x + 1) * (u - a - b + x + 1)); // p(x + 1) / p(x)
  const relative = new Map<number, number>();
  relative.set(mode, 1);
  for (let x = mode, p = 1; x < hi; x++) {
    p *= up(x);
    if (p < 1e-300) break;
    relative.set(x + 1, p);
  }
  for (let x = mode, p = 1; x > lo; x--) {
    p /= up(x - 1);
    if (p < 1e-300) break;
    relative.set(x - 1, p);
  }
  const observed = relative.get(k) ?? 0;
  if (observed === 0) return 0;
  let total = 0;
  let tail = 0;
  for (const p of relative.values()) {
    total += p;
    if (p <= observed * (1 + 1e-7)) tail += p;
  }
  return Math.min(1, tail / total);
}
