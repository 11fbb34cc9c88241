/**
 * The coordination allocator (DESIGN.md, "Coordination"). Two segments conflict when one's
 * `exclusiveTo` meets the other's `exclusivityTags`, either way round; an allocated segment
 * holds round(proportion × 1,000,000) buckets that no conflicting allocated segment holds.
 * New space is taken in aligned blocks of 16 buckets chosen uniformly at random among the
 * wholly free blocks (the remainder as single buckets), with a generator derived from the
 * workspace seed, so segments that do not conflict overlap only by chance, block by block.
 */
import { AdminError } from '../errors.js';
import type { Coordination, Segment, Workspace } from '../workspace/model.js';
import { BUCKETS, BucketSet, popcount, WORDS } from './bucket-set.js';
import { orRuns } from './runs.js';
import { seededRandom, type Random } from './random.js';

/**
 * Buckets per allocation block: new space is taken in aligned blocks of 16 buckets (2 bytes
 * of the bitset, Confidence's own unit), so a set is a few hundred runs and two segments that
 * do not conflict overlap like independent random sets of blocks.
 */
export const BLOCK = 16;
const BLOCKS = BUCKETS / BLOCK;

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
  return occupiedInto(new Uint32Array(WORDS), workspace, coordination, self);
}

/** `occupiedFor`, written into `words` (cleared first). */
function occupiedInto(words: Uint32Array, workspace: Workspace, coordination: Coordination, self?: string): Occupied {
  words.fill(0);
  const conflicting: string[] = [];
  for (const s of workspace.segments) {
    if (s.id === self || s.state !== 'ALLOCATED' || s.buckets === null) continue;
    if (!conflictsWith(coordination, s)) continue;
    conflicting.push(s.id);
    orRuns(words, s.buckets.runs());
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
 * buckets it holds that stay legal (as many as fit in `target`; when it must shrink, it gives
 * up buckets outside whole blocks first, then whole blocks chosen at random), then adds
 * free space in aligned blocks of `BLOCK` buckets chosen uniformly at random among the blocks
 * wholly free (see `addFree`). Throws INSUFFICIENT_SPACE, changing nothing, when the free
 * space is too small.
 */
export function place(
  workspace: Workspace,
  segment: Segment,
  coordination: Coordination,
  target: number,
  purpose: string,
): Placement {
  // Scratch words, reused by every placement: a fresh 125 KB pair per call is garbage the
  // collector must chase through a large workspace's heap.
  const occupied = occupiedInto((occupiedScratch ??= new Uint32Array(WORDS)), workspace, coordination, segment.id);
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
  const legal = (legalScratch ??= new Uint32Array(WORDS)).fill(0);
  if (segment.buckets !== null) {
    orRuns(legal, segment.buckets.runs());
    const blocked = occupied.words;
    for (let i = 0; i < WORDS; i++) legal[i]! &= ~blocked[i]!;
  }
  const legalCount = popcount(legal);
  if (legalCount > target) {
    dropFrom(legal, legalCount - target, random);
  } else if (legalCount < target) {
    const taken = occupied.words; // ours to change: scratch
    for (let i = 0; i < WORDS; i++) taken[i]! |= legal[i]!;
    addFree(legal, taken, target - legalCount, random);
  }
  const kept = Math.min(legalCount, target);
  return { buckets: BucketSet.fromWords(legal), kept, added: target - kept, removed: before - kept };
}

/** Scratch lists and words, reused: a million 32-bit indices is 4 MB. */
let bucketList: Int32Array | null = null;
let blockList: Int32Array | null = null;
let occupiedScratch: Uint32Array | null = null;
let legalScratch: Uint32Array | null = null;
let dropScratch: Uint32Array | null = null;

/** The bits of block `b` within its word. */
function blockMask(b: number): number {
  return (b & 1) === 0 ? 0x0000ffff : 0xffff0000 | 0;
}

/**
 * Sets `k` bits of `into` clear in `taken` (and sets them in `taken`): floor(k / BLOCK) whole
 * blocks chosen uniformly at random among the blocks wholly clear in `taken`, then the rest
 * as single buckets chosen at random among the clear buckets of partly taken blocks (so whole
 * blocks stay whole for later allocations). When too few whole blocks are clear it takes all
 * of them and the rest as single buckets; when too few single buckets are clear, it takes the
 * rest from one more whole block chosen at random.
 */
function addFree(into: Uint32Array, taken: Uint32Array, k: number, random: Random): void {
  const blocks = (blockList ??= new Int32Array(BLOCKS));
  let n = 0;
  for (let b = 0; b < BLOCKS; b++) if ((taken[b >>> 1]! & blockMask(b)) === 0) blocks[n++] = b;
  const whole = Math.min(Math.floor(k / BLOCK), n);
  for (let j = 0; j < whole; j++) {
    const r = j + random.below(n - j);
    const b = blocks[r]!;
    blocks[r] = blocks[j]!;
    blocks[j] = b;
    into[b >>> 1]! |= blockMask(b);
    taken[b >>> 1]! |= blockMask(b);
  }
  let rest = k - whole * BLOCK;
  if (rest === 0) return;
  // Clear buckets of partly taken blocks.
  const list = (bucketList ??= new Int32Array(BUCKETS));
  let m = 0;
  for (let b = 0; b < BLOCKS; b++) {
    const mask = blockMask(b);
    const t = taken[b >>> 1]! & mask;
    if (t === 0 || t === mask) continue;
    let clear = ~t & mask;
    while (clear !== 0) {
      const low = clear & -clear;
      list[m++] = ((b >>> 1) << 5) + 31 - Math.clz32(low);
      clear ^= low;
    }
  }
  const singles = Math.min(rest, m);
  pick(list, m, singles, random, into);
  rest -= singles;
  if (rest === 0) return;
  // Only whole clear blocks are left: open one of them (not yet chosen above).
  const b = blocks[whole + random.below(n - whole)]!;
  for (let i = 0; i < BLOCK; i++) list[i] = b * BLOCK + i;
  pick(list, BLOCK, rest, random, into);
}

/**
 * Clears `k` of the bits set in `from`, chosen at random: first among the buckets outside
 * whole blocks of `from`, then whole blocks at random, and the last fewer-than-BLOCK buckets
 * from one more such block.
 */
function dropFrom(from: Uint32Array, k: number, random: Random): void {
  const list = (bucketList ??= new Int32Array(BUCKETS));
  const blocks = (blockList ??= new Int32Array(BLOCKS));
  let m = 0;
  let n = 0;
  for (let b = 0; b < BLOCKS; b++) {
    const mask = blockMask(b);
    const held = from[b >>> 1]! & mask;
    if (held === 0) continue;
    if (held === mask) {
      blocks[n++] = b;
      continue;
    }
    let bits = held;
    while (bits !== 0) {
      const low = bits & -bits;
      list[m++] = ((b >>> 1) << 5) + 31 - Math.clz32(low);
      bits ^= low;
    }
  }
  const drop = (dropScratch ??= new Uint32Array(WORDS)).fill(0);
  const singles = Math.min(k, m);
  pick(list, m, singles, random, drop);
  let rest = k - singles;
  const opened = Math.ceil(rest / BLOCK);
  for (let j = 0; j < opened; j++) {
    const r = j + random.below(n - j);
    const b = blocks[r]!;
    blocks[r] = blocks[j]!;
    blocks[j] = b;
    if (rest >= BLOCK) {
      drop[b >>> 1]! |= blockMask(b);
      rest -= BLOCK;
    } else {
      for (let i = 0; i < BLOCK; i++) list[i] = b * BLOCK + i;
      pick(list, BLOCK, rest, random, drop);
      rest = 0;
    }
  }
  for (let i = 0; i < WORDS; i++) from[i]! &= ~drop[i]!;
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
