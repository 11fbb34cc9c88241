/** Tallies are additive: merging shards or workers is adding their counts. */
import type { MismatchExample, Tally } from '../types.js';

const MAX_EXAMPLES = 5;

export function emptyTally(sizes: readonly number[]): Tally {
  return { counts: sizes.map((n) => new Array<number>(n).fill(0)), mismatches: sizes.map(() => []) };
}

export function addTallies(a: Tally, b: Tally): Tally {
  if (a.counts.length !== b.counts.length || a.counts.some((c, k) => c.length !== b.counts[k]!.length)) {
    throw new Error('cannot merge counts of different plans');
  }
  return {
    counts: a.counts.map((c, k) => c.map((x, i) => x + b.counts[k]![i]!)),
    mismatches: a.mismatches.map((m, k) =>
      [...m, ...b.mismatches[k]!].sort((x: MismatchExample, y: MismatchExample) => x.unit - y.unit).slice(0, MAX_EXAMPLES),
    ),
  };
}
