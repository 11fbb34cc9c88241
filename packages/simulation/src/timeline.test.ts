/**
 * A good timeline passes: a sticky experiment assigned at the first step and then served only
 * from stored assignments (no newcomers) leaves its split untestable at the later steps, by
 * design. Those checks, which the scenario did not write, are reported as not testable there
 * and covered at the step where they were tested, without failing the run; units served a
 * sticky variant count as in the experiment for independence. Explicit claims and
 * `checks.power` still fail when nothing tested them, and `allowInconclusive` can name a step.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { buildReport } from './report/build.js';
import { renderHtml } from './report/html.js';
import { describeCheck, renderMarkdown } from './report/markdown.js';
import { runScenario } from './run/runner.js';
import { readScenario, scenarioFrom } from './scenario/scenario.js';
import type { Report } from './types.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/sticky-checkout.yaml', import.meta.url));
const UNITS = 40_000;

async function report(scenario: ReturnType<typeof readScenario>): Promise<Report> {
  const r = await runScenario(scenario, { units: UNITS, workers: 0 });
  return buildReport(r.plan, r.tally, { workers: 0, seconds: r.seconds, shards: 1 });
}

/** The fixture's document with `change` applied (a deep copy: the file is read once per call). */
function variant(change: (doc: Record<string, unknown>) => void): ReturnType<typeof readScenario> {
  const doc = parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;
  change(doc);
  return scenarioFrom(doc, { baseDir: '.' });
}

const failures = (r: Report): string => r.checks.filter((c) => !c.passed).map(describeCheck).join('\n');

describe('a sticky experiment assigned once, then served from stored assignments', () => {
  it('passes: its split is not testable after the first step, and covered there', async () => {
    const r = await report(readScenario(FIXTURE));
    expect(failures(r)).toBe('');
    expect(r.passed).toBe(true);
    const split = r.checks.filter((c) => c.kind === 'proportion' && c.subject.endsWith('checkout-layout/rules/experiment'));
    expect(split.map((c) => [c.step, c.verdict])).toEqual([
      ['initial', 'pass'],
      ['25%', 'not-testable'],
      ['60%', 'not-testable'],
      ['100%', 'not-testable'],
    ]);
    for (const c of split.slice(1)) {
      expect(c.coveredAt).toBe('initial');
      expect(c.detail).toMatch(/^not testable at this step: no unit was newly assigned by this rule here: its [\d,]+ units are served their stored sticky variants; covered at step initial, where it was tested$/);
    }
  });

  it('counts units served their stored variant as in the experiment for independence', async () => {
    const r = await report(readScenario(FIXTURE));
    const independence = r.checks.filter((c) => c.kind === 'independence' && c.subject === 'flags/checkout-layout × flags/search-ranking');
    expect(independence.map((c) => c.verdict)).toEqual(['pass', 'pass', 'pass', 'pass']);
    const units = independence.map((c) => c.units);
    expect(units[0]).toBeGreaterThan(1000);
    // No newcomers, nothing changed for either experiment: the same units and the same table, one test.
    expect(units).toEqual(units.map(() => units[0]));
    expect(independence.slice(1).map((c) => c.sameAs)).toEqual(['initial', 'initial', 'initial']);
  });

  it('says so in every report format', async () => {
    const r = await report(readScenario(FIXTURE));
    const md = renderMarkdown(r);
    expect(md).toContain('| not testable here (covered at initial) | 25% · flags/checkout-layout · flags/checkout-layout/rules/experiment | not tested |');
    expect(md).toMatch(/Not testable at their step: 3 checks the scenario did not write .* covered at the step where it was tested \(initial\); they do not fail the run\./);
    const html = renderHtml(r);
    expect(html).toContain('<td class="not-testable">not testable here (covered at initial)</td>');
    expect(html).toContain('<p class="note not-testable">Not testable at their step: 3 checks');
    expect(JSON.parse(JSON.stringify(r)).checks.filter((c: { verdict: string }) => c.verdict === 'not-testable')).toHaveLength(3);
  });

  it('still fails an explicit claim nothing tested, unless allowInconclusive names it or its step', async () => {
    const claim = { name: 'finns in the experiment', share: { flag: 'checkout-layout', variant: 'compact', p: 0.2, when: 'country == FI', steps: ['25%'] } };
    const failing = await report(variant((doc) => (doc.claims as unknown[]).push(claim)));
    expect(failures(failing)).toBe('INCONCLUSIVE: claim "finns in the experiment" at step 25%: no unit has country == FI: nothing was tested');
    expect(failing.passed).toBe(false);
    const byStep = await report(variant((doc) => {
      (doc.claims as unknown[]).push(claim);
      doc.checks = { allowInconclusive: ['25%'] };
    }));
    expect(byStep.passed).toBe(true);
    expect(byStep.checks.find((c) => c.claim === 'finns in the experiment')!.verdict).toBe('inconclusive');
    const otherStep = await report(variant((doc) => {
      (doc.claims as unknown[]).push(claim);
      doc.checks = { allowInconclusive: ['60%'] };
    }));
    expect(otherStep.passed).toBe(false);
  });

  it('with checks.power, checks the power where the split was tested, and fails a split no step tested', async () => {
    const covered = await report(variant((doc) => (doc.checks = { power: { mde: '5pp' } })));
    expect(failures(covered)).toBe('');
    const power = covered.checks.filter((c) => c.kind === 'power' && c.subject.endsWith('checkout-layout/rules/experiment'));
    expect(power.map((c) => [c.step, c.verdict])).toEqual([['initial', 'pass']]);

    // A sticky rule no unit ever reaches (its audience is nobody): never tested, so no power,
    // which fails even where every inconclusive check is allowed.
    const never = await report(
      variant((doc) => {
        doc.checks = { power: { mde: '5pp' }, allowInconclusive: true };
        const segments = (doc.workspace as { segments: Record<string, { targeting?: string }> }).segments;
        segments['checkout-layout']!.targeting = 'country in [FI]';
        doc.claims = [];
      }),
    );
    const bad = never.checks.filter((c) => !c.passed);
    expect(bad.map((c) => [c.kind, c.step, c.verdict])).toEqual([
      ['power', 'initial', 'inconclusive'],
      ['power', '25%', 'inconclusive'],
      ['power', '60%', 'inconclusive'],
      ['power', '100%', 'inconclusive'],
    ]);
    expect(bad[0]!.detail).toBe('no unit reached it at any step, so it cannot detect 5.00 pp');
  });

  it('does not take another rule pair of the same two flags, at the same step, for coverage', async () => {
    // f1's second rule is shadowed by its first (same segment): its pair with f0 reaches nobody.
    const rule = (id: string, segment = 's0'): Record<string, unknown> => ({ id, kind: 'ab-test', segment, weights: { control: 1, treatment: 1 } });
    const scenario = scenarioFrom(
      {
        population: { units: 5_000, seed: 1, id: { shape: 'sequential' } },
        workspace: { segments: { s0: { allocation: { proportion: 0.5 } }, s1: { allocation: { proportion: 0.5 } } }, flags: { f0: { variants: { control: 'a', treatment: 'b' }, rules: [rule('r0', 's1')] }, f1: { variants: { control: 'a', treatment: 'b' }, rules: [rule('r0'), rule('r1')] } } },
        operations: [{ op: 'allocateSegment', segment: 's0' }, { op: 'allocateSegment', segment: 's1' }, ...[['f0', 'r0'], ['f1', 'r0'], ['f1', 'r1']].map(([flag, id]) => ({ op: 'setRuleEnabled', flag, rule: id, enabled: true }))],
      },
      { baseDir: '.' },
    );
    const r = await report(scenario);
    const pairs = r.checks.filter((c) => c.kind === 'independence' && c.subject === 'flags/f0 × flags/f1');
    expect(pairs.map((c) => c.verdict)).toEqual(['pass', 'inconclusive']);
  });

  it("tests a sticky partial rollout's split on the units it hashes for the first time, as it ramps", async () => {
    // Units that landed in the rollout's uncovered half stored nothing and are hashed again at
    // every step, into the same half; counting them again would read as a split far off 50/50.
    const r = await report(
      variant((doc) => {
        const flags = (doc.workspace as { flags: Record<string, { rules: Record<string, unknown>[] }> }).flags;
        flags['express-pay']!.rules[0] = { id: 'rollout', kind: 'rollout', segment: 'express-pay', reach: 0.5, variant: 'on', sticky: { enabled: true, ignoreTargetingForAssigned: true } };
      }),
    );
    expect(failures(r)).toBe('');
    const split = r.checks.filter((c) => c.kind === 'proportion' && c.subject === 'flags/express-pay · flags/express-pay/rules/rollout');
    expect(split.map((c) => c.verdict)).toEqual(['pass', 'pass', 'pass', 'pass']);
    // Each step's test counts only the units the ramp brought in: 5%, then 20%, 35% and 40% of the units.
    const shares = split.map((c) => (c.units! / UNITS) * 100);
    expect(shares.map((x, i) => Math.abs(x - [5, 20, 35, 40][i]!) < 1.5)).toEqual([true, true, true, true]);
  });
});
