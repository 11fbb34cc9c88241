/**
 * Block placement: exact in count, disjoint from conflicting segments, deterministic per
 * seed, in whole aligned blocks of 16 but for the remainder; raising keeps every bucket;
 * a legacy scattered set keeps every bucket and grows by blocks.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { allocateSegment, createSegment, updateSegment } from '../operations/segments.js';
import { newWorkspace } from '../workspace/create.js';
import type { Segment, Workspace } from '../workspace/model.js';
import { BLOCK } from './allocator.js';
import { BucketSet } from './bucket-set.js';
import { seededRandom } from './random.js';

function segment(ws: Workspace, id: string): Segment {
  return ws.segments.find((s) => s.id === id)!;
}

/** Buckets of `set` that lie outside whole aligned blocks it holds. */
function outsideBlocks(set: BucketSet): number {
  const w = set.words();
  let whole = 0;
  for (let i = 0; i < w.length; i++) {
    if ((w[i]! & 0xffff) === 0xffff) whole++;
    if (w[i]! >>> 16 === 0xffff) whole++;
  }
  return set.count - whole * BLOCK;
}

function shared(a: BucketSet, b: BucketSet): number {
  let n = 0;
  const x = a.words();
  const y = b.words();
  for (let i = 0; i < x.length; i++) for (let v = x[i]! & y[i]!; v !== 0; v &= v - 1) n++;
  return n;
}

function family(seed: string, proportions: readonly number[], tag: string | null): Workspace {
  let ws = newWorkspace({ account: 'a', seed });
  proportions.forEach((p, i) => {
    const tags = tag === null ? [] : [tag];
    ws = createSegment(ws, { id: `s-${i}`, proportion: p, exclusivityTags: tags, exclusiveTo: tags }).workspace;
    ws = allocateSegment(ws, `s-${i}`).workspace;
  });
  return ws;
}

describe('block placement', () => {
  test.prop([fc.array(fc.integer({ min: 1, max: 60_000 }), { minLength: 1, maxLength: 12 }), fc.string({ maxLength: 6 })], { numRuns: 25 })(
    'is exact in count, disjoint from conflicting segments, whole blocks but for the remainder',
    (counts, seed) => {
      const ws = family(seed, counts.map((c) => c / 1_000_000), 'fam');
      const sets = ws.segments.map((s) => s.buckets!);
      sets.forEach((set, i) => {
        expect(set.count).toBe(counts[i]);
        expect(outsideBlocks(set)).toBe(counts[i]! % BLOCK);
        for (let j = 0; j < i; j++) expect(shared(set, sets[j]!)).toBe(0);
      });
    },
    60_000,
  );

  it('fills the space to the last bucket, taking single buckets when whole blocks run out', () => {
    // 100 one-bucket segments that do not conflict with each other each open a random block;
    // a segment that conflicts with all of them then finds too few whole blocks free.
    let ws = newWorkspace({ account: 'a', seed: 'full' });
    for (let i = 0; i < 100; i++) {
      ws = createSegment(ws, { id: `one-${i}`, proportion: 0.000001, exclusivityTags: ['x'], exclusiveTo: [] }).workspace;
      ws = allocateSegment(ws, `one-${i}`).workspace;
    }
    ws = createSegment(ws, { id: 'big', proportion: 0.9999, exclusivityTags: [], exclusiveTo: ['x'] }).workspace;
    ws = allocateSegment(ws, 'big').workspace;
    const big = segment(ws, 'big').buckets!;
    expect(big.count).toBe(999_900);
    expect(outsideBlocks(big)).toBeGreaterThan(BLOCK);
    const union = new Uint32Array(31_250);
    for (const s of ws.segments) s.buckets!.words().forEach((w, i) => (union[i]! |= w));
    expect(BucketSet.fromWords(union).count).toBe(1_000_000);
  });

  it('is deterministic per seed, and differs between seeds', () => {
    const text = (seed: string): string => family(seed, [0.003, 0.005, 0.0031], 'fam').segments.map((s) => s.buckets!.runsText()).join('|');
    expect(text('one')).toBe(text('one'));
    expect(text('one')).not.toBe(text('two'));
  });

  it('raising keeps every bucket and adds blocks; lowering keeps whole blocks', () => {
    let ws = family('raise', [0.003, 0.004], 'fam');
    const before = segment(ws, 's-0').buckets!;
    ws = updateSegment(ws, 's-0', { proportion: 0.0062 }, ['allocation.proportion']).workspace;
    const raised = segment(ws, 's-0').buckets!;
    expect(raised.count).toBe(6200);
    expect(shared(raised, before)).toBe(3000);
    expect(shared(raised, segment(ws, 's-1').buckets!)).toBe(0);
    expect(outsideBlocks(raised)).toBeLessThanOrEqual(2 * BLOCK);
    ws = updateSegment(ws, 's-0', { proportion: 0.0016 }, ['allocation.proportion'], { force: true }).workspace;
    const lowered = segment(ws, 's-0').buckets!;
    expect(lowered.count).toBe(1600);
    expect(shared(lowered, raised)).toBe(1600);
    expect(outsideBlocks(lowered)).toBe(0);
  });

  it('a legacy scattered segment keeps every bucket and grows by blocks', () => {
    const random = seededRandom('legacy');
    const scattered = new Set<number>();
    while (scattered.size < 5000) scattered.add(random.below(1_000_000));
    let ws = family('legacy', [0.004], 'fam');
    ws = createSegment(ws, { id: 'old', proportion: 0.005, exclusivityTags: ['fam'], exclusiveTo: ['fam'] }).workspace;
    // As a workspace written by the uniform allocator would hold it (minus any clash with s-0).
    const clean = [...scattered].filter((b) => !segment(ws, 's-0').buckets!.has(b));
    const legacy = BucketSet.fromIndices(clean);
    ws = { ...ws, segments: ws.segments.map((s) => (s.id === 'old' ? { ...s, state: 'ALLOCATED' as const, proportion: clean.length / 1e6, buckets: legacy } : s)) };
    ws = updateSegment(ws, 'old', { proportion: 0.02 }, ['allocation.proportion']).workspace;
    const grown = segment(ws, 'old').buckets!;
    expect(grown.count).toBe(20_000);
    expect(shared(grown, legacy)).toBe(legacy.count);
    expect(shared(grown, segment(ws, 's-0').buckets!)).toBe(0);
    // The new buckets are whole blocks but for the remainder.
    const added = 20_000 - legacy.count;
    expect(Math.floor(added / BLOCK)).toBeLessThanOrEqual(Math.floor((grown.count - outsideBlocks(grown)) / BLOCK));
  });
});
