/**
 * The impact preview against the simulation on generated changes: random workspaces built
 * with admin's operations (@allot/simulation's `arbWorkspaceOps`: segments with random tags,
 * A/B-test rules, raises, retags, exclusion groups, reweighs, reorders, sticky rules), then
 * a random tail of those operations plus lowering with force, retargeting and archiving as
 * the change. Every predicted share must lie in the Wilson interval of what core does for a
 * synthetic population; the intervals are Bonferroni-corrected so that the whole run has a
 * 99.9% chance of passing when the preview is right, and the seed is fixed so CI is stable.
 */
import { estimateImpact, previewImpact, type Workspace } from '@allot/admin';
import { applyWorkspaceOps, emptyWorkspace, type PopulationSpec, type WorkspaceOp } from '@allot/simulation';
import { arbWorkspaceOps } from '@allot/simulation/testing';
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';

import { audienceProfile } from './audience-profile.js';
import { compareWithObserved, observeChange, zFor } from './testing-simulate.js';

const UNITS = 20_000;
const RUNS = 12;

const population: PopulationSpec = {
  units: UNITS,
  seed: 13,
  id: { shape: 'uuid', field: 'targeting_key', prefix: '' },
  attributes: [
    { name: 'country', distribution: { kind: 'categorical', values: ['SE', 'US', 'GB', 'BR'], weights: [20, 45, 20, 15] }, missing: 0.05 },
  ],
};

const TARGETINGS = ['', 'country == "SE"', 'country in ["SE", "GB"]', 'not country == "US"', 'country is null'];

/** Changes beyond what arbWorkspaceOps makes: lower with force, retarget, archive (rules disabled first). */
const extraChange = fc.tuple(fc.nat(3), fc.nat(), fc.integer({ min: 1, max: 100 }), fc.constantFrom(...TARGETINGS)).map(([kind, a, amount, targeting]): ((ws: Workspace) => WorkspaceOp[]) => (ws) => {
  const live = ws.segments.filter((s) => s.state !== 'ARCHIVED');
  if (live.length === 0) return [];
  const s = live[a % live.length]!;
  switch (kind) {
    case 0:
      return [{ op: 'updateSegment', segment: s.id, proportion: amount / 1000, force: true }];
    case 1:
      return [{ op: 'updateSegment', segment: s.id, targeting }];
    case 2:
      return [
        ...ws.flags.flatMap((f) =>
          f.rules.filter((r) => r.kind !== 'individual' && r.audience.kind === 'segment' && r.audience.segment === s.id && r.state === 'ENABLED').map((r): WorkspaceOp => ({ op: 'setRuleEnabled', flag: f.id, rule: r.id, enabled: false })),
        ),
        { op: 'archiveSegment', segment: s.id },
      ];
    default:
      return [];
  }
});

describe('allot diff against the simulation, generated changes', () => {
  test.prop([fc.integer({ min: 0, max: 1000 }), arbWorkspaceOps({ maxChanges: 6 }), fc.nat(), fc.array(extraChange, { minLength: 1, maxLength: 2 })], { numRuns: RUNS, seed: 2026 })(
    'every predicted share lies in its interval',
    (seed, ops, cutAt, extras) => {
      const setup = ops.filter((o) => o.op === 'createSegment' || o.op === 'allocateSegment' || o.op === 'createFlag' || o.op === 'addRule');
      const changes = ops.slice(setup.length);
      const cut = changes.length === 0 ? 0 : cutAt % (changes.length + 1);
      // Every rule enabled (where its segment got allocated), so that changes reach units.
      const enable = setup.flatMap((o): WorkspaceOp[] => (o.op === 'addRule' ? [{ op: 'setRuleEnabled', flag: o.flag, rule: o.rule.id!, enabled: true }] : []));
      const before = applyWorkspaceOps(emptyWorkspace(`prop-${seed}`), [...setup, ...enable, ...changes.slice(0, cut)]).workspace;
      let after = applyWorkspaceOps(before, changes.slice(cut)).workspace;
      for (const extra of extras) after = applyWorkspaceOps(after, extra(after)).workspace;
      const exact = previewImpact(before, after);
      // Only changes that move someone count as runs.
      fc.pre(exact.flags.some((f) => f.changed) || exact.segments.some((s) => s.changed));
      const preview = estimateImpact(exact, audienceProfile(exact.conditions, population, UNITS, 'generated'));
      const observed = observeChange(preview, before, after, population, UNITS);
      // 99.9% for the whole run: Bonferroni over runs and over the shares of this run.
      const checks = preview.flags.reduce((n, f) => n + f.outcomes.length ** 2, 0) + 2 * preview.segments.length;
      const result = compareWithObserved(preview, observed, zFor(0.001 / (RUNS * checks)));
      expect(result.outside).toEqual([]);
    },
  );
});
