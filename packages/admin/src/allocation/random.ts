/**
 * Reproducible randomness for the allocator: a small PRNG (sfc32) seeded from SHA-256 of the
 * workspace seed and what is being decided (the segment id, the operation, the counts), so
 * replaying the same operation on the same workspace chooses the same buckets.
 */
import { createHash } from 'node:crypto';

export interface Random {
  /** A uniformly distributed integer in [0, n), for 0 < n <= 2^32. */
  below(n: number): number;
}

/** A generator derived from `seed` and the `parts` naming the decision. */
export function seededRandom(seed: string, ...parts: readonly (string | number)[]): Random {
  const digest = createHash('sha256').update([seed, ...parts].join('\u0000')).digest();
  let a = digest.readUInt32LE(0);
  let b = digest.readUInt32LE(4);
  let c = digest.readUInt32LE(8);
  let d = digest.readUInt32LE(12);
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next(); // mix the seed in
  return {
    below(n: number): number {
      // Rejection sampling: exact uniformity, no modulo bias.
      const limit = Math.floor(0x100000000 / n) * n;
      for (;;) {
        const r = next();
        if (r < limit) return r % n;
      }
    },
  };
}
