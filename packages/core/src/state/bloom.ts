/**
 * Bloom filters in Guava's layout (`BloomFilter` with strategy MURMUR128_MITZ_64 and a UTF-8
 * string funnel): a `long[]` written big-endian, `hashFunctionCount` probes derived from the
 * two halves of murmur3_x64_128(utf8(unit)).
 */
import { murmur3String, out } from '../hash/murmur3.js';

export class BloomFilter {
  /** The bit array as 32-bit words: word 2j is the low half of Guava's long j. */
  private readonly words: Uint32Array;
  private readonly bitCount: number;
  private readonly hashCount: number;

  constructor(longsBigEndian: Uint8Array, hashCount: number) {
    const longs = longsBigEndian.length >> 3;
    this.words = new Uint32Array(longs * 2);
    const view = new DataView(longsBigEndian.buffer, longsBigEndian.byteOffset, longs * 8);
    for (let j = 0; j < longs; j++) {
      this.words[2 * j + 1] = view.getUint32(j * 8);
      this.words[2 * j] = view.getUint32(j * 8 + 4);
    }
    this.bitCount = longs * 64;
    this.hashCount = hashCount;
  }

  /** Whether `unit` might be in the set (false: certainly not). */
  mightContain(unit: string): boolean {
    if (this.bitCount === 0) return false;
    murmur3String(unit);
    // Guava: combined = h1; repeat k times: probe (combined & Long.MAX_VALUE) % bits; combined += h2.
    let cHi = out[0]!;
    let cLo = out[1]!;
    const h2hi = out[2]!;
    const h2lo = out[3]!;
    for (let i = 0; i < this.hashCount; i++) {
      const index = mod63(cHi & 0x7fffffff, cLo, this.bitCount);
      if ((this.words[index >>> 5]! & (1 << (index & 31))) === 0) return false;
      const lo = cLo + h2lo;
      cLo = lo >>> 0;
      cHi = (cHi + h2hi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    }
    return true;
  }
}

/** (hi * 2^32 + lo) mod n for n < 2^31, exactly. */
function mod63(hi: number, lo: number, n: number): number {
  // hi < 2^31 and n < 2^31: split to keep every intermediate below 2^53.
  const base = 4294967296 % n;
  const hiMod = hi % n;
  const a = (hiMod * (base >>> 16)) % n;
  const b = (a * 65536 + hiMod * (base & 0xffff)) % n;
  return (b + (lo % n)) % n;
}
