/**
 * Segment bitsets over the 1,000,000 buckets of the account salt hash. Bit i lives in byte
 * i >> 3 at bit i & 7, least significant first (the layout of Confidence's bitsets).
 * `null` stands for the full bitset (`"ALL"`, `fullBitset: true`, or no bitset at all).
 */
import { gunzipSync } from 'node:zlib';

import { describe, indexPath, type IssueList } from './json-input.js';

export const SEGMENT_BUCKETS = 1_000_000;
export const BITSET_BYTES: number = SEGMENT_BUCKETS / 8;

/** A bitset of SEGMENT_BUCKETS bits, or null for "every bucket". */
export type Bitset = Uint8Array | null;

export function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (1 << (i & 7))) !== 0;
}

export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3]! |= 1 << (i & 7);
}

/** Number of set bits. */
export function countBits(bits: Bitset): number {
  if (bits === null) return SEGMENT_BUCKETS;
  let n = 0;
  for (const byte of bits) {
    let b = byte;
    while (b !== 0) {
      b &= b - 1;
      n++;
    }
  }
  return n;
}

/** A bitset from a list of set bucket indices (the conformance `state.json` form). */
export function bitsetFromIndices(
  list: readonly unknown[],
  path: string,
  issues: IssueList,
): Uint8Array {
  const bits = new Uint8Array(BITSET_BYTES);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < SEGMENT_BUCKETS) {
      setBit(bits, v);
    } else {
      issues.add(indexPath(path, i), `expected a bucket index in [0, ${SEGMENT_BUCKETS}), got ${describe(v)}`);
      if (issues.full) break;
    }
  }
  return bits;
}

/** A bitset from base64 bytes, gzipped or raw (the proto `gzippedBitset` form). */
export function bitsetFromBase64(
  text: string,
  gzipped: boolean,
  path: string,
  issues: IssueList,
): { bits: Uint8Array; allSet: boolean } | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) {
    issues.add(path, 'expected base64 bytes');
    return undefined;
  }
  let bytes: Uint8Array = Buffer.from(text, 'base64');
  if (gzipped) {
    try {
      // A 1,000,000-bit set is 125,000 bytes; refuse to inflate a bomb far past that.
      bytes = gunzipSync(bytes, { maxOutputLength: BITSET_BYTES * 2 });
    } catch (error) {
      issues.add(path, `expected gzipped bitset bytes: ${(error as Error).message}`);
      return undefined;
    }
  }
  if (bytes.length > BITSET_BYTES) {
    issues.add(path, `expected at most ${BITSET_BYTES} bytes of bitset, got ${bytes.length}`);
    return undefined;
  }
  const bits = new Uint8Array(BITSET_BYTES);
  bits.set(bytes);
  // Confidence lets a segment match without a unit when every bit the input holds is set
  // (even when it holds fewer than 1,000,000).
  return { bits, allSet: bytes.every((b) => b === 0xff) };
}
