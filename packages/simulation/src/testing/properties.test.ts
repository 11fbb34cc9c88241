import { fc, test } from '@fast-check/vitest';
import { compileState } from '@allot/admin';
import { loadState, resolveFlag } from '@allot/core';
import { describe, expect, it } from 'vitest';

import { ReferenceModel, referenceResolve, OUTCOME_MATCH, type ReferenceOutcome } from '../reference/reference.js';
import {
  applyWorkspaceOps,
  arbContext,
  arbState,
  arbWorkspaceOps,
  assertMutualExclusion,
  assertProportions,
  assertRulePrecedence,
  claimsOfWorkspace,
  emptyWorkspace,
  SIMULATION_SECRET,
  type WorkspaceOp,
} from './index.js';

describe('fast-check arbitraries and property helpers', () => {
  test.prop([arbState()], { numRuns: 6 })('admin keeps its coordination claims over random operation sequences, and core resolves like the reference', async ({ state, claims }) => {
    await assertMutualExclusion(state, claims, { units: 5_000 });
    await assertRulePrecedence(state, { units: 5_000 });
  });

  test.prop([arbWorkspaceOps({ maxChanges: 10 })], { numRuns: 8 })('every generated sequence applies, refusals aside, and raised segments keep their buckets', (ops) => {
    const { workspace, applied, refused } = applyWorkspaceOps(emptyWorkspace(), ops);
    expect(applied.length + refused.length).toBe(ops.length);
    expect(applied.filter((o) => o.op === 'allocateSegment').length).toBeGreaterThan(0);
    for (const s of workspace.segments) if (s.state === 'ALLOCATED') expect(s.buckets!.count).toBe(Math.round(s.proportion * 1_000_000));
  });

  test.prop([arbState(), fc.array(arbContext(), { minLength: 1, maxLength: 30 })], { numRuns: 5 })('core and the reference agree on arbitrary contexts', ({ state }, contexts) => {
    const core = loadState(state);
    const client = core.client(SIMULATION_SECRET)!;
    const model = new ReferenceModel(state);
    const out: ReferenceOutcome = { outcome: 0, rule: -1, assignment: -1, variant: '', sticky: false, fallthroughs: 0 };
    const none = { get: () => null };
    for (const flag of model.flagsFor(SIMULATION_SECRET)) {
      const trace = new Int32Array(flag.rules.length + 1);
      for (const context of contexts) {
        referenceResolve(model, flag, ['production'], context, none, out, trace, null);
        const r = resolveFlag(core, client, core.flag(flag.name)!, context);
        expect(r.variant).toBe(out.outcome === OUTCOME_MATCH ? out.variant : '');
      }
    }
  });

  const twoSegments: WorkspaceOp[] = [
    { op: 'createSegment', segment: 'a', proportion: 0.3 },
    { op: 'createSegment', segment: 'b', proportion: 0.3 },
    { op: 'allocateSegment', segment: 'a' },
    { op: 'allocateSegment', segment: 'b' },
  ];

  it('assertMutualExclusion throws when conflicting segments share buckets', async () => {
    const { workspace } = applyWorkspaceOps(emptyWorkspace(), twoSegments);
    const coordination = { 'segments/a': { exclusivityTags: ['x'], exclusiveTo: ['x'] }, 'segments/b': { exclusivityTags: ['x'], exclusiveTo: ['x'] } };
    // Allocated without coordination, then claimed exclusive: the claim is false.
    await expect(assertMutualExclusion(compileState(workspace), { coordination })).rejects.toThrow(/segments\/a × segments\/b: [1-9]/);
  });

  it('assertProportions throws when a split differs from the configured one', async () => {
    const { workspace, refused } = applyWorkspaceOps(emptyWorkspace(), [
      ...twoSegments,
      { op: 'createFlag', flag: 'f', variants: ['on', 'off'] },
      { op: 'addRule', flag: 'f', rule: { kind: 'ab-test', id: 'r', segment: 'a', weights: { on: 3, off: 7 }, enabled: true } },
    ]);
    expect(refused).toEqual([]);
    await expect(assertProportions(compileState(workspace), claimsOfWorkspace(workspace))).resolves.toBeUndefined();
    await expect(assertProportions(compileState(workspace), { splits: { 'flags/f': { 'flags/f/rules/r': { on: 0.5, off: 0.5 } } } })).rejects.toThrow(/configured at 50%/);
  });
});
