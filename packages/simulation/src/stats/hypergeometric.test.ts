import { describe, expect, it } from 'vitest';

import { hypergeometricTest } from './hypergeometric.js';

describe('hypergeometricTest', () => {
  it("matches Fisher's exact test on small tables (R: fisher.test)", () => {
    // The tea-tasting table [[3, 1], [1, 3]]: u = 8, a = 4, b = 4, k = 3; R gives 0.4857.
    expect(hypergeometricTest(8, 4, 4, 3)).toBeCloseTo(0.4857143, 6);
    // [[10, 0], [0, 10]]: p = 2 / C(20, 10) = 1.0825e-5.
    expect(hypergeometricTest(20, 10, 10, 10)).toBeCloseTo(2 / 184_756, 10);
    expect(hypergeometricTest(20, 10, 10, 5)).toBe(1);
  });

  it('holds its level where χ² does not: expected overlaps of a block or two', () => {
    // P(p < α) under the null is at most α for an exact test.
    const [u, a, b] = [62_500, 312, 312];
    let level = 0;
    for (let k = 0; k <= a; k++) {
      if (hypergeometricTest(u, a, b, k) >= 0.01) continue;
      // log C(a, k) + log C(u − a, b − k) − log C(u, b), by the product form.
      let log = 0;
      for (let i = 0; i < k; i++) log += Math.log((a - i) / (i + 1)) + Math.log((b - i) / (u - i));
      for (let i = k; i < b; i++) log += Math.log((u - a - (i - k)) / (u - i));
      level += Math.exp(log);
    }
    expect(level).toBeLessThanOrEqual(0.01);
    expect(level).toBeGreaterThan(0.002);
  });
});
