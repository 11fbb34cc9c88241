/**
 * The workspace's `runs` encoding round-trips every set: scattered (legacy) sets, block sets,
 * long runs, the edges of the bucket range; and malformed text is refused with a reason.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { BUCKETS, BucketSet } from './bucket-set.js';
import { runsOfWords, wordsOfRuns } from './runs.js';
import { runsFromText, runsToText } from './runs-text.js';

/** Sets given as buckets, as block starts and as arbitrary runs, mixed. */
const anySet: fc.Arbitrary<number[]> = fc
  .tuple(
    fc.array(fc.nat(BUCKETS - 1), { maxLength: 300 }),
    fc.array(fc.nat(BUCKETS / 16 - 1), { maxLength: 200 }),
    fc.array(fc.tuple(fc.nat(BUCKETS - 1), fc.integer({ min: 1, max: 5000 })), { maxLength: 5 }),
    fc.constantFrom<number[]>([], [0], [BUCKETS - 1], [0, BUCKETS - 1]),
  )
  .map(([singles, blocks, runs, edges]) => {
    const out = [...singles, ...edges];
    for (const b of blocks) for (let i = 0; i < 16; i++) out.push(b * 16 + i);
    for (const [start, length] of runs) for (let i = start; i < Math.min(BUCKETS, start + length); i++) out.push(i);
    return out;
  });

describe('runs text', () => {
  test.prop([anySet], { numRuns: 200 })('round-trips any set', (indices) => {
    const set = BucketSet.fromIndices(indices);
    const text = set.runsText();
    expect(text.split('\n').every((line) => line.length <= 76)).toBe(true);
    const back = BucketSet.fromRunsText(text, set.count);
    back.verify();
    expect([...back.runs()]).toEqual([...set.runs()]);
    expect(Buffer.from(back.bytes()).equals(Buffer.from(set.bytes()))).toBe(true);
    expect(new Set(indices).size).toBe(set.count);
  });

  test.prop([anySet])('runs and words agree', (indices) => {
    const set = BucketSet.fromIndices(indices);
    expect([...runsOfWords(wordsOfRuns(set.runs()))]).toEqual([...set.runs()]);
    for (const i of indices.slice(0, 20)) expect(set.has(i)).toBe(true);
  });

  it('writes an aligned block in ~11 bits and the whole range in a few bytes', () => {
    const blocks = BucketSet.fromIndices(Array.from({ length: 300 * 16 }, (_, i) => Math.floor(i / 16) * 3200 + (i % 16)));
    expect(Buffer.from(blocks.runsText().replace(/\n/g, ''), 'base64').length).toBe(416);
    expect(runsToText(Int32Array.of(0, BUCKETS))).toBe('ABYAAB6Efg==');
    expect([...runsFromText('ABYAAB6Efg==')]).toEqual([0, BUCKETS]);
    expect([...runsFromText(runsToText(new Int32Array(0)))]).toEqual([]);
  });

  it.each([
    ['-', 'expected base64 of the bucket runs'],
    ['', 'the bucket runs end inside a run'],
    ['ABYAAB6E', 'the bucket runs end inside a run'],
    ['ABYAAB6EfgAA', 'the bucket runs go on past their last run'],
  ])('refuses %j', (text, message) => {
    expect(() => runsFromText(text)).toThrow(message);
  });

  it('refuses runs past the last bucket', () => {
    expect(() => runsFromText(runsToText(Int32Array.of(999_990, 1_000_010)))).toThrow('past the last bucket');
  });
});
