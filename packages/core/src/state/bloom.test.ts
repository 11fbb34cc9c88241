import { describe, expect, it } from 'vitest';

import { murmur3Hex } from '../hash/murmur3.js';
import { BloomFilter } from './bloom.js';

/**
 * Guava's BloomFilter.put for MURMUR128_MITZ_64 with a UTF-8 string funnel, written plainly
 * with BigInt: the layout the resolver must read.
 */
function guavaFilter(units: readonly string[], bits: number, k: number): Uint8Array {
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
  longs.forEach((l, j) => { view.setBigUint64(j * 8, l); }); // big-endian, as Guava writes long[]
  return bytes;
}

describe('BloomFilter (Guava MURMUR128_MITZ_64 layout)', () => {
  const members = Array.from({ length: 200 }, (_, i) => `member-${i}`);
  const filter = new BloomFilter(guavaFilter(members, 4096, 5), 5);

  it('contains every unit that was put', () => {
    for (const m of members) expect(filter.mightContain(m)).toBe(true);
  });

  it('rejects most other units (false positives near the theoretical rate)', () => {
    const others = Array.from({ length: 5000 }, (_, i) => `other-${i}`);
    const falsePositives = others.filter((u) => filter.mightContain(u)).length;
    // (1 - e^(-kn/m))^k with k = 5, n = 200, m = 4096: about 0.9%.
    expect(falsePositives / others.length).toBeLessThan(0.03);
  });

  it('an empty filter contains nothing', () => {
    expect(new BloomFilter(new Uint8Array(0), 3).mightContain('x')).toBe(false);
  });
});
