/**
 * Guava's BloomFilter.put for MURMUR128_MITZ_64 with a UTF-8 string funnel, written plainly
 * with BigInt: the layout the resolver must read (and Confidence's resolver reads).
 */
import { murmur3Hex } from '../hash/murmur3.js';

export function guavaFilter(units: readonly string[], bits: number, k: number): Uint8Array {
  const longs = new BigUint64Array(Math.ceil(bits / 64));
  const mask64 = (1n << 64n) - 1n;
  for (const unit of units) {
    const { h1, h2 } = murmur3Hex(unit);
    let combined = BigInt(`0x${h1}`);
    const add = BigInt(`0x${h2}`);
    for (let i = 0; i < k; i++) {
      const index = (combined & 0x7fffffffffffffffn) % BigInt(longs.length * 64);
      longs[Number(index >> 6n)]! |= 1n << (index & 63n);
      combined = (combined + add) & mask64;
    }
  }
  const bytes = new Uint8Array(longs.length * 8);
  const view = new DataView(bytes.buffer);
  longs.forEach((l, j) => {
    view.setBigUint64(j * 8, l); // big-endian, as Guava writes long[]
  });
  return bytes;
}
