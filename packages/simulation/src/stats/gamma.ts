/**
 * The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), which gives χ²
 * tails: P(X ≥ x) for X ~ χ²(k) is Q(k/2, x/2).
 *
 * Written here rather than imported because the library this replaced loads 476 modules on
 * import, 0.2 CPU-seconds of every `allot simulate` run. The method is the classic pair (as
 * in Numerical Recipes, §6.2): for x < a + 1 the power series of P = 1 − Q, which converges
 * there in O(√a) terms; beyond it the continued fraction of Q itself, evaluated by the
 * modified Lentz method, which keeps full relative precision far into the tail, where
 * 1 − P would round to 0. Both share the prefactor e^(−x) x^a / Γ(a), taken in logarithms.
 * Relative error against Boost's algorithm (via @stdlib, in the tests) is below 1e-12 for the
 * degrees of freedom χ² tests use.
 */

const EPSILON = Number.EPSILON;
const MAX_TERMS = 100_000;
/** Smallest magnitude the Lentz recurrences may divide by. */
const TINY = 1e-300;

/** Lanczos coefficients for g = 7, n = 9 (about 15 significant digits for a > 0). */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(a) for a > 0. */
export function logGamma(a: number): number {
  if (a < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * a)) - logGamma(1 - a); // reflection
  const z = a - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Q(a, x) = Γ(a, x) / Γ(a) for a > 0 and x ≥ 0; NaN for other arguments. */
export function upperRegularizedGamma(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0) || !Number.isFinite(a)) return Number.NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const logPrefactor = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    // P(a, x) = e^(−x) x^a / Γ(a + 1) · Σ_n x^n / ((a + 1)…(a + n)).
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < MAX_TERMS; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
    }
    return Math.max(0, 1 - sum * Math.exp(logPrefactor));
  }
  // Q(a, x) = e^(−x) x^a / Γ(a) · 1 / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / …)).
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let n = 1; n < MAX_TERMS; n++) {
    const an = -n * (n - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return Math.exp(logPrefactor) * h;
}
