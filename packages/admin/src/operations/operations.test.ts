import { describe, expect, it } from 'vitest';

import { WORDS } from '../allocation/bucket-set.js';
import { AdminError } from '../errors.js';
import { newWorkspace } from '../workspace/create.js';
import type { Segment, Workspace } from '../workspace/model.js';
import { checkWorkspace } from '../workspace/check.js';
import { addRule, createFlag, moveRule, setRuleEnabled, updateRule } from './flags.js';
import { addGroupMember, archiveGroup, createGroup, removeGroupMember, unarchiveGroup } from './groups.js';
import { allocateSegment, availableSpace, createSegment, updateSegment } from './segments.js';

function shared(a: Segment, b: Segment): number {
  const x = a.buckets!.words();
  const y = b.buckets!.words();
  let n = 0;
  for (let i = 0; i < WORDS; i++) for (let w = x[i]! & y[i]!; w !== 0; w &= w - 1) n++;
  return n;
}

function seg(ws: Workspace, id: string): Segment {
  return ws.segments.find((s) => s.id === id)!;
}

function threeAllocated(): Workspace {
  let ws = newWorkspace({ account: 'a', seed: 'ops', clientSecret: 's' });
  for (const id of ['a', 'b', 'c']) {
    ws = createSegment(ws, { id, proportion: 0.3 }).workspace;
    ws = allocateSegment(ws, id).workspace;
  }
  return ws;
}

describe('exclusion groups', () => {
  it('make members disjoint, keep buckets when archived, and separate them again when unarchived', () => {
    let ws = threeAllocated();
    expect(shared(seg(ws, 'a'), seg(ws, 'b'))).toBeGreaterThan(50_000); // independent: ~9% overlap
    ws = createGroup(ws, { id: 'g', members: ['a', 'b', 'c'] }).workspace;
    expect(shared(seg(ws, 'a'), seg(ws, 'b')) + shared(seg(ws, 'b'), seg(ws, 'c')) + shared(seg(ws, 'a'), seg(ws, 'c'))).toBe(0);
    expect(seg(ws, 'a').exclusivityTags).toEqual(['group:g']);
    expect(availableSpace(ws, { exclusivityTags: ['group:g'], exclusiveTo: ['group:g'] }).freeBuckets).toBe(100_000);

    const archived = archiveGroup(ws, 'g').workspace;
    expect(seg(archived, 'a').exclusivityTags).toEqual([]);
    expect(seg(archived, 'a').buckets).toBe(seg(ws, 'a').buckets); // untouched
    const unarchived = unarchiveGroup(archived, 'g');
    expect(Object.values(unarchived.result.reallocations).every((r) => r.removed === 0)).toBe(true); // still disjoint
    expect(checkWorkspace(unarchived.workspace)).toEqual([]);

    const removed = removeGroupMember(ws, 'g', 'c').workspace;
    expect(seg(removed, 'c').exclusiveTo).toEqual([]);
    expect(checkWorkspace(removed)).toEqual([]);
  });

  it('refuses a member that does not fit, changing nothing', () => {
    let ws = threeAllocated();
    ws = createSegment(ws, { id: 'd', proportion: 0.2 }).workspace;
    ws = allocateSegment(ws, 'd').workspace;
    ws = createGroup(ws, { id: 'g', members: ['a', 'b', 'c'] }).workspace;
    let error: unknown;
    try {
      addGroupMember(ws, 'g', 'd');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AdminError);
    expect((error as AdminError).space).toEqual({ segment: 'd', conflicting: ['a', 'b', 'c'], needed: 200_000, free: 100_000 });
    // With a smaller share it fits.
    const out = addGroupMember(ws, 'g', 'd', { proportion: 0.1 });
    expect(seg(out.workspace, 'd').buckets!.count).toBe(100_000);
    expect(checkWorkspace(out.workspace)).toEqual([]);
  });
});

describe('rules', () => {
  it('updateRule changes only the given fields; moveRule warns when rules are live', () => {
    let ws = threeAllocated();
    ws = createFlag(ws, { id: 'f', variants: [{ name: 'on', value: true }, { name: 'off', value: false }] }).workspace;
    ws = addRule(ws, 'f', { kind: 'rollout', segment: 'a', reach: 0.1, variant: 'on', randomizationField: 'user_id', enabled: true }).workspace;
    ws = addRule(ws, 'f', { kind: 'conditional', targeting: 'country == SE', split: [{ variant: 'off', weight: 1 }] }).workspace;
    const updated = updateRule(ws, 'f', 'rule-1', { reach: 0.5, sticky: { enabled: true } }).result;
    expect(updated).toMatchObject({ kind: 'rollout', reach: 0.5, variant: 'on', randomizationField: 'user_id', state: 'ENABLED', audience: { kind: 'segment', segment: 'a' } });
    expect(updated.sticky).toEqual({ enabled: true, pausedIntake: false, ignoreTargetingForAssigned: false });
    const retargeted = updateRule(ws, 'f', 'rule-2', { segment: 'b' }).result;
    expect(retargeted).toMatchObject({ audience: { kind: 'segment', segment: 'b' }, percentage: 1 });
    expect(() => updateRule(ws, 'f', 'rule-1', { reach: 2 })).toThrow(/flags\.f\.rules\.rule-1\.reach: must be in \(0, 1\], got 2/);
    const moved = moveRule(ws, 'f', 'rule-2', 0);
    expect(moved.workspace.flags[0]!.rules.map((r) => r.id)).toEqual(['rule-2', 'rule-1']);
    expect(moved.warnings[0]).toMatch(/changes which rule decides/);
    expect(() => setRuleEnabled(ws, 'f', 'nope', true)).toThrow(/flags\.f\.rules\.nope: flag f has no rule "nope"/);
  });
});

describe('proportions hold at least one bucket', () => {
  const refused = (run: () => unknown): AdminError => {
    try {
      run();
    } catch (e) {
      if (e instanceof AdminError) return e;
      throw e;
    }
    throw new Error('accepted');
  };

  it.each([1e-7, 0.0000009, 0, -0.1, 1.5, Number.NaN])('%s is refused by create, update and addGroupMember', (p) => {
    const ws = threeAllocated();
    for (const run of [
      () => createSegment(ws, { id: 'tiny', proportion: p }),
      () => updateSegment(ws, 'a', { proportion: p }, ['allocation.proportion']),
      () => addGroupMember(createGroup(ws, { id: 'g', members: ['a'] }).workspace, 'g', 'b', { proportion: p }),
    ]) {
      const e = refused(run);
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.path).toMatch(/^segments\.(tiny|a|b)\.allocation\.proportion$/);
    }
  });

  it('1e-7 names the smallest proportion, one bucket', () => {
    expect(refused(() => createSegment(threeAllocated(), { id: 'tiny', proportion: 1e-7 })).message).toBe(
      'segments.tiny.allocation.proportion: must be at least 0.000001 (one bucket of 1,000,000), got 1e-7, which would hold no bucket at all',
    );
  });

  it('0.000001 allocates exactly one bucket', () => {
    const ws = allocateSegment(createSegment(threeAllocated(), { id: 'one', proportion: 0.000001 }).workspace, 'one');
    expect(ws.result.buckets).toBe(1);
  });
});
