import { describe, expect, it } from 'vitest';

import { roundEstimate } from './precision.js';

describe('roundEstimate', () => {
  it('rounds to the decimal place of the standard error bound √(p(1−p)/n)', () => {
    // 10,000 units: a 5% share has an error of at most 0.22%, so 0.1% is the finest place shown.
    expect(roundEstimate(0.050137, 10_000)).toBe(0.05);
    expect(roundEstimate(0.05372, 10_000)).toBe(0.054);
    expect(roundEstimate(0.123456, 1_000_000)).toBe(0.1235);
    // A rare share is known more finely, but never finer than one unit.
    expect(roundEstimate(0.00031, 10_000)).toBe(0.0003);
    expect(roundEstimate(0, 10_000)).toBe(0);
    expect(roundEstimate(1, 100)).toBe(1);
  });
});
