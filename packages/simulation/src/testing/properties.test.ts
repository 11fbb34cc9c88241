import { fc, test } from '@fast-check/vitest';
import { loadState, resolveFlag } from '@allot/core';
import { describe, expect, it } from 'vitest';

import { ReferenceModel, referenceResolve, OUTCOME_MATCH, type ReferenceOutcome } from '../reference/reference.js';
import { arbContext, arbState, assertMutualExclusion, assertProportions, assertRulePrecedence, SKETCH_SECRET, stateFromSketch } from './index.js';

describe('fast-check arbitraries and property helpers', () => {
  test.prop([arbState()], { numRuns: 6 })('generated states keep their coordination claims and resolve like the reference', async ({ state, claims }) => {
    await assertMutualExclusion(state, claims, { units: 5_000 });
    await assertRulePrecedence(state, { units: 5_000 });
  });

  test.prop([arbState(), fc.array(arbContext(), { minLength: 1, maxLength: 30 })], { numRuns: 5 })('core and the reference agree on arbitrary contexts', ({ state }, contexts) => {
    const core = loadState(state);
    const client = core.client(SKETCH_SECRET)!;
    const model = new ReferenceModel(state);
    const out: ReferenceOutcome = { outcome: 0, rule: -1, assignment: -1, variant: '', sticky: false, fallthroughs: 0 };
    const none = { get: () => null };
    for (const flag of model.flagsFor(SKETCH_SECRET)) {
      const trace = new Int32Array(flag.rules.length + 1);
      for (const context of contexts) {
        referenceResolve(model, flag, ['production'], context, none, out, trace, null);
        const r = resolveFlag(core, client, core.flag(flag.name)!, context);
        expect(r.variant).toBe(out.outcome === OUTCOME_MATCH ? out.variant : '');
      }
    }
  });

  it('assertMutualExclusion throws when conflicting segments share buckets', async () => {
    const sketch = { segments: [{ name: 'segments/a', proportion: 0.3 }, { name: 'segments/b', proportion: 0.3 }], flags: [] };
    const coordination = { 'segments/a': { exclusivityTags: ['x'], exclusiveTo: ['x'] }, 'segments/b': { exclusivityTags: ['x'], exclusiveTo: ['x'] } };
    // Allocated without coordination, then claimed exclusive: the claim is false.
    await expect(assertMutualExclusion(stateFromSketch(sketch), { coordination })).rejects.toThrow(/segments\/a × segments\/b: [1-9]/);
  });

  it('assertProportions throws when a split differs from the configured one', async () => {
    const sketch = { segments: [{ name: 'segments/a', proportion: 1 }], flags: [{ name: 'flags/f', variants: ['on', 'off'], rules: [{ name: 'flags/f/rules/r', segment: 'segments/a', split: { on: 0.3, off: 0.7 } }] }] };
    await expect(assertProportions(stateFromSketch(sketch), { splits: { 'flags/f': { 'flags/f/rules/r': { on: 0.5, off: 0.5 } } } })).rejects.toThrow(/configured at 50%/);
  });
});
