/**
 * Buckets: `(h1 >>> 4) mod N` of murmur3_x64_128 over `prefix + unit`, where the prefix is a
 * constant of the state (the account salt, or a segment id) absorbed once, at load.
 */
import { absorbBlocks, finish, out, writeUtf8, type BlockState } from './murmur3.js';

/** Longest unit the resolver accepts (longer ones are a targeting-key error). */
export const MAX_UNIT_LENGTH = 100;

const TWO_POW_32 = 4294967296;
/** Above this N, (a mod N) * (b mod N) may exceed 2^53: a slower exact path is used. */
const FAST_MOD_LIMIT = 94906265;

/** `(h1 >>> 4) mod n` for the 64-bit h1 = (hi, lo), exactly. */
export function bucketOf(hi: number, lo: number, n: number): number {
  const top = hi >>> 4; // bits 32..59 of h1 >>> 4
  const bottom = ((hi & 0xf) * 0x10000000 + (lo >>> 4)) % n; // bits 0..31
  if (n <= FAST_MOD_LIMIT) return ((top % n) * (TWO_POW_32 % n) + bottom) % n;
  const v = (BigInt(top) << 32n) + BigInt(bottom);
  return Number(v % BigInt(n));
}

/**
 * A constant key prefix, pre-absorbed: `bucket(unit, n)` hashes `prefix + unit` touching only
 * the prefix's last partial block and the unit's bytes.
 */
export class HashPrefix {
  readonly prefix: string;
  private readonly state: BlockState;
  private readonly buf: Uint8Array;
  private readonly tailLength: number;

  constructor(prefix: string) {
    this.prefix = prefix;
    const bytes = new TextEncoder().encode(prefix);
    this.state = { h1hi: 0, h1lo: 0, h2hi: 0, h2lo: 0, length: 0 };
    const used = absorbBlocks(this.state, bytes, bytes.length);
    this.tailLength = bytes.length - used;
    // Prefix tail, then up to 3 bytes per UTF-16 unit of the longest accepted unit.
    this.buf = new Uint8Array(this.tailLength + MAX_UNIT_LENGTH * 3 + 16);
    this.buf.set(bytes.subarray(used), 0);
  }

  /** Bucket of `prefix + unit` among `n` (unit at most MAX_UNIT_LENGTH UTF-16 units). */
  bucket(unit: string, n: number): number {
    const end = writeUtf8(unit, this.buf, this.tailLength);
    finish(this.state, this.buf, 0, end);
    return bucketOf(out.h1hi, out.h1lo, n);
  }
}
