/**
 * Bucket sets as sorted runs: an Int32Array of `[start, end)` pairs, ascending, disjoint and
 * never adjacent (touching runs are merged), so one set has exactly one form. A set placed in
 * aligned blocks holds a few hundred runs where its bitset holds a million bits: unions,
 * counts and encodings follow the runs, not the bucket count.
 */
import { SEGMENT_BUCKETS } from '@allot/core';

const BUCKETS = SEGMENT_BUCKETS;
const WORDS = BUCKETS / 32;

export type Runs = Int32Array;

/** Collects runs in ascending order, merging runs that touch. */
export class RunsBuilder {
  private data = new Int32Array(64);
  private length = 0;

  /** Adds `[start, end)`; `start` must not precede the end of the previous run. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const n = this.length;
    if (n > 0 && this.data[n - 1] === start) {
      this.data[n - 1] = end;
      return;
    }
    if (n + 2 > this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[n] = start;
    this.data[n + 1] = end;
    this.length = n + 2;
  }

  build(): Runs {
    return this.data.slice(0, this.length);
  }
}

/** Buckets in `runs`. */
export function runsCount(runs: Runs): number {
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += runs[i + 1]! - runs[i]!;
  return n;
}

/** The runs of the bits set in `words` (31,250 little-endian 32-bit words). */
export function runsOfWords(words: Uint32Array): Runs {
  const out = new RunsBuilder();
  let start = -1;
  for (let i = 0; i < WORDS; i++) {
    const w = words[i]!;
    if (w === 0 && start < 0) continue;
    if (w === 0xffffffff && start >= 0) continue;
    for (let b = 0; b < 32; b++) {
      const set = (w & (1 << b)) !== 0;
      if (set && start < 0) start = (i << 5) + b;
      else if (!set && start >= 0) {
        out.add(start, (i << 5) + b);
        start = -1;
      }
    }
  }
  if (start >= 0) out.add(start, BUCKETS);
  return out.build();
}

/** Sets in `words` every bucket of `runs`. */
export function orRuns(words: Uint32Array, runs: Runs): void {
  for (let i = 0; i < runs.length; i += 2) setRange(words, runs[i]!, runs[i + 1]!);
}

/** Sets bits [start, end) of `words`. */
export function setRange(words: Uint32Array, start: number, end: number): void {
  let w = start >>> 5;
  const last = (end - 1) >>> 5;
  const head = ~0 << (start & 31);
  const tail = ~0 >>> (31 - ((end - 1) & 31));
  if (w === last) {
    words[w]! |= head & tail;
    return;
  }
  words[w]! |= head;
  for (w++; w < last; w++) words[w] = 0xffffffff;
  words[last]! |= tail;
}

/** Whether any bucket of `runs` is set in `words`. */
export function meetsWords(runs: Runs, words: Uint32Array): boolean {
  for (let i = 0; i < runs.length; i += 2) {
    const start = runs[i]!;
    const end = runs[i + 1]!;
    let w = start >>> 5;
    const last = (end - 1) >>> 5;
    const head = ~0 << (start & 31);
    const tail = ~0 >>> (31 - ((end - 1) & 31));
    if (w === last) {
      if ((words[w]! & head & tail) !== 0) return true;
      continue;
    }
    if ((words[w]! & head) !== 0) return true;
    for (w++; w < last; w++) if (words[w] !== 0) return true;
    if ((words[last]! & tail) !== 0) return true;
  }
  return false;
}

/** Whether the bucket is in `runs` (binary search). */
export function runsHave(runs: Runs, bucket: number): boolean {
  let lo = 0;
  let hi = runs.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[2 * mid + 1]! <= bucket) lo = mid + 1;
    else hi = mid;
  }
  return lo < runs.length / 2 && runs[2 * lo]! <= bucket;
}

/** The 31,250 words of `runs`. */
export function wordsOfRuns(runs: Runs): Uint32Array {
  const words = new Uint32Array(WORDS);
  orRuns(words, runs);
  return words;
}
