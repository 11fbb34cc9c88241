/**
 * The coordination allocator (DESIGN.md, "Coordination"). Two segments conflict when one's
 * `exclusiveTo` meets the other's `exclusivityTags`, either way round; an allocated segment
 * holds round(proportion × 1,000,000) buckets that no conflicting allocated segment holds,
 * chosen uniformly at random among the free ones with a generator derived from the
 * workspace seed, so segments that do not conflict overlap only by chance.
 */
import { AdminError } from '../errors.js';
import type { Coordination, Segment, Workspace } from '../workspace/model.js';
import { BUCKETS, BucketSet, popcount, WORDS } from './bucket-set.js';
import { seededRandom, type Random } from './random.js';

/** Whether segments with these coordinations may not share a bucket (symmetric). */
export function conflictsWith(a: Coordination, b: Coordination): boolean {
  return meets(a.exclusiveTo, b.exclusivityTags) || meets(b.exclusiveTo, a.exclusivityTags);
}

function meets(xs: readonly string[], ys: readonly string[]): boolean {
  for (const x of xs) if (ys.includes(x)) return true;
  return false;
}

/** Buckets a segment needs for `proportion`: round(proportion × 1,000,000). */
export function bucketsFor(proportion: number): number {
  return Math.round(proportion * BUCKETS);
}

/** The union of the buckets of the allocated segments that conflict with `coordination`. */
export interface Occupied {
  readonly words: Uint32Array;
  /** Ids of those segments, sorted. */
  readonly conflicting: readonly string[];
  /** Buckets in the union. */
  readonly count: number;
}

/**
 * What an allocation with `coordination` may not use: the union of the buckets of every
 * allocated segment that conflicts with it, leaving out the segment `self` (if given).
 */
export function occupiedFor(workspace: Workspace, coordination: Coordination, self?: string): Occupied {
  const words = new Uint32Array(WORDS);
  const conflicting: string[] = [];
  for (const s of workspace.segments) {
    if (s.id === self || s.state !== 'ALLOCATED' || s.buckets === null) continue;
    if (!conflictsWith(coordination, s)) continue;
    conflicting.push(s.id);
    const theirs = s.buckets.words();
    for (let i = 0; i < WORDS; i++) words[i]! |= theirs[i]!;
  }
  conflicting.sort();
  return { words, conflicting, count: popcount(words) };
}

/** Free space, in buckets, for a segment with `coordination` (leaving out `self`). */
export function freeBuckets(workspace: Workspace, coordination: Coordination, self?: string): number {
  return BUCKETS - occupiedFor(workspace, coordination, self).count;
}

/** The new bucket set of a (re)allocation and how much changed. */
export interface Placement {
  readonly buckets: BucketSet;
  /** Buckets the segment held before and keeps. */
  readonly kept: number;
  /** Buckets newly taken. */
  readonly added: number;
  /** Buckets given up. */
  readonly removed: number;
}

/**
 * Places `segment` (allocated or not) at `target` buckets under `coordination`: keeps the
 * buckets it holds that stay legal (as many as fit in `target`, chosen at random when it
 * must shrink), then adds free buckets chosen uniformly at random. Throws
 * INSUFFICIENT_SPACE, changing nothing, when the free space is too small.
 */
export function place(
  workspace: Workspace,
  segment: Segment,
  coordination: Coordination,
  target: number,
  purpose: string,
): Placement {
  const occupied = occupiedFor(workspace, coordination, segment.id);
  const free = BUCKETS - occupied.count;
  if (target > free) {
    throw new AdminError(
      'INSUFFICIENT_SPACE',
      `needs ${target} buckets (${formatShare(target)}) but only ${free} (${formatShare(free)}) are free of the ` +
        `${occupied.conflicting.length} conflicting allocated segment${occupied.conflicting.length === 1 ? '' : 's'}` +
        `${occupied.conflicting.length > 0 ? ` (${occupied.conflicting.join(', ')})` : ''}; ` +
        'lower the proportion, archive some of those segments, or change the coordination tags',
      {
        path: `segments.${segment.id}.allocation.proportion`,
        space: { segment: segment.id, conflicting: occupied.conflicting, needed: target, free },
      },
    );
  }
  const random = seededRandom(workspace.seed, segment.id, purpose, target, ...coordination.exclusivityTags, '|', ...coordination.exclusiveTo);
  const before = segment.buckets?.count ?? 0;
  // The held buckets that stay legal.
  const legal = new Uint32Array(WORDS);
  if (segment.buckets !== null) {
    const held = segment.buckets.words();
    const blocked = occupied.words;
    for (let i = 0; i < WORDS; i++) legal[i] = held[i]! & ~blocked[i]!;
  }
  const legalCount = popcount(legal);
  let result: Uint32Array;
  if (legalCount >= target) {
    result = chooseFrom(legal, legalCount, target, random);
  } else {
    result = legal;
    const taken = new Uint32Array(WORDS);
    for (let i = 0; i < WORDS; i++) taken[i] = occupied.words[i]! | legal[i]!;
    addFree(result, taken, target - legalCount, random);
  }
  const kept = Math.min(legalCount, target);
  return { buckets: BucketSet.fromWords(result), kept, added: target - kept, removed: before - kept };
}

/** Scratch list of candidate buckets, reused: a million 32-bit indices is 4 MB. */
let scratch: Int32Array | null = null;

/** Sets `k` bits of `into` chosen uniformly at random among the bits clear in `taken`. */
function addFree(into: Uint32Array, taken: Uint32Array, k: number, random: Random): void {
  if (k === 0) return;
  const list = (scratch ??= new Int32Array(BUCKETS));
  let n = 0;
  for (let i = 0; i < WORDS; i++) {
    let w = ~taken[i]!;
    while (w !== 0) {
      const low = w & -w;
      list[n++] = (i << 5) + 31 - Math.clz32(low);
      w ^= low;
    }
  }
  pick(list, n, k, random, into);
}

/** A new word set of `k` bits chosen uniformly at random among the `n` bits set in `from`. */
function chooseFrom(from: Uint32Array, n: number, k: number, random: Random): Uint32Array {
  const out = new Uint32Array(WORDS);
  if (k === n) {
    out.set(from);
    return out;
  }
  const list = (scratch ??= new Int32Array(BUCKETS));
  let m = 0;
  for (let i = 0; i < WORDS; i++) {
    let w = from[i]!;
    while (w !== 0) {
      const low = w & -w;
      list[m++] = (i << 5) + 31 - Math.clz32(low);
      w ^= low;
    }
  }
  pick(list, m, k, random, out);
  return out;
}

/** Partial Fisher–Yates: sets in `into` a uniformly random k-subset of list[0..n). */
function pick(list: Int32Array, n: number, k: number, random: Random, into: Uint32Array): void {
  for (let j = 0; j < k; j++) {
    const r = j + random.below(n - j);
    const chosen = list[r]!;
    list[r] = list[j]!;
    list[j] = chosen;
    into[chosen >>> 5]! |= 1 << (chosen & 31);
  }
}

/** `123456` buckets as `12.3456%`. */
export function formatShare(buckets: number): string {
  return `${Number(((buckets / BUCKETS) * 100).toFixed(4))}%`;
}
