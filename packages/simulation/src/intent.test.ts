/**
 * Intent claims catch configurations that are wrong although consistent with themselves:
 * each test writes a small scenario with one defect a person could make through admin's
 * operations, shows that the built-in checks (which read the intent from the workspace)
 * let it pass, and that the claim fails with a message naming the claim, the step and the
 * numbers. Then: an untested claim is inconclusive, and a run too small for its required
 * minimal detectable effect fails.
 */
import { describe, expect, it } from 'vitest';

import { buildReport } from './report/build.js';
import { describeCheck } from './report/markdown.js';
import { runScenario } from './run/runner.js';
import { scenarioFrom } from './scenario/scenario.js';
import type { CheckResult, Report } from './types.js';

const UNITS = 20_000;

async function run(doc: Record<string, unknown>, units = UNITS): Promise<Report> {
  const scenario = scenarioFrom({ population: { units, seed: 7, id: { shape: 'sequential' }, attributes: { employee: { boolean: 0.05 } } }, ...doc }, { baseDir: '.' });
  const r = await runScenario(scenario, { workers: 0 });
  return buildReport(r.plan, r.tally, { workers: 0, seconds: r.seconds, shards: 1 });
}

const failed = (report: Report): CheckResult[] => report.checks.filter((c) => !c.passed);

/** The only failures are claims of `kind`; returns their messages. */
function onlyClaimsFail(report: Report, kind: CheckResult['kind']): string[] {
  const bad = failed(report);
  expect(bad.length, bad.map(describeCheck).join('\n')).toBeGreaterThan(0);
  expect(bad.map((c) => c.kind), bad.map(describeCheck).join('\n')).toEqual(bad.map(() => kind));
  return bad.map(describeCheck);
}

const experiment = {
  segments: { exp: { allocation: { proportion: 0.5 } } },
  flags: { f: { variants: { control: 'control', guided: 'guided' }, rules: [{ id: 'r', kind: 'ab-test', segment: 'exp', weights: { control: 1, guided: 1 }, sticky: { enabled: true } }] } },
};
const setUp = [{ op: 'allocateSegment', segment: 'exp' }, { op: 'setRuleEnabled', flag: 'f', rule: 'r', enabled: true }];

describe('intent claims catch what the workspace does not say', () => {
  it('a swapped rule order: the employees override added below the rollout', async () => {
    const doc = {
      workspace: {
        segments: { rollout: { allocation: { proportion: 0.5 } } },
        flags: { checkout: { variants: { on: true, off: false }, rules: [{ id: 'rollout', kind: 'rollout', segment: 'rollout', reach: 1, variant: 'on' }] } },
      },
      operations: [
        { op: 'allocateSegment', segment: 'rollout' },
        { op: 'setRuleEnabled', flag: 'checkout', rule: 'rollout', enabled: true },
        // Forgotten: { op: moveRule, flag: checkout, rule: employees, index: 0 }.
        { op: 'addRule', flag: 'checkout', rule: { id: 'employees', kind: 'rollout', targeting: 'employee == true', reach: 1, variant: 'off', enabled: true } },
      ],
      claims: [{ precedence: { flag: 'checkout', when: 'employee == true', rule: 'employees' } }, { precedence: { flag: 'checkout', when: 'employee == true', variants: ['off'] } }],
    };
    const [message, variants] = onlyClaimsFail(await run(doc), 'precedence');
    expect(variants).toMatch(/^FAIL: claim "precedence: checkout serves off when employee == true" at step initial: [1-9][\d,]* of [\d,]+ units with employee == true are not served variants off; decided by: rollout [\d,]+, employees [\d,]+$/);
    expect(message).toMatch(/^FAIL: claim "precedence: checkout decided by employees when employee == true" at step initial: [\d,]+ of [\d,]+ units with employee == true are not decided by rule employees; decided by: rollout [\d,]+, employees [\d,]+$/);
  });

  it('a forgotten exclusivity tag: the second ranking experiment allocated without it', async () => {
    const doc = {
      workspace: {
        segments: {
          'ranking-1': { allocation: { proportion: 0.2, exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] } },
          'ranking-2': { allocation: { proportion: 0.2 } },
        },
      },
      operations: [{ op: 'allocateSegment', segment: 'ranking-1' }, { op: 'allocateSegment', segment: 'ranking-2' }],
      claims: [{ exclusive: ['ranking-1', 'ranking-2'] }],
    };
    const [message] = onlyClaimsFail(await run(doc), 'exclusive');
    expect(message).toMatch(/^FAIL: claim "exclusive \[ranking-1, ranking-2\]" at step initial: [1-9][\d,]* of 20,000 units are in two or more of them \(ranking-1 × ranking-2: [\d,]+\); units in each: ranking-1 [\d,]+, ranking-2 [\d,]+$/);
  });

  it('a ramp lowered with force', async () => {
    const doc = {
      workspace: { segments: { rollout: { allocation: { proportion: 0.3 } } } },
      operations: [{ op: 'allocateSegment', segment: 'rollout' }],
      timeline: [{ label: 'ramp down', operations: [{ op: 'updateSegment', segment: 'rollout', proportion: 0.1, force: true }] }],
      claims: [{ monotone: ['rollout'] }],
    };
    const [message] = onlyClaimsFail(await run(doc), 'monotone');
    expect(message).toMatch(/^FAIL: claim "monotone \[rollout\]" at step ramp down: units in it at step initial are not in it any more \(rollout: [1-9][\d,]* of [\d,]+ left\)$/);
  });

  it('a rule that stops being sticky at a later step (and is rebalanced)', async () => {
    const doc = {
      workspace: experiment,
      operations: setUp,
      timeline: [{ label: 'rebalance', operations: [{ op: 'updateRule', flag: 'f', rule: 'r', patch: { sticky: { enabled: false }, weights: { control: 1, guided: 4 } } }] }],
      claims: [{ sticky: { flag: 'f', from: 'initial', to: 'rebalance' } }],
    };
    const report = await run(doc);
    // The workspace no longer says the rule is sticky: no built-in stickiness check at all.
    expect(report.checks.filter((c) => c.kind === 'stickiness')).toEqual([]);
    const [message] = onlyClaimsFail(report, 'sticky');
    expect(message).toMatch(/^FAIL: claim "sticky: f from initial to rebalance" at step rebalance: of [\d,]+ units served a variant of f at step initial, [1-9][\d,]* are served another variant and 0 none at step rebalance$/);
  });

  it('stickiness broken across a paused intake: the rule recreated when intake resumes', async () => {
    const doc = {
      workspace: experiment,
      operations: setUp,
      timeline: [
        { label: 'pause', operations: [{ op: 'updateRule', flag: 'f', rule: 'r', patch: { sticky: { enabled: true, pausedIntake: true } } }] },
        {
          label: 'resume',
          operations: [
            { op: 'archiveRule', flag: 'f', rule: 'r' },
            { op: 'addRule', flag: 'f', rule: { id: 'r2', kind: 'ab-test', segment: 'exp', weights: { control: 1, guided: 4 }, sticky: { enabled: true }, enabled: true } },
          ],
        },
      ],
      claims: [{ sticky: { flag: 'f', from: 'initial', to: 'resume' } }, { sticky: { flag: 'f', from: 'initial', to: 'pause' } }],
    };
    const report = await run(doc);
    // Across the pause itself stickiness holds (and the built-in check, which reads the store, ran).
    expect(report.checks.find((c) => c.claim === 'sticky: f from initial to pause')!.verdict).toBe('pass');
    const [message] = onlyClaimsFail(report, 'sticky');
    expect(message).toMatch(/^FAIL: claim "sticky: f from initial to resume" at step resume: of [\d,]+ units served a variant of f at step initial, [1-9][\d,]* are served another variant and 0 none at step resume$/);
  });

  it('the built-in stickiness check runs after a paused step (it reads the stored assignments)', async () => {
    const doc = {
      workspace: experiment,
      operations: setUp,
      timeline: [
        { label: 'pause', operations: [{ op: 'updateRule', flag: 'f', rule: 'r', patch: { sticky: { enabled: true, pausedIntake: true } } }] },
        { label: 'resume', operations: [{ op: 'updateRule', flag: 'f', rule: 'r', patch: { sticky: { enabled: true, pausedIntake: false }, weights: { control: 1, guided: 4 } } }] },
      ],
      // Nobody new enters at resume (same audience and allocation): its 20/80 split is untested.
      checks: { allowInconclusive: ['flags/f · flags/f/rules/r'] },
    };
    const report = await run(doc);
    expect(failed(report)).toEqual([]);
    const resume = report.checks.find((c) => c.kind === 'stickiness' && c.step === 'resume')!;
    expect(resume.detail).toMatch(/^0 of [1-9][\d,]* sticky units lost their variant$/);
  });

  it('an untested claim is inconclusive and fails the run, unless the scenario allows it', async () => {
    const doc = {
      workspace: experiment,
      operations: setUp,
      claims: [{ name: 'admins see guided', precedence: { flag: 'f', when: 'role == "admin"', variants: ['guided'] } }],
    };
    const report = await run(doc);
    expect(report.passed).toBe(false);
    expect(failed(report).map(describeCheck)).toEqual(['INCONCLUSIVE: claim "admins see guided" at step initial: no unit has role == "admin": nothing was tested']);
    const allowed = await run({ ...doc, checks: { allowInconclusive: ['admins see guided'] } });
    expect(allowed.passed).toBe(true);
    expect(allowed.checks.find((c) => c.claim === 'admins see guided')!.verdict).toBe('inconclusive');
  });

  it('a run too small for the minimal detectable effect the scenario requires', async () => {
    const doc = { workspace: experiment, operations: setUp, checks: { power: { mde: '0.5pp' } } };
    const messages = onlyClaimsFail(await run(doc), 'power');
    expect(messages).toContainEqual(
      expect.stringMatching(/^FAIL: power flags\/f · flags\/f\/rules\/r at step initial: too few units to detect 0\.50 pp on flags\/f · flags\/f\/rules\/r at step initial; need [\d,]+ units \(the smallest imbalance it detects with 80% power is [\d.]+ pp, with [\d,]+ of 20,000 units reaching it\)$/),
    );
    // The units it asks for are enough.
    const need = Number(/need ([\d,]+) units/.exec(messages.find((m) => m.includes('flags/f/rules/r'))!)![1]!.replace(/,/g, ''));
    const bigger = await run(doc, need + 2_000);
    expect(bigger.checks.filter((c) => c.kind === 'power' && c.subject.includes('rules/r')).map((c) => c.verdict)).toEqual(['pass']);
  });
});

describe('claims parsing', () => {
  const base = { population: { units: 10 }, workspace: experiment, operations: setUp };
  it('names the path and what to write', () => {
    expect(() => scenarioFrom({ ...base, claims: [{ exclusive: ['exp', 'nope'] }] }, { baseDir: '.' })).toThrow(/^claims\[0\]\.exclusive\[1\]: no step of the scenario has a segment or flag nope$/);
    expect(() => scenarioFrom({ ...base, claims: [{ sticky: { flag: 'f', from: 'initial', to: 'initial' } }] }, { baseDir: '.' })).toThrow(/claims\[0\]\.sticky\.to: expected a step after initial/);
    expect(() => scenarioFrom({ ...base, claims: [{ share: { flag: 'f', variant: 'guided', p: 2 } }] }, { baseDir: '.' })).toThrow(/claims\[0\]\.share\.p: expected a number in \[0, 1\]/);
    expect(() => scenarioFrom({ ...base, claims: [{ precedence: { flag: 'f', when: 'x ==', rule: 'r' } }] }, { baseDir: '.' })).toThrow(/claims\[0\]\.precedence\.when/);
    expect(() => scenarioFrom({ ...base, checks: { power: { mde: 'half' } } }, { baseDir: '.' })).toThrow(/checks\.power\.mde: expected percentage points such as 0\.5pp/);
  });
});
