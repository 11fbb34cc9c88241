import { describe, expect, it } from 'vitest';

import { guavaFilter } from '../testing/guava-bloom.js';
import { BloomFilter } from './bloom.js';

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
