/**
 * The allocator's invariants over random sequences of create / update / allocate / archive
 * / raise / lower / retag (issue 3, "Done when"):
 * - no bucket is held by two conflicting allocated segments;
 * - each allocated segment holds exactly round(proportion × 1,000,000) buckets;
 * - a failed operation leaves the workspace byte-for-byte unchanged;
 * - raising is a superset;
 * - what `availableSpace` reports is what `allocate` then accepts.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect } from 'vitest';

import { bucketsFor, conflictsWith } from '../allocation/allocator.js';
import { WORDS } from '../allocation/bucket-set.js';
import { AdminError } from '../errors.js';
import { checkWorkspace } from '../workspace/check.js';
import { newWorkspace } from '../workspace/create.js';
import type { Segment, Workspace } from '../workspace/model.js';
import { serializeWorkspace } from '../workspace/serialize.js';
import { allocateSegment, archiveSegment, availableSpace, createSegment, updateSegment } from './segments.js';

const IDS = ['s-a', 's-b', 's-c', 's-d', 's-e'] as const;
const TAGS = ['x', 'y', 'z'] as const;

const id = fc.constantFrom(...IDS);
const tags = fc.subarray([...TAGS]);
const proportion = fc.constantFrom(0.05, 0.1, 0.2, 0.25, 0.3, 0.45, 0.6, 0.8, 0.123457);

type Op =
  | { op: 'create'; id: string; proportion: number; tags: string[]; exclusiveTo: string[] }
  | { op: 'allocate'; id: string }
  | { op: 'archive'; id: string }
  | { op: 'proportion'; id: string; proportion: number }
  | { op: 'retag'; id: string; tags: string[]; exclusiveTo: string[] };

const operation: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), id, proportion, tags, exclusiveTo: tags }),
  { arbitrary: fc.record({ op: fc.constant('allocate' as const), id }), weight: 3 },
  fc.record({ op: fc.constant('archive' as const), id }),
  // Raising, lowering and retagging allocated segments are what most needs exercising: with
  // every operation but allocate at weight 1, a run of 50 sequences once lowered only 5 times.
  { arbitrary: fc.record({ op: fc.constant('proportion' as const), id, proportion }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('retag' as const), id, tags, exclusiveTo: tags }), weight: 2 },
);

function words(s: Segment): Uint32Array {
  return s.buckets!.words();
}

function assertInvariants(ws: Workspace): void {
  const allocated = ws.segments.filter((s) => s.state === 'ALLOCATED');
  for (const s of allocated) expect(s.buckets!.count).toBe(bucketsFor(s.proportion));
  for (let i = 0; i < allocated.length; i++) {
    for (let j = i + 1; j < allocated.length; j++) {
      const a = allocated[i]!;
      const b = allocated[j]!;
      if (!conflictsWith(a, b)) continue;
      const x = words(a);
      const y = words(b);
      let shared = 0;
      for (let k = 0; k < WORDS; k++) if ((x[k]! & y[k]!) !== 0) shared++;
      expect(shared, `${a.id} and ${b.id} conflict but share buckets`).toBe(0);
    }
  }
  for (const s of ws.segments) {
    if (s.state !== 'ALLOCATED') expect(s.buckets).toBeNull();
  }
}

function isSuperset(big: Uint32Array, small: Uint32Array): boolean {
  for (let k = 0; k < WORDS; k++) if ((small[k]! & ~big[k]!) !== 0) return false;
  return true;
}

/** What the sequences exercised, so a degenerate generator fails the suite instead of passing it. */
const seen = { allocated: 0, raised: 0, lowered: 0, retagged: 0 };

afterAll(() => {
  expect(seen.allocated).toBeGreaterThan(50);
  expect(seen.raised).toBeGreaterThan(5);
  expect(seen.lowered).toBeGreaterThan(5);
  expect(seen.retagged).toBeGreaterThan(5);
});

function step(ws: Workspace, o: Op): Workspace {
  switch (o.op) {
    case 'create':
      return createSegment(ws, o).workspace;
    case 'allocate': {
      const s = ws.segments.find((x) => x.id === o.id);
      const space = s === undefined ? undefined : availableSpace(ws, s, s.id);
      try {
        const out = allocateSegment(ws, o.id).workspace;
        // space agrees with allocate: it fitted
        expect(space!.freeBuckets).toBeGreaterThanOrEqual(bucketsFor(s!.proportion));
        seen.allocated++;
        return out;
      } catch (error) {
        if (error instanceof AdminError && error.code === 'INSUFFICIENT_SPACE') {
          expect(space!.freeBuckets).toBeLessThan(bucketsFor(s!.proportion));
          expect(error.space!.free).toBe(space!.freeBuckets);
          expect(error.space!.needed).toBe(bucketsFor(s!.proportion));
          expect(error.space!.conflicting).toEqual(space!.conflicting);
        }
        throw error;
      }
    }
    case 'archive':
      return archiveSegment(ws, o.id).workspace;
    case 'proportion': {
      const before = ws.segments.find((x) => x.id === o.id);
      const out = updateSegment(ws, o.id, { proportion: o.proportion }, ['allocation.proportion']).workspace;
      const after = out.segments.find((x) => x.id === o.id)!;
      if (before?.state === 'ALLOCATED' && o.proportion >= before.proportion) {
        expect(isSuperset(words(after), words(before)), 'raising keeps every bucket').toBe(true);
        seen.raised++;
      }
      if (before?.state === 'ALLOCATED' && o.proportion < before.proportion) {
        expect(isSuperset(words(before), words(after)), 'lowering only drops buckets').toBe(true);
        seen.lowered++;
      }
      return out;
    }
    case 'retag': {
      const out = updateSegment(ws, o.id, { exclusivityTags: o.tags, exclusiveTo: o.exclusiveTo }, ['allocation.exclusivityTags', 'allocation.exclusiveTo']);
      if (out.result.reallocation !== null) seen.retagged++;
      return out.workspace;
    }
  }
}

describe('allocator properties', () => {
  // Every sequence starts by creating the five segments (so later operations find them).
  const creations = fc.tuple(...IDS.map((i) => fc.record({ op: fc.constant('create' as const), id: fc.constant(i), proportion, tags, exclusiveTo: tags })));

  test.prop([creations, fc.array(operation, { minLength: 5, maxLength: 30 }), fc.string({ minLength: 1, maxLength: 8 })], { numRuns: 50 })(
    'invariants hold after every operation; failures change nothing',
    (created, ops, seed) => {
      let ws = newWorkspace({ account: 'prop', seed });
      for (const o of [...created, ...ops]) {
        const before = serializeWorkspace(ws);
        try {
          ws = step(ws, o);
        } catch (error) {
          if (!(error instanceof AdminError)) throw error;
          expect(serializeWorkspace(ws)).toBe(before);
        }
        assertInvariants(ws);
      }
      // The parser's own consistency check agrees (it decodes every bitset: once per sequence).
      expect(checkWorkspace(ws)).toEqual([]);
    },
    // ≈ 8 s on an idle 2-core machine, ≈ 37 s when it is shared with other work.
    120_000,
  );

  test.prop([fc.constantFrom(0.05, 0.2, 0.5), fc.subarray([...TAGS], { minLength: 1 })], { numRuns: 10 })(
    'the same workspace and operations choose the same buckets (seeded)',
    (p, t) => {
      const build = (): string => {
        let ws = newWorkspace({ account: 'a', seed: 'fixed', clientSecret: 'secret' });
        ws = createSegment(ws, { id: 'one', proportion: p, exclusivityTags: t, exclusiveTo: t }).workspace;
        ws = allocateSegment(ws, 'one').workspace;
        ws = createSegment(ws, { id: 'two', proportion: 0.3, exclusivityTags: t, exclusiveTo: t }).workspace;
        ws = allocateSegment(ws, 'two').workspace;
        return serializeWorkspace(ws);
      };
      expect(build()).toBe(build());
    },
  );
});
