import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readScenario, scenarioFrom } from '../scenario/scenario.js';

const population = { units: 1000, seed: 1, id: { shape: 'sequential' } };
const workspace = {
  segments: { exp: { allocation: { proportion: 0.1, exclusivityTags: ['x'], exclusiveTo: ['x'] } }, other: { allocation: { proportion: 0.95, exclusivityTags: ['x'], exclusiveTo: ['x'] } } },
  flags: { f: { variants: { a: 1, b: 2 }, rules: [{ id: 'r', kind: 'ab-test', segment: 'exp', weights: { a: 1, b: 3 } }] } },
};

describe('workspace scenarios', () => {
  it('applies the set-up and each step with admin, and reads the claims from the workspace', () => {
    const s = scenarioFrom(
      {
        population,
        workspace,
        operations: [{ op: 'allocateSegment', segment: 'exp' }, { op: 'setRuleEnabled', flag: 'f', rule: 'r', enabled: true }],
        timeline: [{ label: 'raise', operations: [{ op: 'updateSegment', segment: 'exp', proportion: 0.2 }] }],
      },
      { baseDir: '.' },
    );
    expect(s.steps.map((x) => x.label)).toEqual(['initial', 'raise']);
    expect(s.steps[0]!.proportions).toEqual({ 'segments/exp': 0.1 });
    expect(s.steps[1]!.proportions).toEqual({ 'segments/exp': 0.2 });
    expect(s.steps[1]!.monotone).toEqual(['segments/exp']);
    expect(s.steps[0]!.splits).toEqual({ 'flags/f': { 'flags/f/rules/r': { a: 0.25, b: 0.75 } } });
    expect(s.steps[0]!.coordination['segments/exp']).toEqual({ exclusivityTags: ['x'], exclusiveTo: ['x'] });
    expect(typeof (s.steps[1]!.state as { bitsets: Record<string, unknown> }).bitsets['segments/exp']).toBe('string');
  });

  it('names the operation admin refused, and why', () => {
    const doc = { population, workspace, operations: [{ op: 'allocateSegment', segment: 'exp' }, { op: 'allocateSegment', segment: 'other' }] };
    expect(() => scenarioFrom(doc, { baseDir: '.' })).toThrow(/operations\[1\] \(allocateSegment\): @allot\/admin refused it: .*needs 950000/s);
    expect(() => scenarioFrom({ population, workspace, operations: [{ op: 'allocate' }] }, { baseDir: '.' })).toThrow(/operations\[0\]\.op: expected one of createSegment/);
    expect(() => scenarioFrom({ population, workspace: { segments: { Bad: {} } } }, { baseDir: '.' })).toThrow(/^workspace: segments\.Bad/);
  });

  it('reads a workspace file relative to the scenario', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-sim-'));
    writeFileSync(join(dir, 'ws.json'), JSON.stringify(workspace));
    writeFileSync(join(dir, 'scenario.yaml'), `population: { units: 10, seed: 1 }\nworkspace: ws.json\noperations:\n  - { op: allocateSegment, segment: exp }\n`);
    const s = readScenario(join(dir, 'scenario.yaml'));
    expect(s.name).toBe('scenario');
    expect(s.steps[0]!.proportions).toEqual({ 'segments/exp': 0.1 });
  });
});
