/**
 * The allocation-independence check counts in the unit the allocator drew independently:
 * blocks of 16 when both segments are block-allocated, buckets when either is scattered.
 * Over many seeds of block-allocated workspaces it raises false alarms at its nominal rate
 * (where counting blocks' buckets one by one would alarm on most of them), and it still
 * catches a pair whose blocks were drawn together.
 */
import { allocateSegment, BucketSet, createSegment, newWorkspace, type Workspace } from '@allot/admin';
import { describe, expect, it } from 'vitest';

import { hypergeometricTest } from '../stats/hypergeometric.js';
import { blockAllocated, pairWithin } from './plan.js';

function bitsOf(ws: Workspace, id: string): Uint8Array {
  return ws.segments.find((s) => s.id === id)!.buckets!.bytes();
}

/** A family of 20 segments at 0.3% sharing tag `fam`, and two untagged 0.5% segments. */
function workspace(seed: string): Workspace {
  let ws = newWorkspace({ account: 'a', seed });
  for (let i = 0; i < 20; i++) {
    ws = createSegment(ws, { id: `fam-${i}`, proportion: 0.003, exclusivityTags: ['fam'], exclusiveTo: ['fam'] }).workspace;
    ws = allocateSegment(ws, `fam-${i}`).workspace;
  }
  for (const id of ['free-a', 'free-b']) {
    ws = createSegment(ws, { id, proportion: 0.005 }).workspace;
    ws = allocateSegment(ws, id).workspace;
  }
  return ws;
}

/** The check's p-value (Fisher's exact test, as `evaluate.ts` computes it). */
function pValue(c: { universe: number; inA: number; inB: number; shared: number }): number {
  return hypergeometricTest(c.universe, c.inA, c.inB, c.shared);
}

/** The same pair counted bucket by bucket, as the check did before blocks. */
function bucketLevel(a: Uint8Array, b: Uint8Array): number {
  const x = BucketSet.fromWords(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.length)));
  const y = BucketSet.fromWords(new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
  let shared = 0;
  const wx = x.words();
  const wy = y.words();
  for (let i = 0; i < wx.length; i++) for (let v = wx[i]! & wy[i]!; v !== 0; v &= v - 1) shared++;
  return pValue({ universe: 1_000_000, inA: x.count, inB: y.count, shared });
}

describe('allocation independence, counted by allocation unit', () => {
  const seeds = Array.from({ length: 150 }, (_, i) => `seed-${i}`);
  const results = seeds.map((seed) => {
    const ws = workspace(seed);
    const fam = Array.from({ length: 20 }, (_, i) => bitsOf(ws, `fam-${i}`));
    const a = bitsOf(ws, 'free-a');
    const b = bitsOf(ws, 'free-b');
    // Untagged × untagged: the whole space is open to both.
    const free = pairWithin(a, b, []);
    // A family member × an untagged segment: the other members' space is closed to the member.
    const member = pairWithin(fam[0]!, b, fam.slice(1));
    return { free, member, bucketP: bucketLevel(a, b), a, b };
  });

  it('classifies block-allocated and scattered sets', () => {
    expect(blockAllocated(results[0]!.a)).toBe(true);
    const scattered = new Uint8Array(125_000);
    for (let i = 0; i < 5000; i++) scattered[(i * 7919) % 125_000] = 1 << (i % 8);
    expect(blockAllocated(scattered)).toBe(false);
    expect(pairWithin(results[0]!.a, scattered, []).unit).toBe('bucket');
    expect(results[0]!.free.unit).toBe('block');
    expect(results[0]!.member.unit).toBe('block');
  });

  it('raises false alarms at its nominal rate over many seeds', () => {
    const p = results.flatMap((r) => [pValue(r.free), pValue(r.member)]);
    const alarms = p.filter((x) => x < 0.01).length;
    // 300 tests at α = 0.01: at most 3 expected (an exact test holds its level); more than 10
    // has probability < 0.0005.
    expect(alarms).toBeLessThanOrEqual(10);
    // Not degenerate either: p-values spread over (0, 1) (a fifth or so above 0.8).
    expect(p.filter((x) => x > 0.8).length).toBeGreaterThan(30);
  });

  it('counting the buckets of blocks one by one would alarm far above α (why the unit matters)', () => {
    const alarms = results.filter((r) => r.bucketP < 0.01).length;
    expect(alarms).toBeGreaterThan(results.length * 0.1);
  });

  it('catches a pair whose blocks were drawn together', () => {
    // B' shares 10 of A's 312 blocks on purpose (≈ 1.6 expected by chance), the rest as B's.
    const { a, b } = results[0]!;
    const correlated = b.slice();
    let moved = 0;
    for (let i = 0; i < a.length && moved < 10; i += 2) {
      if (a[i] === 0xff && a[i + 1] === 0xff && correlated[i] === 0) {
        correlated[i] = 0xff;
        correlated[i + 1] = 0xff;
        moved++;
      }
    }
    // Keep B's size: give up 10 of its own blocks that A does not hold.
    let dropped = 0;
    for (let i = a.length - 2; i >= 0 && dropped < 10; i -= 2) {
      if (b[i] === 0xff && b[i + 1] === 0xff && a[i] === 0 && a[i + 1] === 0) {
        correlated[i] = 0;
        correlated[i + 1] = 0;
        dropped++;
      }
    }
    const counts = pairWithin(a, correlated, []);
    expect(counts.unit).toBe('block');
    expect(pValue(counts)).toBeLessThan(1e-4);
  });
});
