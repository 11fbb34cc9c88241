/**
 * A set of segment buckets: 1,000,000 bits in core's layout (bit i in byte i >> 3 at bit
 * i & 7, least significant first), stored in the workspace as base64 of the gzipped bytes
 * (the form core's loader accepts directly, so compiling passes it through untouched).
 *
 * A BucketSet is immutable. It keeps the encoded text and decodes the bytes on first use,
 * so a workspace of a thousand allocated segments that is only compiled holds no bitsets.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

import { SEGMENT_BUCKETS } from '@allot/core';

export const BUCKETS: number = SEGMENT_BUCKETS;
/** 1,000,000 / 32: the set as 32-bit words, with no partial word. */
export const WORDS: number = BUCKETS / 32;
const BYTES = BUCKETS / 8;

// The word view below equals core's byte layout only on a little-endian machine.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('@allot/admin needs a little-endian machine (bitset word layout)');
}

export class BucketSet {
  /** Number of buckets held. */
  readonly count: number;
  private bytesCache: Uint8Array | null;
  private encodedCache: string | null;

  private constructor(count: number, bytes: Uint8Array | null, encoded: string | null) {
    this.count = count;
    this.bytesCache = bytes;
    this.encodedCache = encoded;
  }

  /** A set over `words` (31,250 of them), which the set takes ownership of. */
  static fromWords(words: Uint32Array): BucketSet {
    if (words.length !== WORDS) throw new RangeError(`expected ${WORDS} words, got ${words.length}`);
    return new BucketSet(popcount(words), new Uint8Array(words.buffer, words.byteOffset, BYTES), null);
  }

  /** A set holding exactly `indices`. */
  static fromIndices(indices: Iterable<number>): BucketSet {
    const words = new Uint32Array(WORDS);
    for (const i of indices) words[i >>> 5]! |= 1 << (i & 31);
    return BucketSet.fromWords(words);
  }

  /**
   * The set stored as `encoded` (base64 of gzipped bytes) that claims `count` buckets. Lazy:
   * nothing is decoded until used; `verify` decodes and checks the claim.
   */
  static fromEncoded(encoded: string, count: number): BucketSet {
    return new BucketSet(count, null, encoded);
  }

  /**
   * Decodes the bytes and checks that they hold `count` buckets; throws an Error saying what
   * is wrong. Keeps the decoded bytes only if `keep`.
   */
  verify(keep = false): void {
    const bytes = this.bytesCache ?? new Uint8Array(decode(this.encodedCache!).buffer, 0, BYTES);
    const actual = popcount(new Uint32Array(bytes.buffer, bytes.byteOffset, WORDS));
    if (actual !== this.count) throw new Error(`the bitset holds ${actual} buckets, not ${this.count}`);
    if (keep) this.bytesCache = bytes;
  }

  /** The bytes, in core's layout. Do not modify them. */
  bytes(): Uint8Array {
    this.bytesCache ??= new Uint8Array(decode(this.encodedCache!).buffer, 0, BYTES);
    return this.bytesCache;
  }

  /** The set as 31,250 little-endian 32-bit words. Do not modify them. */
  words(): Uint32Array {
    const b = this.bytes();
    return new Uint32Array(b.buffer, b.byteOffset, WORDS);
  }

  /** Base64 of the gzipped bytes: the workspace and the compiled state store this. */
  encoded(): string {
    this.encodedCache ??= gzipSync(this.bytes(), { level: 6 }).toString('base64');
    return this.encodedCache;
  }

  has(bucket: number): boolean {
    return (this.words()[bucket >>> 5]! & (1 << (bucket & 31))) !== 0;
  }

  /** Drops the decoded bytes (they are decoded again when next needed). */
  release(): void {
    if (this.bytesCache !== null) {
      this.encoded();
      this.bytesCache = null;
    }
  }
}

function decode(encoded: string): Uint32Array {
  let raw: Buffer;
  try {
    raw = gunzipSync(Buffer.from(encoded, 'base64'), { maxOutputLength: BYTES * 2 });
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
