/**
 * A set of segment buckets, held as sorted runs (see `runs.ts`). The workspace stores it as
 * `runs` text (`runs-text.ts`); workspaces written before that stored `bitset`, base64 of the
 * gzipped 125,000 bytes of core's layout (bit i in byte i >> 3 at bit i & 7, least
 * significant first), which is still read. The compiled state carries the gzipped bitset,
 * the form Confidence's resolver and core load.
 *
 * A BucketSet is immutable. It keeps the text it was read from and decodes it on first use,
 * so parsing is linear in the text; the dense words and the gzipped bitset are made on
 * demand and dropped by `release`.
 */
import { constants, gunzipSync, gzipSync } from 'node:zlib';

import { SEGMENT_BUCKETS } from '@allot/core';

import { runsCount, runsHave, runsOfWords, wordsOfRuns, type Runs } from './runs.js';
import { runsFromText, runsToText } from './runs-text.js';

export const BUCKETS: number = SEGMENT_BUCKETS;
/** 1,000,000 / 32: the set as 32-bit words, with no partial word. */
export const WORDS: number = BUCKETS / 32;
const BYTES = BUCKETS / 8;

// The word view below equals core's byte layout only on a little-endian machine.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('@allot/admin needs a little-endian machine (bitset word layout)');
}

/** The text a set was read from: the current `runs` encoding or a legacy gzipped bitset. */
type Source = { readonly kind: 'runs' | 'bitset'; readonly text: string };

export class BucketSet {
  /** Number of buckets held. */
  readonly count: number;
  private runsCache: Runs | null;
  private source: Source | null;
  private wordsCache: Uint32Array | null = null;
  private gzipCache: string | null = null;
  /** Set by `compact`: the runs are then held weakly (`weakRuns`), not in `runsCache`. */
  private compacted = false;
  private weakRuns: WeakRef<Runs> | null = null;

  private constructor(count: number, runs: Runs | null, source: Source | null) {
    this.count = count;
    this.runsCache = runs;
    this.source = source;
  }

  /** A set over `runs` (see `runs.ts`: ascending, disjoint, merged), which it takes ownership of. */
  static fromRuns(runs: Runs): BucketSet {
    return new BucketSet(runsCount(runs), runs, null);
  }

  /** A set over `words` (31,250 of them). */
  static fromWords(words: Uint32Array): BucketSet {
    if (words.length !== WORDS) throw new RangeError(`expected ${WORDS} words, got ${words.length}`);
    return BucketSet.fromRuns(runsOfWords(words));
  }

  /** A set holding exactly `indices`. */
  static fromIndices(indices: Iterable<number>): BucketSet {
    const words = new Uint32Array(WORDS);
    for (const i of indices) words[i >>> 5]! |= 1 << (i & 31);
    return BucketSet.fromWords(words);
  }

  /**
   * The set stored as `text` (the workspace's `runs` encoding) that claims `count` buckets.
   * Lazy: nothing is decoded until used; `verify` decodes and checks the claim.
   */
  static fromRunsText(text: string, count: number): BucketSet {
    return new BucketSet(count, null, { kind: 'runs', text });
  }

  /** The set stored as a legacy `bitset` (base64 of gzipped bytes) claiming `count` buckets. Lazy. */
  static fromGzippedBitset(encoded: string, count: number): BucketSet {
    return new BucketSet(count, null, { kind: 'bitset', text: encoded });
  }

  /** Decodes the set and checks that it holds `count` buckets; throws an Error saying what is wrong. */
  verify(): void {
    const actual = runsCount(this.runs());
    if (actual !== this.count) throw new Error(`the set holds ${actual} buckets, not ${this.count}`);
  }

  /** The runs (ascending `[start, end)` pairs). Do not modify them. */
  runs(): Runs {
    if (this.runsCache !== null) return this.runsCache;
    const held = this.weakRuns?.deref();
    if (held !== undefined) return held;
    const source = this.source!;
    const runs = source.kind === 'runs' ? runsFromText(source.text) : runsOfWords(decodeBitset(source.text));
    if (this.compacted) this.weakRuns = new WeakRef(runs);
    else this.runsCache = runs;
    return runs;
  }

  /** The set as 31,250 little-endian 32-bit words (kept until `release`). Do not modify them. */
  words(): Uint32Array {
    this.wordsCache ??= wordsOfRuns(this.runs());
    return this.wordsCache;
  }

  /** The bytes, in core's layout. Do not modify them. */
  bytes(): Uint8Array {
    const w = this.words();
    return new Uint8Array(w.buffer, w.byteOffset, BYTES);
  }

  /** The workspace's encoding of the set (`buckets.runs`). */
  runsText(): string {
    if (this.source?.kind !== 'runs') this.source = { kind: 'runs', text: runsToText(this.runs()) };
    return this.source.text;
  }

  /**
   * Base64 of the gzipped bitset bytes: what the compiled state carries. Deflated with the
   * run-length strategy: a block set is long runs of zero bytes and 0xff pairs, which it
   * writes as small as level 9 does (~835 against ~710 bytes at 0.5%) in 1/250 of the time;
   * level 9's match search takes 20 ms at 0.5% and 700 ms at 50% on this input.
   */
  gzippedBitset(): string {
    if (this.gzipCache === null) {
      const dropWords = this.wordsCache === null;
      this.gzipCache = gzipSync(this.bytes(), { level: 9, strategy: constants.Z_RLE }).toString('base64');
      if (dropWords) this.wordsCache = null;
    }
    return this.gzipCache;
  }

  /**
   * Takes `previous`'s gzipped bitset when both sets were read from the same text (the same
   * buckets), so that a workspace read again after a change elsewhere deflates only the sets
   * that changed: deflating all 10,000 of a large account took 0.9 s of a 1.2 s compile.
   * Returns whether it took it.
   */
  reuseEncodings(previous: BucketSet): boolean {
    if (this.gzipCache !== null || previous.gzipCache === null) return false;
    const mine = this.source;
    const theirs = previous.source;
    if (mine === null || theirs === null || mine.kind !== theirs.kind || mine.text !== theirs.text) return false;
    this.gzipCache = previous.gzipCache;
    return true;
  }

  has(bucket: number): boolean {
    return runsHave(this.runs(), bucket);
  }

  /** The document field the set was read from (`runs`, or a legacy `bitset`), for messages. */
  get storedAs(): 'runs' | 'bitset' {
    return this.source?.kind ?? 'runs';
  }

  /** Drops the dense words (made again when next needed); the runs, a few KB, stay. */
  release(): void {
    this.wordsCache = null;
  }

  /**
   * Drops the dense words, and the runs too when the set can decode them again from the
   * `runs` text it was read from or written as (a few hundred bytes where the runs take a
   * few KB): for a holder of many sets for long, such as a server's current workspace.
   * Runs decoded after this are held weakly: an operation that uses them keeps them while it
   * runs, and a collection lets them go. The gzipped bitset, once made, stays.
   */
  compact(): void {
    this.wordsCache = null;
    if (this.source?.kind !== 'runs') return;
    this.compacted = true;
    if (this.runsCache !== null) this.weakRuns = new WeakRef(this.runsCache);
    this.runsCache = null;
  }
}

function decodeBitset(encoded: string): Uint32Array {
  let raw: Buffer;
  try {
    raw = gunzipSync(Buffer.from(encoded.replace(/\s+/g, ''), 'base64'), { maxOutputLength: BYTES * 2 });
  } catch (error) {
    throw new Error(`expected base64 of gzipped bitset bytes (${(error as Error).message})`, { cause: error });
  }
  if (raw.length > BYTES) throw new Error(`expected at most ${BYTES} bytes of bitset, got ${raw.length}`);
  const words = new Uint32Array(WORDS);
  new Uint8Array(words.buffer).set(raw);
  return words;
}

/** Number of set bits of `words`. */
export function popcount(words: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) {
    let v = words[i]!;
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return n;
}
