/** What the what-if panel accepts as a proportion, a reach or weights, and what it sends. */
import { describe, expect, it } from 'vitest';

import { parseFraction, parseWeights, percent, weightsText } from './format.js';

describe('parseFraction', () => {
  it('takes a fraction or a percentage and sends the decimal the API takes', () => {
    expect(parseFraction('0.1')).toEqual({ value: '0.1' });
    expect(parseFraction('10%')).toEqual({ value: '0.1' });
    expect(parseFraction(' 12.5 % ')).toEqual({ value: '0.125' });
    expect(parseFraction('14.3%')).toEqual({ value: '0.143' });
    expect(parseFraction('.5')).toEqual({ value: '0.5' });
    expect(parseFraction('100%')).toEqual({ value: '1' });
    expect(parseFraction('0%')).toEqual({ value: '0' });
  });

  it('says what it expected otherwise', () => {
    expect(parseFraction('ten')).toEqual({ error: 'expected a fraction such as 0.1 or a percentage such as 10%, got "ten"' });
    expect(parseFraction('110%')).toEqual({ error: '110% is more than the whole space (at most 1 or 100%)' });
    expect(parseFraction('1.5')).toEqual({ error: '1.5 is more than the whole space (at most 1 or 100%)' });
    expect(parseFraction('-0.1')).toHaveProperty('error');
  });

  it('reads back what the form shows', () => {
    for (const p of [0.001, 0.05, 0.1, 0.125, 0.333, 1]) expect(parseFraction(percent(p))).toEqual({ value: String(p) });
  });
});

describe('parseWeights', () => {
  it('reads variant=weight pairs, as weightsText writes them', () => {
    expect(parseWeights(weightsText({ old: 1, new: 3 }))).toEqual({ value: { old: 1, new: 3 } });
    expect(parseWeights('old=3,new=1')).toEqual({ value: { old: 3, new: 1 } });
    expect(parseWeights('old 3')).toEqual({ error: 'expected variant=weight pairs separated by commas (old=1, new=3), got "old 3"' });
    expect(parseWeights(' , ')).toEqual({ error: 'give at least one variant=weight pair (old=1, new=3)' });
  });
});
