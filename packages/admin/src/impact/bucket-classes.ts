/**
 * The 1,000,000 segment buckets grouped by which of a list of bucket sets hold them. Every
 * unit in one group is in the same segments' allocations, so the preview evaluates a group
 * once and weighs it by its size: exact, with no sampling.
 */
import { BUCKETS, WORDS, type BucketSet } from '../allocation/bucket-set.js';

export interface BucketClass {
  /** Buckets in the group. */
  readonly count: number;
  /** Per set (in the order given): whether it holds this group's buckets. */
  readonly holds: readonly boolean[];
}

/** Signatures fit a 32-bit integer up to this many sets; beyond, they are strings. */
const NUMERIC_LIMIT = 30;

export function bucketClasses(sets: readonly BucketSet[]): BucketClass[] {
  if (sets.length === 0) return [{ count: BUCKETS, holds: [] }];
  if (sets.length <= POPCOUNT_LIMIT) return popcountClasses(sets);
  return sets.length <= DENSE_LIMIT ? denseClasses(sets) : sparseClasses(sets);
}

/**
 * Up to this many sets, each of the 2^m signatures is counted with word-wide ANDs and a
 * popcount, cheaper than looking at every bucket (2^m · m word operations against 32 · m).
 */
const POPCOUNT_LIMIT = 4;

function popcountClasses(sets: readonly BucketSet[]): BucketClass[] {
  const words = sets.map((s) => s.words());
  const m = sets.length;
  const classes: BucketClass[] = [];
  for (let key = 0; key < 1 << m; key++) {
    let count = 0;
    for (let i = 0; i < WORDS; i++) {
      let v = 0xffffffff;
      for (let j = 0; j < m; j++) v &= (key >>> j) & 1 ? words[j]![i]! : ~words[j]![i]!;
      v -= (v >>> 1) & 0x55555555;
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      count += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    if (count > 0) classes.push({ count, holds: Array.from({ length: m }, (_, j) => ((key >>> j) & 1) === 1) });
  }
  return classes;
}

/** Up to this many sets, counts go in an array indexed by signature (2^16 entries at most). */
const DENSE_LIMIT = 16;

function denseClasses(sets: readonly BucketSet[]): BucketClass[] {
  const words = sets.map((s) => s.words());
  const m = sets.length;
  const counts = new Float64Array(1 << m);
  const current = new Uint32Array(m);
  for (let i = 0; i < WORDS; i++) {
    let any = 0;
    for (let j = 0; j < m; j++) any |= current[j] = words[j]![i]!;
    if (any === 0) {
      counts[0]! += 32;
      continue;
    }
    for (let bit = 0; bit < 32; bit++) counts[numericSignature(current, bit)]! += 1;
  }
  const classes: BucketClass[] = [];
  counts.forEach((count, key) => {
    if (count > 0) classes.push({ count, holds: Array.from({ length: m }, (_, j) => ((key >>> j) & 1) === 1) });
  });
  return classes;
}

function sparseClasses(sets: readonly BucketSet[]): BucketClass[] {
  const words = sets.map((s) => s.words());
  const counts = new Map<number | string, number>();
  let outside = 0;
  const m = sets.length;
  const current = new Uint32Array(m);
  for (let i = 0; i < WORDS; i++) {
    let any = 0;
    for (let j = 0; j < m; j++) any |= current[j] = words[j]![i]!;
    if (any === 0) {
      outside += 32;
      continue;
    }
    for (let bit = 0; bit < 32; bit++) {
      const key = m <= NUMERIC_LIMIT ? numericSignature(current, bit) : stringSignature(current, bit);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  if (outside > 0) {
    const none = m <= NUMERIC_LIMIT ? 0 : '0'.repeat(m);
    counts.set(none, (counts.get(none) ?? 0) + outside);
  }
  const classes: BucketClass[] = [];
  for (const [key, count] of counts) {
    const holds = Array.from({ length: m }, (_, j) => (typeof key === 'number' ? ((key >>> j) & 1) === 1 : key[j] === '1'));
    classes.push({ count, holds });
  }
  return classes;
}

function numericSignature(words: Uint32Array, bit: number): number {
  let key = 0;
  for (let j = 0; j < words.length; j++) key |= ((words[j]! >>> bit) & 1) << j;
  return key;
}

function stringSignature(words: Uint32Array, bit: number): string {
  let key = '';
  for (let j = 0; j < words.length; j++) key += (words[j]! >>> bit) & 1 ? '1' : '0';
  return key;
}
