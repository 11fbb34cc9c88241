/**
 * Buckets: `(h1 >>> 4) mod N` of murmur3_x64_128 over `prefix + unit`, where the prefix is a
 * constant of the state (the account salt, or a segment id) absorbed once, at load.
 */
import { murmur3Continue, out, writeUtf8, zeroTail, type BlockState } from './murmur3.js';

/** Longest unit the resolver accepts, in bytes of UTF-8 (longer ones are a targeting-key error). */
export const MAX_UNIT_LENGTH = 100;

const TWO_POW_32 = 4294967296;
/** Units at least this long are encoded by Node's UTF-8 encoder rather than `writeUtf8`. */
const NATIVE_ENCODE_FROM = 24;
/** Above this N, (a mod N) * (b mod N) may exceed 2^53: a slower exact path is used. */
const FAST_MOD_LIMIT = 94906265;

/**
 * `(h1 >>> 4) mod n` for the h1 of the last hash (`out[0]`, `out[1]`), exactly. Reads `out`
 * itself rather than taking the words as arguments, which would box them when not inlined.
 */
export function bucketOfLastHash(n: number): number {
  const hi = out[0]!;
  const top = hi >>> 4; // bits 32..59 of h1 >>> 4
  const bottom = (hi & 0xf) * 0x10000000 + (out[1]! >>> 4); // bits 0..31
  if (n > FAST_MOD_LIMIT) return Number(((BigInt(top) << 32n) + BigInt(bottom)) % BigInt(n));
  // (top mod n) * (2^32 mod n) + bottom < 2^53; x - floor(x / n) * n avoids the slow float `%`.
  const topMod = top % n;
  const baseMod = TWO_POW_32 - Math.floor(TWO_POW_32 / n) * n;
  const x = topMod * baseMod + bottom;
  let r = x - Math.floor(x / n) * n;
  if (r < 0) r += n;
  else if (r >= n) r -= n;
  return r;
}

/** `(h1 >>> 4) mod n` for a 64-bit h1 given as unsigned 32-bit halves. */
export function bucketOf(hi: number, lo: number, n: number): number {
  out[0] = hi;
  out[1] = lo;
  return bucketOfLastHash(n);
}

/**
 * A constant key prefix, pre-absorbed: `bucket(unit, n)` hashes `prefix + unit` touching only
 * the prefix's last partial block and the unit's bytes.
 */
export class HashPrefix {
  readonly prefix: string;
  private readonly state: BlockState;
  private readonly stateLength: number;
  private readonly buf: Buffer;
  private readonly tailLength: number;
  /** h1 of `prefix + lastUnit`, as [hi, lo]: callers that hash one unit several times hash it once. */
  private lastUnit: string | null = null;
  private readonly lastH1: Uint32Array = new Uint32Array(2);
  /** The last bucket answered for `lastUnit`, and its `n` (0: none yet). */
  private lastN = 0;
  private lastBucket = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
    const bytes = new TextEncoder().encode(prefix);
    this.state = new Uint32Array(4);
    const used = murmur3Continue(this.state, 0, bytes, bytes.length, false);
    this.stateLength = used;
    this.tailLength = bytes.length - used;
    // Prefix tail, then the longest accepted unit (up to 3 bytes per UTF-16 unit, so callers
    // that hash units they did not check still fit).
    this.buf = Buffer.alloc(this.tailLength + MAX_UNIT_LENGTH * 3 + 32);
    this.buf.set(bytes.subarray(used), 0);
  }

  /**
   * Bucket of `prefix + unit` among `n` (unit at most MAX_UNIT_LENGTH UTF-16 units). The
   * last unit's hash is kept, so asking again for the same unit (another flag, another
   * bucket count, another evaluator sharing this prefix) costs a string comparison.
   */
  bucket(unit: string, n: number): number {
    const h1 = this.lastH1;
    if (unit === this.lastUnit) {
      if (n === this.lastN) return this.lastBucket;
      out[0] = h1[0]!;
      out[1] = h1[1]!;
    } else {
      // Node's native encoder beats a JavaScript loop from a few dozen characters on (ids
      // such as UUIDs); below that the call costs more than the loop.
      const end =
        unit.length < NATIVE_ENCODE_FROM
          ? writeUtf8(unit, this.buf, this.tailLength)
          : this.tailLength + this.buf.write(unit, this.tailLength, 'utf8');
      zeroTail(this.buf, end);
      murmur3Continue(this.state, this.stateLength, this.buf, end, true);
      h1[0] = out[0]!;
      h1[1] = out[1]!;
      this.lastUnit = unit;
    }
    this.lastN = n;
    this.lastBucket = bucketOfLastHash(n);
    return this.lastBucket;
  }
}
