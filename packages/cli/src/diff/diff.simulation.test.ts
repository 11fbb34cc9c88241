/**
 * The impact preview against the simulation: for changes to the included scenarios (raise,
 * lower with force, retag, retarget, archive, reorder rules, change weights), both
 * workspaces are resolved by @allot/core for a synthetic population and every predicted
 * share must lie in its Wilson interval of the observed count (99.9% for each change as a
 * whole, Bonferroni over its shares). Predictions that depend
 * on the audience are estimated from the same population's matches, so what is tested is
 * the exact bucket and variant-hash arithmetic.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { estimateImpact, previewImpact, type Workspace } from '@allot/admin';
import { applyWorkspaceOp, readScenario, workspaceSteps, type PopulationSpec, type WorkspaceOp } from '@allot/simulation';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { audienceProfile } from './audience-profile.js';
import { compareWithObserved, observeChange, zFor } from './testing-simulate.js';

const DIR = fileURLToPath(new URL('../../../../simulations/', import.meta.url));
const UNITS = 100_000;

interface Scenario {
  readonly workspaces: readonly Workspace[];
  readonly population: PopulationSpec;
}

function scenario(name: string): Scenario {
  const file = `${DIR}${name}.yaml`;
  const doc = parse(readFileSync(file, 'utf8')) as { workspace: unknown; operations: unknown; timeline?: Record<string, unknown>[] };
  return { workspaces: workspaceSteps(doc.workspace, doc.operations, doc.timeline ?? []).workspaces, population: readScenario(file).population };
}

function applied(ws: Workspace, ops: readonly WorkspaceOp[]): Workspace {
  return ops.reduce(applyWorkspaceOp, ws);
}

/** Predicts, simulates and compares; returns the preview for further checks. */
function expectPredicted(before: Workspace, after: Workspace, population: PopulationSpec): ReturnType<typeof previewImpact> {
  const exact = previewImpact(before, after);
  const preview = estimateImpact(exact, audienceProfile(exact.conditions, population, UNITS, 'test'));
  // 99.9% for each change as a whole: Bonferroni over its shares (a fixed population would
  // otherwise fail now and then on one of its ~50 shares by chance alone).
  const checks = preview.flags.reduce((n, f) => n + f.outcomes.length ** 2, 0) + 2 * preview.segments.length;
  const result = compareWithObserved(preview, observeChange(preview, before, after, population, UNITS), zFor(0.001 / checks));
  expect(result.outside).toEqual([]);
  expect(result.checked).toBeGreaterThan(0);
  return preview;
}

describe('allot diff against the simulation (100k units, 99.9% per change)', () => {
  it('rollout-ramp: each raise, with a targeted override rule added and moved first', () => {
    const { workspaces, population } = scenario('rollout-ramp');
    for (let i = 0; i + 1 < workspaces.length; i++) {
      const p = expectPredicted(workspaces[i]!, workspaces[i + 1]!, population);
      expect(p.flags[0]!.changed).toBe(true);
    }
  });

  const ranking = scenario('ranking');
  const base = ranking.workspaces[0]!;
  const changes: Record<string, WorkspaceOp[]> = {
    'lower with force': [{ op: 'updateSegment', segment: 'ranking-exp-1', proportion: 0.04, force: true }],
    'retarget a live segment': [{ op: 'updateSegment', segment: 'ranking-exp-2', targeting: 'country in ["SE", "GB"]' }],
    archive: [
      { op: 'setRuleEnabled', flag: 'ranking-exp-1', rule: 'experiment', enabled: false },
      { op: 'archiveSegment', segment: 'ranking-exp-1' },
    ],
    'change weights': [{ op: 'updateRule', flag: 'ranking-exp-2', rule: 'experiment', patch: { weights: { control: 1, treatment: 3 } } }],
  };
  for (const [name, ops] of Object.entries(changes)) {
    it(`ranking: ${name}`, () => {
      const p = expectPredicted(base, applied(base, ops), ranking.population);
      expect(p.flags.some((f) => f.changed)).toBe(true);
    });
  }

  it('the comparison has power: a prediction for weights 1:3 fails against weights 1:2, and one that ignored the shared variant hash fails', () => {
    const weights = (w: number): Workspace => applied(base, [{ op: 'updateRule', flag: 'ranking-exp-2', rule: 'experiment', patch: { weights: { control: 1, treatment: w } } }]);
    const preview = previewImpact(base, weights(3));
    const observed = observeChange(preview, base, weights(2), ranking.population, UNITS);
    expect(compareWithObserved(preview, observed).outside.join('\n')).toMatch(/ranking-exp-2 control → treatment: predicted 0\.025/);
    // Had the before and after rule hashed independently, control → treatment would be 10% × ½ × ¾.
    const independent = { ...preview, flags: preview.flags.map((f) => (f.flag !== 'ranking-exp-2' ? f : { ...f, matrix: f.matrix.map((row, i) => row.map((share, j) => (i === 0 && j === 1 ? { ...share, exact: 0.0375 } : share))) })) };
    const truth = observeChange(preview, base, weights(3), ranking.population, UNITS);
    expect(compareWithObserved(preview, truth).outside).toEqual([]);
    expect(compareWithObserved(independent, truth).outside).toHaveLength(1);
  });

  it('hierarchical: reorder rules on overlapping segments of one flag', () => {
    const { workspaces, population } = scenario('hierarchical');
    const before = applied(workspaces[0]!, [
      { op: 'addRule', flag: 'search-ranking', rule: { id: 'c', kind: 'rollout', segment: 'search-ui-a', reach: 0.5, variant: 'bm25', enabled: true } },
    ]);
    const after = applied(before, [{ op: 'moveRule', flag: 'search-ranking', rule: 'c', index: 0 }]);
    const p = expectPredicted(before, after, population);
    expect(p.flags.find((f) => f.flag === 'search-ranking')!.change.exact).toBeGreaterThan(0);
  });

  it('cross-feature: raise a targeted segment, and follow a segment reference', () => {
    const { workspaces, population } = scenario('cross-feature');
    const before = applied(workspaces[0]!, [
      { op: 'createSegment', segment: 'followers', targeting: 'segment recs-exp or country == "DE"', proportion: 0.6 },
      { op: 'allocateSegment', segment: 'followers' },
    ]);
    const after = applied(before, [
      { op: 'updateSegment', segment: 'recs-exp', proportion: 0.5 },
      { op: 'updateSegment', segment: 'pricing-exp', proportion: 0.5 },
    ]);
    const p = expectPredicted(before, after, population);
    expect(p.segments.find((s) => s.segment === 'followers')!.enter.high).toBeGreaterThan(0);
  });

  it('cross-feature: retag a segment into conflict (keeps the legal buckets, reallocates the rest)', () => {
    const { workspaces, population } = scenario('cross-feature');
    const before = workspaces[0]!;
    const after = applied(before, [{ op: 'updateSegment', segment: 'recs-exp', exclusivityTags: ['pricing'], exclusiveTo: ['pricing', 'checkout'] }]);
    const p = expectPredicted(before, after, population);
    const recs = p.segments.find((s) => s.segment === 'recs-exp')!;
    expect(recs.buckets.removed).toBeGreaterThan(0);
    expect(recs.leave.exact).toBe(recs.buckets.removed / 1_000_000);
  });

  it('sticky: reweigh and pause intake (units with no stored assignment)', () => {
    const { workspaces, population } = scenario('sticky');
    for (let i = 0; i + 1 < workspaces.length; i++) expectPredicted(workspaces[i]!, workspaces[i + 1]!, population);
  });

  it('exclusion group: a member leaves the group and is raised', () => {
    const { workspaces, population } = scenario('exclusion-group');
    const after = applied(workspaces[0]!, [
      { op: 'removeGroupMember', group: 'homepage', segment: 'homepage-search' },
      { op: 'updateSegment', segment: 'homepage-search', proportion: 0.3 },
    ]);
    expectPredicted(workspaces[0]!, after, population);
  });
});
