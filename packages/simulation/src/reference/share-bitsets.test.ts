import { describe, expect, it } from 'vitest';

import { ReferenceModel } from './reference.js';

const BYTES = 1_000_000 / 8;
const state = {
  account: { name: 'accounts/acme' },
  segments: { 'segments/a': {}, 'segments/all': {} },
  bitsets: { 'segments/a': [1, 5, 999_999], 'segments/all': 'ALL' },
  flags: {},
  clients: {},
};
function bytesOf(buckets: readonly number[]): Uint8Array {
  const bits = new Uint8Array(BYTES);
  for (const b of buckets) bits[b >> 3]! |= 1 << (b & 7);
  return bits;
}

describe('the reference reading core\'s copy of a bitset', () => {
  it('reads the given bytes when they equal its own decoding, over every bucket', () => {
    const model = new ReferenceModel(state);
    const column = model.segments.get('segments/a')!.column;
    const theirs = bytesOf([1, 5, 999_999]);
    expect(model.shareEqualBitsets((name) => (name === 'segments/a' ? theirs : null))).toBe(1);
    expect(model.columnBits[column]).toBe(theirs);
    expect([1, 5, 999_999].every((b) => model.allocated(column, b))).toBe(true);
    expect(model.allocated(column, 6)).toBe(false);
  });

  it('keeps its own decoding when the bytes differ in one bucket, or in length, or are missing', () => {
    for (const theirs of [bytesOf([1, 5, 6, 999_999]), bytesOf([1, 5]), bytesOf([1, 5, 999_999]).subarray(0, BYTES - 1), null]) {
      const model = new ReferenceModel(state);
      const column = model.segments.get('segments/a')!.column;
      const own = model.columnBits[column];
      expect(model.shareEqualBitsets(() => theirs)).toBe(0);
      expect(model.columnBits[column]).toBe(own);
      // Its answers stay its own decoding's: bucket 6 is out and 999,999 in, whatever core holds.
      expect(model.allocated(column, 6)).toBe(false);
      expect(model.allocated(column, 999_999)).toBe(true);
    }
  });
});
