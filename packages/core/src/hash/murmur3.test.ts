import { fc, test } from '@fast-check/vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

import { readShared, sharedDir, sharedMissing } from '../testing/shared.js';
import { bucketOf, HashPrefix } from './bucket.js';
import { murmur3Hex, murmur3String, out } from './murmur3.js';

const require = createRequire(import.meta.url);
const reference = require('murmurhash3js-revisited') as {
  x64: { hash128(bytes: Uint8Array, seed: number): string };
};

interface Vector {
  key: string;
  h1: string;
  h2: string;
  bucket1000000: number;
  bucket10000: number;
  bucket1000: number;
  bucket7?: number;
  bucket2147483647?: number;
}

/** Golden vectors kept as JSON beside this file. */
const golden = JSON.parse(readFileSync(new URL('./murmur3.vectors.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
};

function bucketWithBigInt(h1: string, n: number): number {
  return Number((BigInt(`0x${h1}`) >> 4n) % BigInt(n));
}

describe('murmur3_x64_128 golden vectors (computed by an independent implementation)', () => {
  it.each(golden.vectors.map((v) => [JSON.stringify(v.key).slice(0, 50), v] as const))(
    '%s',
    (_name, v) => {
      expect(murmur3Hex(v.key)).toEqual({ h1: v.h1, h2: v.h2 });
      // As the resolver hashes it: a constant prefix up to the first "|", then the unit.
      const cut = v.key.indexOf('|') + 1;
      expect(new HashPrefix(v.key.slice(0, cut)).bucket(v.key.slice(cut), 1_000_000)).toBe(v.bucket1000000);
      murmur3String(v.key);
      expect(bucketOf(out[0]!, out[1]!, 1_000_000)).toBe(v.bucket1000000);
      expect(bucketOf(out[0]!, out[1]!, 10_000)).toBe(v.bucket10000);
      expect(bucketOf(out[0]!, out[1]!, 1000)).toBe(v.bucket1000);
      if (v.bucket7 !== undefined) expect(bucketOf(out[0]!, out[1]!, 7)).toBe(v.bucket7);
      if (v.bucket2147483647 !== undefined) {
        expect(bucketOf(out[0]!, out[1]!, 2147483647)).toBe(v.bucket2147483647);
      }
    },
  );

  it("reproduces Confidence's own vector: account confidence-test, unit roug -> 567493", () => {
    expect(new HashPrefix('MegaSalt-confidence-test|').bucket('roug', 1_000_000)).toBe(567493);
  });
});

describe('shared conformance hash vectors', () => {
  if (sharedDir === null) {
    it.skip(sharedMissing, () => undefined);
    return;
  }
  const { vectors } = readShared('conformance/hash-vectors.json') as { vectors: Vector[] };
  it.each(vectors.map((v) => [JSON.stringify(v.key).slice(0, 50), v] as const))('%s', (_name, v) => {
    expect(murmur3Hex(v.key)).toEqual({ h1: v.h1, h2: v.h2 });
    expect(new HashPrefix('').bucket(v.key, 1_000_000)).toBe(v.bucket1000000);
    expect(new HashPrefix('').bucket(v.key, 10_000)).toBe(v.bucket10000);
    expect(new HashPrefix('').bucket(v.key, 1000)).toBe(v.bucket1000);
  });
});

describe('properties', () => {
  test.prop([fc.string({ unit: 'binary', maxLength: 80 })])(
    'agrees with an independent implementation on arbitrary (also non-BMP and lone-surrogate) strings',
    (key) => {
      const hex = reference.x64.hash128(new TextEncoder().encode(key), 0);
      const mine = murmur3Hex(key);
      expect(mine.h1 + mine.h2).toBe(hex);
    },
  );

  test.prop([fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })])(
    'a pre-absorbed prefix gives the same bucket as hashing the whole key',
    (prefix, unit, n) => {
      const whole = murmur3Hex(prefix + unit).h1;
      expect(new HashPrefix(prefix).bucket(unit, n)).toBe(bucketWithBigInt(whole, n));
    },
  );

  test.prop([fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 100 })])(
    'the WebAssembly hash of a prefixed unit agrees with an independent implementation (long units, lone surrogates)',
    (prefix, unit) => {
      const whole = reference.x64.hash128(new TextEncoder().encode(prefix + unit), 0).slice(0, 16);
      expect(new HashPrefix(prefix).bucket(unit, 1_000_000)).toBe(bucketWithBigInt(whole, 1_000_000));
    },
  );

  // The module's memory is shared: a prefix's tail stays there until another prefix writes
  // over it, and the bytes after a unit are whatever a longer unit left (masked off by the
  // module). Long-lived prefixes asked in turn, units long and short, must not see either.
  test.prop([
    fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { minLength: 1, maxLength: 4 }),
    fc.array(fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 33 })), { minLength: 1, maxLength: 30 }),
  ])('prefixes asked in turn, after longer and shorter units, agree with an independent implementation', (prefixes, asks) => {
    const live = prefixes.map((p) => new HashPrefix(p));
    for (const [i, unit] of asks) {
      const p = i % prefixes.length;
      const whole = reference.x64.hash128(new TextEncoder().encode(prefixes[p]! + unit), 0).slice(0, 16);
      expect(live[p]!.bucket(unit, 1_000_000)).toBe(bucketWithBigInt(whole, 1_000_000));
    }
  });

  test.prop([
    fc.string({ maxLength: 30 }),
    fc.array(
      fc.tuple(
        fc.constantFrom('a', 'b', 'user-1', 'user-2', ''),
        // Integers on both sides of 2^31 (the module's own remainder stops there), and fractions.
        fc.oneof(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2 ** 31, max: 2 ** 40 }), fc.double({ min: 1, max: 1e6, noNaN: true })),
      ),
      { minLength: 1, maxLength: 20 },
    ),
  ])(
    'one prefix asked again and again (same unit, other units, other bucket counts) answers as a fresh one',
    (prefix, asks) => {
      const shared = new HashPrefix(prefix);
      for (const [unit, n] of asks) expect(shared.bucket(unit, n)).toBe(new HashPrefix(prefix).bucket(unit, n));
    },
  );
});

describe('bucket distribution', () => {
  it('is uniform over 1,000,000 sequential ids (chi-square, 100 cells)', () => {
    const cells = 100;
    const counts = new Float64Array(cells);
    const prefix = new HashPrefix('MegaSalt-uniformity|');
    const n = 1_000_000;
    for (let i = 0; i < n; i++) counts[Math.floor(prefix.bucket(`user-${i}`, 1_000_000) / 10_000)]!++;
    const expected = n / cells;
    let chi2 = 0;
    for (const c of counts) chi2 += ((c - expected) * (c - expected)) / expected;
    // 99 degrees of freedom: P(chi2 > 148.23) = 0.001. A biased hash lands far above.
    expect(chi2).toBeLessThan(148.23);
  });
});
