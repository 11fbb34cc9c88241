import { describe, expect, it } from 'vitest';

import { BUCKETS, BucketSet } from '../allocation/bucket-set.js';
import { bucketClasses } from './bucket-classes.js';

/** A set of about `share` of the buckets, chosen by a fixed linear congruential sequence. */
function someSet(seed: number, share: number): BucketSet {
  const indices: number[] = [];
  let x = seed;
  for (let b = 0; b < BUCKETS; b++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    if (x / 2 ** 32 < share) indices.push(b);
  }
  return BucketSet.fromIndices(indices);
}

/** `holds` as a key: two numbers of up to 30 membership bits each. */
function keyOf(holds: readonly boolean[]): string {
  let low = 0;
  let high = 0;
  holds.forEach((h, j) => {
    if (h && j < 30) low |= 1 << j;
    else if (h) high |= 1 << (j - 30);
  });
  return `${low},${high}`;
}

/** The groups counted bucket by bucket. */
function naive(sets: readonly BucketSet[]): Map<string, number> {
  const words = sets.map((s) => s.words());
  const counts = new Map<string, number>();
  for (let b = 0; b < BUCKETS; b++) {
    let low = 0;
    let high = 0;
    for (let j = 0; j < words.length; j++) {
      if (((words[j]![b >>> 5]! >>> (b & 31)) & 1) === 0) continue;
      if (j < 30) low |= 1 << j;
      else high |= 1 << (j - 30);
    }
    const key = `${low},${high}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('bucketClasses', () => {
  // 3 sets: popcount path; 6: dense counts; 20: sparse numeric; 33: sparse string keys.
  const pool = [someSet(1, 0.3), someSet(2, 0.05), someSet(3, 0.5), someSet(4, 0.01)];
  for (const m of [0, 3, 6, 20, 33]) {
    it(`groups the buckets of ${m} sets exactly as a bucket-by-bucket count does`, () => {
      const sets = Array.from({ length: m }, (_, i) => pool[i % pool.length]!);
      const got = new Map(bucketClasses(sets).map((c) => [keyOf(c.holds), c.count]));
      expect(got).toEqual(naive(sets));
    });
  }
});
