/**
 * Segment bitsets over the 1,000,000 buckets of the account salt hash, as states carry them:
 * bit i in byte i >> 3 at bit i & 7, least significant first (Confidence's layout), gzipped
 * and base64 in both shapes, or a list of bucket indices in the conformance shape. Each is
 * decoded into one scratch buffer per load and kept as a `CompactBitset`, so a load never
 * holds more than one 125,000-byte set at a time.
 * `null` stands for the full bitset (`"ALL"`, `fullBitset: true`, or no bitset at all).
 */
import { gunzipSync } from 'node:zlib';

import { BITSET_BYTES, CompactBitset, SEGMENT_BUCKETS } from './compact-bitset.js';
import { describe, indexPath, type IssueList } from './json-input.js';

export { BITSET_BYTES, CompactBitset, SEGMENT_BUCKETS, type BitsetTransfer } from './compact-bitset.js';

/** A segment's allocation, or null for "every bucket". */
export type Bitset = CompactBitset | null;

/** Whether bit i of Confidence's byte layout is set. */
export function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (1 << (i & 7))) !== 0;
}

export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3]! |= 1 << (i & 7);
}

/** Number of set bits. */
export function countBits(bits: Bitset): number {
  return bits === null ? SEGMENT_BUCKETS : bits.count;
}

/** The one 125,000-byte buffer a load decodes every bitset into before compacting it. */
export class BitsetScratch {
  readonly bytes: Uint8Array = new Uint8Array(BITSET_BYTES);
  readonly words: Uint32Array = new Uint32Array(this.bytes.buffer);
  /** Base64-decoded input (gzipped, so usually far smaller than the set). */
  readonly input: Buffer = Buffer.alloc(BITSET_BYTES + 1024);

  private static instance: BitsetScratch | null = null;

  /**
   * The thread's scratch, made on first use and kept: loading is synchronous, so one load
   * at a time uses it, and a provider reloading on every pushed revision does not allocate
   * and zero 250 KB each time.
   */
  static shared(): BitsetScratch {
    return (BitsetScratch.instance ??= new BitsetScratch());
  }
}

/** A bitset from a list of set bucket indices (the conformance `state.json` form). */
export function bitsetFromIndices(
  list: readonly unknown[],
  path: string,
  issues: IssueList,
  scratch: BitsetScratch = BitsetScratch.shared(),
): CompactBitset {
  const bits = scratch.bytes;
  bits.fill(0);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < SEGMENT_BUCKETS) {
      setBit(bits, v);
    } else {
      issues.add(indexPath(path, i), `expected a bucket index in [0, ${SEGMENT_BUCKETS}), got ${describe(v)}`);
      if (issues.full) break;
    }
  }
  return CompactBitset.fromWords(scratch.words);
}

/** A bitset from base64 bytes, gzipped or raw (the proto `gzippedBitset` form). */
export function bitsetFromBase64(
  text: string,
  gzipped: boolean,
  path: string,
  issues: IssueList,
  scratch: BitsetScratch = BitsetScratch.shared(),
): { bits: CompactBitset; allSet: boolean } | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) {
    issues.add(path, 'expected base64 bytes');
    return undefined;
  }
  // Decoded into the scratch's input buffer when it fits (no allocation per bitset).
  let bytes: Uint8Array =
    text.length <= scratch.input.length * 1.3 ? scratch.input.subarray(0, scratch.input.write(text, 'base64')) : Buffer.from(text, 'base64');
  if (gzipped) {
    try {
      // A 1,000,000-bit set is 125,000 bytes; refuse to inflate a bomb far past that. One
      // output chunk of that size: no chunks to concatenate.
      bytes = gunzipSync(bytes, { maxOutputLength: BITSET_BYTES * 2, chunkSize: 128 * 1024 });
    } catch (error) {
      issues.add(path, `expected gzipped bitset bytes: ${(error as Error).message}`);
      return undefined;
    }
  }
  if (bytes.length > BITSET_BYTES) {
    issues.add(path, `expected at most ${BITSET_BYTES} bytes of bitset, got ${bytes.length}`);
    return undefined;
  }
  scratch.bytes.set(bytes);
  scratch.bytes.fill(0, bytes.length);
  const bits = CompactBitset.fromWords(scratch.words);
  // Confidence lets a segment match without a unit when every bit the input holds is set
  // (even when it holds fewer than 1,000,000): the bytes past the input are zero.
  return { bits, allSet: bits.count === bytes.length * 8 };
}
