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
