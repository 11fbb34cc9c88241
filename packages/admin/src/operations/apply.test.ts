/**
 * The gate after a change checks exclusivity only for the segments that changed, when the
 * workspace the change started from is known to be consistent (parsed, or through the gate);
 * it still refuses every overlap a change makes, and checks a workspace of unknown origin
 * in full.
 */
import { describe, expect, it } from 'vitest';

import { BucketSet } from '../allocation/bucket-set.js';
import { AdminError } from '../errors.js';
import { newWorkspace } from '../workspace/create.js';
import type { Segment, Workspace } from '../workspace/model.js';
import { parseWorkspace } from '../workspace/parse.js';
import { serializeWorkspace } from '../workspace/serialize.js';
import { applyOperation } from './apply.js';

const range = (from: number, to: number): BucketSet => BucketSet.fromIndices(Array.from({ length: to - from }, (_, i) => from + i));

function segment(id: string, buckets: BucketSet, tags: readonly string[], to: readonly string[]): Segment {
  return { id, displayName: id, targeting: null, proportion: buckets.count / 1_000_000, exclusivityTags: tags, exclusiveTo: to, state: 'ALLOCATED', buckets };
}

/** a and b overlap on buckets 50–99; c is apart. None conflicts. */
function workspace(): Workspace {
  const segments = [segment('a', range(0, 100), [], []), segment('b', range(50, 150), [], []), segment('c', range(200, 300), ['t'], ['t'])];
  return { ...newWorkspace({ account: 'acct', seed: 'seed', clientSecret: 'x' }), segments };
}

const retag = (id: string, tags: readonly string[], to: readonly string[]) => (w: Workspace) => ({
  workspace: { ...w, segments: w.segments.map((s) => (s.id === id ? { ...s, exclusivityTags: tags, exclusiveTo: to } : s)) },
  result: null,
  warnings: [],
});

function refusal(before: Workspace, op: ReturnType<typeof retag>): AdminError {
  try {
    applyOperation(before, op);
  } catch (e) {
    if (e instanceof AdminError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('applyOperation: exclusivity of what changed', () => {
  const parsed = (): Workspace => parseWorkspace(serializeWorkspace(workspace(), 'json'));

  it('refuses a changed segment that now conflicts with an unchanged one it overlaps, whichever side is exclusive', () => {
    // a becomes exclusive to "t", and b (unchanged) is not tagged: fine; then b carries "t".
    const before = parsed();
    const tagged = applyOperation(before, retag('b', ['t'], [])).workspace;
    const e = refusal(tagged, retag('a', [], ['t']));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.issues).toEqual([{ path: 'segments.a.buckets', message: expect.stringContaining('shares buckets with b, which it conflicts with') as string }]);
    // The other way round: a exclusive to "u" first, then b (the changed one) takes tag "u".
    const exclusive = applyOperation(before, retag('a', [], ['u'])).workspace;
    expect(refusal(exclusive, retag('b', ['u'], [])).issues[0]?.path).toBe('segments.b.buckets');
  });

  it('accepts a change that makes no overlap, from a consistent workspace', () => {
    expect(applyOperation(parsed(), retag('c', ['t', 'v'], ['t'])).workspace.segments[2]?.exclusivityTags).toEqual(['t', 'v']);
  });

  it('checks a workspace of unknown origin in full: an overlap between segments the change did not touch is found', () => {
    const built = workspace();
    const conflicting = { ...built, segments: built.segments.map((s) => (s.id === 'b' ? { ...s, exclusivityTags: ['t'] } : s.id === 'a' ? { ...s, exclusiveTo: ['t'] } : s)) };
    const e = refusal(conflicting, retag('c', ['t', 'v'], ['t']));
    expect(e.issues.map((i) => i.path)).toContain('segments.a.buckets');
  });
});

describe('applyOperation: an id given twice', () => {
  const renamed = (from: string, to: string) => (w: Workspace) => ({
    workspace: { ...w, segments: w.segments.map((s) => (s.id === from ? { ...s, id: to } : s)) },
    result: null,
    warnings: [],
  });

  it('refuses two segments with one id, by both gates with the same problem (the document would keep only one)', () => {
    const before = parseWorkspace(serializeWorkspace(workspace(), 'json'));
    const expected = [{ path: 'segments.b', message: '2 segments have the id "b"; an id names one segment: rename or remove the others' }];
    for (const check of ['changes', 'whole'] as const) {
      let error: unknown;
      try {
        applyOperation(before, renamed('a', 'b'), { check });
      } catch (e) {
        error = e;
      }
      expect(error, check).toBeInstanceOf(AdminError);
      expect((error as AdminError).issues, check).toEqual(expected);
    }
  });
});
