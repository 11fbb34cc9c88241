import { readFileSync } from 'node:fs';

import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { chiSquareGoodnessOfFit, chiSquareIndependence, chiSquareTail } from './chi-square.js';
import { wilsonInterval } from './wilson.js';

interface Golden {
  goodnessOfFit: { observed: number[]; proportions: number[]; pValue: number; relativeTolerance: number }[];
}
const golden = JSON.parse(readFileSync(new URL('./chi-square.golden.json', import.meta.url), 'utf8')) as Golden;

describe('Pearson χ² goodness of fit', () => {
  for (const g of golden.goodnessOfFit) {
    it(`counts ${JSON.stringify(g.observed)} at ${JSON.stringify(g.proportions)} give p = ${g.pValue}`, () => {
      const r = chiSquareGoodnessOfFit(g.observed, g.proportions);
      expect(Math.abs(r.pValue - g.pValue) / g.pValue).toBeLessThan(g.relativeTolerance);
      expect(r.df).toBe(g.observed.length - 1);
    });
  }

  it('keeps precision far in the tail, where 1 - cdf would round to 0', () => {
    const p = chiSquareTail(400, 1);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-80);
  });

  it('calls an observation in a category expected empty impossible', () => {
    expect(chiSquareGoodnessOfFit([10, 1], [1, 0]).pValue).toBe(0);
    expect(chiSquareGoodnessOfFit([10, 0], [1, 0]).pValue).toBe(1);
  });

  test.prop([fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 2, maxLength: 6 })])('gives p = 1 for counts exactly proportional to the expectation', (counts) => {
    fc.pre(counts.some((c) => c > 0));
    expect(chiSquareGoodnessOfFit(counts, counts.map((c) => c + 0)).pValue).toBeCloseTo(1, 12);
  });
});

describe('χ² independence and Cramér\'s V', () => {
  it('finds a perfect association (V = 1) and independence (V = 0)', () => {
    expect(chiSquareIndependence([[500, 0], [0, 500]]).cramersV).toBeCloseTo(1, 12);
    const independent = chiSquareIndependence([[100, 300], [200, 600]]);
    expect(independent.cramersV).toBeCloseTo(0, 12);
    expect(independent.pValue).toBeCloseTo(1, 12);
  });

  it('drops empty rows and columns instead of dividing by zero', () => {
    const r = chiSquareIndependence([[10, 0, 5], [0, 0, 0], [7, 0, 9]]);
    expect(r.df).toBe(1);
    expect(Number.isFinite(r.statistic)).toBe(true);
  });
});

describe('Wilson intervals', () => {
  test.prop([fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1, noNaN: true })])('contain the observed proportion', (n, q) => {
    const k = Math.round(q * n);
    const { low, high } = wilsonInterval(k, n);
    expect(low).toBeLessThanOrEqual(k / n + 1e-12);
    expect(high).toBeGreaterThanOrEqual(k / n - 1e-12);
  });
});
