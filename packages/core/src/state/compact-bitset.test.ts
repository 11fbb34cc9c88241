import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { BITSET_BYTES, CompactBitset, SEGMENT_BUCKETS } from './compact-bitset.js';

/** Buckets where chunks, bytes and words meet, and the ends. */
const EDGES = [0, 1, 7, 8, 15, 16, 31, 32, 65_535, 65_536, 65_537, 131_071, 131_072, 917_503, 917_504, 983_039, 983_040, 983_041, 999_998, 999_999];

interface Shape {
  readonly scattered: readonly number[];
  readonly runs: readonly (readonly [number, number])[];
  readonly blocks16: readonly number[];
  readonly edges: readonly number[];
  /** A chunk filled at random with this density (one in 256ths), as a dense segment is. */
  readonly dense: { readonly chunk: number; readonly density: number; readonly seed: number } | null;
  readonly complement: boolean;
}

const shape: fc.Arbitrary<Shape> = fc.record({
  scattered: fc.array(fc.nat(SEGMENT_BUCKETS - 1), { maxLength: 3000 }),
  runs: fc.array(fc.tuple(fc.nat(SEGMENT_BUCKETS - 1), fc.integer({ min: 1, max: 140_000 })), { maxLength: 12 }),
  blocks16: fc.array(fc.nat(SEGMENT_BUCKETS / 16 - 1), { maxLength: 3000 }),
  edges: fc.subarray(EDGES),
  dense: fc.option(fc.record({ chunk: fc.nat(15), density: fc.integer({ min: 1, max: 255 }), seed: fc.nat() }), { nil: null }),
  complement: fc.boolean(),
});

/** The plain bitset a shape describes (Confidence's layout). */
function bytesOf(s: Shape): Uint8Array {
  const bits = new Uint8Array(BITSET_BYTES);
  const set = (b: number): void => {
    if (b < SEGMENT_BUCKETS) bits[b >> 3]! |= 1 << (b & 7);
  };
  for (const b of s.scattered) set(b);
  for (const [first, length] of s.runs) for (let b = first; b < first + length; b++) set(b);
  for (const block of s.blocks16) for (let b = block * 16; b < block * 16 + 16; b++) set(b);
  for (const b of s.edges) set(b);
  if (s.dense !== null) {
    let x = s.dense.seed | 1;
    const end = Math.min((s.dense.chunk + 1) << 16, SEGMENT_BUCKETS);
    for (let b = s.dense.chunk << 16; b < end; b++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if ((x & 255) < s.dense.density) set(b);
    }
  }
  if (s.complement) for (let i = 0; i < BITSET_BYTES; i++) bits[i] = ~bits[i]! & 0xff;
  return bits;
}

function compact(bytes: Uint8Array): CompactBitset {
  const words = new Uint32Array(BITSET_BYTES / 4);
  new Uint8Array(words.buffer).set(bytes);
  return CompactBitset.fromWords(words);
}

function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (const byte of bytes) for (let b = byte; b !== 0; b &= b - 1) n++;
  return n;
}

/** Every bucket of 1,000,000 answers as the plain bitset does. */
function expectSameMembers(set: CompactBitset, bytes: Uint8Array): void {
  let wrong = -1;
  for (let i = 0; i < SEGMENT_BUCKETS && wrong < 0; i++) {
    if (set.has(i) !== ((bytes[i >> 3]! & (1 << (i & 7))) !== 0)) wrong = i;
  }
  expect(wrong).toBe(-1);
}

describe('CompactBitset equals the plain bitset it was made from', () => {
  test.prop([shape], { numRuns: 60 })('has, count and bytes, over every bucket', (s) => {
    const bytes = bytesOf(s);
    const set = compact(bytes);
    expectSameMembers(set, bytes);
    expect(set.count).toBe(popcount(bytes));
    expect(Buffer.compare(set.toBytes(), bytes)).toBe(0);
    // Made again from its own bytes, the set is the same, region for region.
    expect(set.equals(compact(set.toBytes()))).toBe(true);
    // Never larger than the plain bytes (plus its 72-byte header and alignment).
    expect(set.byteLength).toBeLessThanOrEqual(BITSET_BYTES + 76);
  });

  test.prop([fc.array(shape, { minLength: 1, maxLength: 4 })], { numRuns: 15 })('survives the transfer form', (shapes) => {
    const bytes = shapes.map(bytesOf);
    const sets = bytes.map(compact);
    const transfer = CompactBitset.toTransfer(sets);
    const copy = structuredClone(transfer, { transfer: [transfer.buffer as ArrayBuffer] });
    const back = CompactBitset.fromTransfer(copy);
    expect(back).toHaveLength(sets.length);
    back.forEach((set, i) => {
      expect(set.equals(sets[i]!)).toBe(true);
      expect(set.count).toBe(sets[i]!.count);
      expectSameMembers(set, bytes[i]!);
    });
    // Sets read from a transfer are views at offsets into it: packed again, they are the same.
    const again = CompactBitset.fromTransfer(CompactBitset.toTransfer(back));
    again.forEach((set, i) => { expect(set.equals(sets[i]!)).toBe(true); });
  });

  test.prop([shape, shape], { numRuns: 40 })('equals holds exactly when the members are equal', (a, b) => {
    const x = bytesOf(a);
    const y = bytesOf(b);
    expect(compact(x).equals(compact(y))).toBe(Buffer.compare(x, y) === 0);
  });

  it('holds the empty, the full and the one-bucket sets in a few bytes', () => {
    const empty = new Uint8Array(BITSET_BYTES);
    const full = new Uint8Array(BITSET_BYTES).fill(0xff);
    for (const bytes of [empty, full]) {
      const set = compact(bytes);
      expect(set.byteLength).toBe(72);
      expectSameMembers(set, bytes);
    }
    for (const b of EDGES) {
      const set = CompactBitset.fromBuckets([b]);
      expect([set.count, set.has(b), set.has(b === 0 ? 1 : b - 1), [...set.buckets()]]).toEqual([1, true, false, [b]]);
    }
    const allButLast = CompactBitset.fromBuckets(Array.from({ length: SEGMENT_BUCKETS - 1 }, (_, i) => i));
    expect([allButLast.count, allButLast.has(999_998), allButLast.has(999_999)]).toEqual([999_999, true, false]);
  });

  it('costs what its information costs: scattered, runs of 16, dense', () => {
    let x = 12345;
    const random = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const scattered = new Set<number>();
    while (scattered.size < 5000) scattered.add(Math.floor(random() * SEGMENT_BUCKETS));
    // 0.5% scattered: per chunk 160 bytes of block counts and a byte per member (SPLIT).
    const split = CompactBitset.fromBuckets(scattered);
    expect(split.byteLength).toBeLessThanOrEqual(72 + 16 * 160 + 5000 + 16);
    const bytes = new Uint8Array(BITSET_BYTES);
    for (const b of scattered) bytes[b >> 3]! |= 1 << (b & 7);
    expectSameMembers(split, bytes);
    // A block of 256 buckets with 16 members cannot be counted in a nibble: a list instead.
    const crowded = CompactBitset.fromBuckets([...scattered, ...Array.from({ length: 16 }, (_, i) => 70_000 + i * 3)]);
    expect(crowded.count).toBe(5016 - [...scattered].filter((b) => b >= 70_000 && b < 70_048 && (b - 70_000) % 3 === 0).length);
    expect(crowded.has(70_045)).toBe(true);
    const blocks = new Set<number>();
    while (blocks.size < 5000 / 16) blocks.add(Math.floor(random() * (SEGMENT_BUCKETS / 16)));
    const runs = CompactBitset.fromBuckets([...blocks].flatMap((b) => Array.from({ length: 16 }, (_, i) => b * 16 + i)));
    expect(runs.byteLength).toBeLessThanOrEqual(72 + 4 * 313);
  });

  it('refuses a damaged transfer buffer', () => {
    const { buffer, offsets } = CompactBitset.toTransfer([CompactBitset.fromBuckets([1, 2, 3])]);
    new Int32Array(buffer)[0] = (5 << 3) | 2; // chunk 0 claims to start past its end
    expect(() => CompactBitset.fromTransfer({ buffer, offsets })).toThrow(/bitset 0/);
    expect(() => CompactBitset.fromTransfer({ buffer, offsets: Uint32Array.of(buffer.byteLength) })).toThrow(/outside/);
  });
});
