import { describe, expect, it } from 'vitest';

import { chiSquareCritical, minimalDetectableEffect, noncentralChiSquareTail, requiredNoncentrality, unitsToDetect } from './power.js';

describe('power of the χ² goodness-of-fit test', () => {
  it('matches the textbook λ for 80% power at α = 0.05, df = 1 ((1.96 + 0.8416)² = 7.849)', () => {
    expect(chiSquareCritical(0.05, 1)).toBeCloseTo(3.8415, 3);
    expect(requiredNoncentrality(0.05, 1)).toBeCloseTo(7.849, 2);
    expect(requiredNoncentrality(0.05, 2)).toBeCloseTo(9.635, 2);
  });

  it('gives the powers of the review: 50.5/49.5 on a 10% segment of 2M units under 7 and 79 tests, and on a 5% segment under 79', () => {
    const power = (n: number, tests: number): number => noncentralChiSquareTail(chiSquareCritical(0.01 / tests, 1), 1, n * 0.005 ** 2 * 4);
    expect(power(200_000, 7)).toBeCloseTo(0.9, 1);
    expect(power(200_000, 79)).toBeCloseTo(0.74, 1);
    expect(power(100_000, 79)).toBeCloseTo(0.25, 1);
  });

  it('states the minimal detectable effect and the units needed for a smaller one', () => {
    const d = minimalDetectableEffect(200_000, [1, 1], 0.01 / 7);
    expect(d.effect).toBeGreaterThan(0.004);
    expect(d.effect).toBeLessThan(0.005);
    // Four times the units halve the effect.
    expect(minimalDetectableEffect(800_000, [1, 1], 0.01 / 7).effect).toBeCloseTo(d.effect / 2, 10);
    expect(unitsToDetect(d.effect, d)).toBeCloseTo(200_000, -1);
    expect(minimalDetectableEffect(0, [1, 1], 0.01).effect).toBe(Infinity);
  });
});
