import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { BucketSet } from './bucket-set.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Ends the current job (a weak reference holds its target until then), then collects. */
async function collected(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc();
}

const blocks = (n: number): number[] => Array.from({ length: n * 16 }, (_, i) => Math.floor(i / 16) * 1024 + (i % 16));

describe('BucketSet.compact', () => {
  it('drops the decoded runs of a set read from runs text, decodes the same runs again, and holds those only weakly', async () => {
    const written = BucketSet.fromIndices(blocks(200));
    const set = BucketSet.fromRunsText(written.runsText(), written.count);
    const decoded = [...set.runs()];
    const gzipped = set.gzippedBitset();
    set.compact();
    await collected();
    const again = new WeakRef(set.runs());
    expect([...again.deref()!]).toEqual(decoded);
    expect(set.runs()).toBe(again.deref());
    expect(set.has(1024 * 5 + 3)).toBe(true);
    expect(set.has(1024 * 5 + 16)).toBe(false);
    expect(set.gzippedBitset()).toBe(gzipped);
    await collected();
    expect(again.deref()).toBeUndefined();
    expect([...set.runs()]).toEqual(decoded);
  });

  it('keeps the runs of a set that has no runs text to decode them from', async () => {
    const set = BucketSet.fromIndices(blocks(3));
    const runs = set.runs();
    set.compact();
    await collected();
    expect(set.runs()).toBe(runs);
  });
});

describe('BucketSet.reuseEncodings', () => {
  it("takes the gzipped bitset of a set read from the same text, and only once that set has made it", () => {
    const written = BucketSet.fromIndices(blocks(40));
    const before = BucketSet.fromRunsText(written.runsText(), written.count);
    const again = BucketSet.fromRunsText(written.runsText(), written.count);
    expect(again.reuseEncodings(before)).toBe(false); // nothing to take yet
    const gzipped = before.gzippedBitset();
    expect(again.reuseEncodings(before)).toBe(true);
    expect(again.gzippedBitset()).toBe(gzipped);
    // What it took is what it would have made.
    expect(BucketSet.fromRunsText(written.runsText(), written.count).gzippedBitset()).toBe(gzipped);
  });

  it('takes nothing from a set of other buckets, or stored in the other encoding', () => {
    const a = BucketSet.fromRunsText(BucketSet.fromIndices(blocks(40)).runsText(), 40 * 16);
    a.gzippedBitset();
    const other = BucketSet.fromRunsText(BucketSet.fromIndices(blocks(41)).runsText(), 41 * 16);
    expect(other.reuseEncodings(a)).toBe(false);
    expect(other.gzippedBitset()).not.toBe(a.gzippedBitset());
    const legacy = BucketSet.fromGzippedBitset(a.gzippedBitset(), 40 * 16);
    expect(legacy.reuseEncodings(a)).toBe(false);
    expect(legacy.gzippedBitset()).toBe(a.gzippedBitset()); // the same buckets, deflated again
  });
});
