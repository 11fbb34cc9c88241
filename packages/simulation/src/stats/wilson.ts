/** Wilson score intervals for an observed proportion. */

/** z for a two-sided 99% interval. */
export const Z_99 = 2.5758293035489004;

export function wilsonInterval(successes: number, n: number, z: number = Z_99): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
