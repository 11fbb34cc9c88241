/**
 * A scenario whose population carries numbers written as text ("18", "21.5", "1e3", "abc"),
 * targeted by a number criterion (`age >= 18`): core reads such text as a number, and so must
 * the reference, or every reference check of the run reports false disagreements.
 */
import { describe, expect, it } from 'vitest';

import { buildReport } from '../report/build.js';
import { renderMarkdown } from '../report/markdown.js';
import { runScenario } from '../run/runner.js';
import { scenarioFrom } from '../scenario/scenario.js';

const doc = {
  name: 'numeric-text',
  population: {
    units: 20_000,
    seed: 11,
    id: { shape: 'sequential', prefix: 'u-' },
    attributes: {
      age: { categorical: { '17': 1, '18': 1, '21.5': 1, '1e3': 1, '-0': 1, abc: 1, '': 1 }, missing: 0.05 },
    },
  },
  workspace: {
    seed: 'numeric-text',
    segments: { adults: { targeting: 'age >= 18', allocation: { proportion: 1 } } },
    flags: {
      gate: {
        variants: { on: 'on' },
        rules: [{ id: 'adults', kind: 'rollout', segment: 'adults', variant: 'on', reach: 1 }],
      },
    },
  },
  operations: [
    { op: 'allocateSegment', segment: 'adults' },
    { op: 'setRuleEnabled', flag: 'gate', rule: 'adults', enabled: true },
  ],
  claims: [
    { share: { flag: 'gate', variant: 'on', p: 1, when: 'age in ["18", "21.5", "1e3"]' } },
    { share: { flag: 'gate', variant: 'on', p: 0, when: 'age in ["17", "-0", abc, ""]' } },
  ],
};

describe('a population of numbers written as text', () => {
  it('passes every check: core and the reference read "18" as 18 and "abc" as no number', async () => {
    const scenario = scenarioFrom(doc, { baseDir: process.cwd() });
    const run = await runScenario(scenario, { units: 20_000, workers: 0 });
    const report = buildReport(run.plan, run.tally, { workers: 0, seconds: run.seconds, shards: 1 });
    expect(report.checks.filter((c) => !c.passed), renderMarkdown(report)).toEqual([]);
    expect(report.checks.map((c) => c.kind)).toEqual(expect.arrayContaining(['share', 'rule-precedence']));
  });
});
