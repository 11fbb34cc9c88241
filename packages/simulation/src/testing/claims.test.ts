import { fc, test } from '@fast-check/vitest';
import { compileState } from '@allot/admin';
import { describe, expect, it } from 'vitest';

import { buildReport } from '../report/build.js';
import { describeCheck } from '../report/markdown.js';
import { runScenario } from '../run/runner.js';
import { scenarioFrom } from '../scenario/scenario.js';
import { applyWorkspaceOps, assertClaims, emptyWorkspace, type WorkspaceOp } from './index.js';

/** Two ranking experiments, each a flag with an A/B rule on its segment; `tagged` says which carry the ranking tag. */
function ranking(p1: number, p2: number, tagged: readonly [boolean, boolean]): WorkspaceOp[] {
  return [1, 2].flatMap((n, i): WorkspaceOp[] => {
    const tags = tagged[i] === true ? ['ranking'] : [];
    return [
      { op: 'createSegment', segment: `ranking-${n}`, proportion: i === 0 ? p1 : p2, exclusivityTags: tags, exclusiveTo: tags },
      { op: 'allocateSegment', segment: `ranking-${n}` },
      { op: 'createFlag', flag: `ranking-${n}`, variants: ['control', 'treatment'] },
      { op: 'addRule', flag: `ranking-${n}`, rule: { id: 'experiment', kind: 'ab-test', segment: `ranking-${n}`, weights: { control: 1, treatment: 1 }, enabled: true } },
    ];
  });
}

const workspaceOf = (ops: readonly WorkspaceOp[]): ReturnType<typeof emptyWorkspace> => {
  const { workspace, refused } = applyWorkspaceOps(emptyWorkspace('claims-test'), ops);
  expect(refused).toEqual([]);
  return workspace;
};

describe('assertClaims', () => {
  it('passes when the claims hold, for a workspace and for its compiled state', async () => {
    const ws = workspaceOf(ranking(0.3, 0.4, [true, true]));
    const claims = [{ exclusive: ['segments/ranking-1', 'segments/ranking-2'] }, { exclusive: ['flags/ranking-1', 'flags/ranking-2'] }, { share: { flag: 'ranking-1', variant: 'treatment', p: 0.15 } }];
    await assertClaims(ws, claims, { units: 5_000 });
    await assertClaims(compileState(ws), claims, { units: 5_000 });
  });

  it('throws the lines the report prints, for a forgotten exclusivity tag', async () => {
    const ws = workspaceOf(ranking(0.3, 0.4, [true, false]));
    const claims = [{ exclusive: ['segments/ranking-1', 'segments/ranking-2'] }];
    const error = await assertClaims(ws, claims, { units: 5_000 }).then(() => null, (e: unknown) => e as Error);
    expect(error?.message).toMatch(/^FAIL: claim "exclusive \[segments\/ranking-1, segments\/ranking-2\]" at step initial: [1-9][\d,]* of 5,000 units are in two or more of them \(ranking-1 × ranking-2: [\d,]+\); units in each: ranking-1 [\d,]+, ranking-2 [\d,]+$/);

    // The same claims as a scenario file: the report's line is the message, word for word.
    const doc = {
      workspace: { segments: { 'ranking-1': { allocation: { proportion: 0.3, exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] } }, 'ranking-2': { allocation: { proportion: 0.4 } } }, seed: 'claims-test' },
      operations: [{ op: 'allocateSegment', segment: 'ranking-1' }, { op: 'allocateSegment', segment: 'ranking-2' }],
      population: { units: 5_000 },
      claims,
    };
    const run = await runScenario(scenarioFrom(doc, { baseDir: '.' }), { workers: 0 });
    const line = buildReport(run.plan, run.tally, { workers: 0, seconds: 0, shards: 1 }).checks.filter((c) => c.claim !== undefined && !c.passed).map(describeCheck);
    const again = await assertClaims(workspaceOf([
      { op: 'createSegment', segment: 'ranking-1', proportion: 0.3, exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] },
      { op: 'allocateSegment', segment: 'ranking-1' },
      { op: 'createSegment', segment: 'ranking-2', proportion: 0.4 },
      { op: 'allocateSegment', segment: 'ranking-2' },
    ]), claims, { units: 5_000 }).then(() => null, (e: unknown) => e as Error);
    expect(again?.message).toBe(line.join('\n'));
  });

  it('follows a timeline of admin operations, with when and steps', async () => {
    const ws = workspaceOf([
      { op: 'createSegment', segment: 'rollout', proportion: 0.3 },
      { op: 'allocateSegment', segment: 'rollout' },
      { op: 'createFlag', flag: 'checkout', variants: ['on', 'off'] },
      { op: 'addRule', flag: 'checkout', rule: { id: 'rollout', kind: 'rollout', segment: 'rollout', reach: 1, variant: 'on', enabled: true } },
    ]);
    const timeline = [
      { label: 'ramp', operations: [{ op: 'updateSegment', segment: 'rollout', proportion: 0.6 }] },
      // The override added below the rollout, never moved first.
      { label: 'employees', operations: [{ op: 'addRule', flag: 'checkout', rule: { id: 'employees', kind: 'rollout', targeting: 'employee == true', reach: 1, variant: 'off', enabled: true } }] },
    ];
    const population = { attributes: { employee: { boolean: 0.05 } } };
    await assertClaims(ws, [{ monotone: ['segments/rollout'] }, { share: { flag: 'checkout', variant: 'on', p: 0.6, steps: ['ramp'] } }], { units: 8_000, timeline, population });
    await expect(assertClaims(ws, [{ precedence: { flag: 'checkout', when: 'employee == true', rule: 'employees', steps: ['employees'] } }], { units: 8_000, timeline, population })).rejects.toThrow(
      /^FAIL: claim "precedence: checkout decided by employees when employee == true" at step employees: [1-9][\d,]* of [\d,]+ units with employee == true are not decided by rule employees; decided by: rollout [\d,]+, employees [\d,]+$/,
    );
  });

  it('fails a claim no unit reached, unless allowed, and names the path of a claim it cannot read', async () => {
    const ws = workspaceOf(ranking(0.3, 0.4, [true, true]));
    const nobody = [{ name: 'admins', share: { flag: 'ranking-1', variant: 'treatment', p: 0.5, when: 'role == "admin"' } }];
    await expect(assertClaims(ws, nobody, { units: 2_000 })).rejects.toThrow('INCONCLUSIVE: claim "admins" at step initial: no unit has role == "admin": nothing was tested');
    await assertClaims(ws, nobody, { units: 2_000, allowInconclusive: ['admins'] });
    await expect(assertClaims(ws, [{ share: { flag: 'ranking-3', variant: 'treatment', p: 0.5 } }])).rejects.toThrow(/^claims\[0\]\.share\.flag: no step of the scenario has a flag ranking-3/);
  });

  // Whatever the proportions, forgetting the ranking tag on either experiment is caught.
  test.prop([fc.integer({ min: 10, max: 45 }), fc.integer({ min: 10, max: 45 }), fc.constantFrom([true, false] as const, [false, true] as const, [false, false] as const)], { numRuns: 8 })(
    'an exclusive claim catches a forgotten exclusivity tag',
    async (p1, p2, tagged) => {
      const claims = [{ exclusive: ['flags/ranking-1', 'flags/ranking-2'] }];
      await assertClaims(workspaceOf(ranking(p1 / 100, p2 / 100, [true, true])), claims, { units: 3_000 });
      await expect(assertClaims(workspaceOf(ranking(p1 / 100, p2 / 100, tagged)), claims, { units: 3_000 })).rejects.toThrow(/^FAIL: claim "exclusive \[flags\/ranking-1, flags\/ranking-2\]" at step initial: [1-9]/);
    },
  );
});
