/**
 * Seeds make new populations for every id shape: the same scenario at another seed gives
 * other ids, other buckets and so other p-values (a rerun or a calibration over seeds means
 * something). Small and seeded: 10,000 units, six seeds per shape.
 */
import { describe, expect, it } from 'vitest';

import { buildReport } from '../report/build.js';
import { runScenario } from '../run/runner.js';
import { scenarioFrom } from '../scenario/scenario.js';
import { Population, serialOf } from './population.js';

const SHAPES = ['uuid', 'sequential', 'email', 'numeric'] as const;
const SEEDS = [1, 2, 3, 4, 5, 6];

const scenario = (shape: string) =>
  scenarioFrom(
    {
      population: { units: 10_000, seed: 1, id: { shape } },
      workspace: {
        segments: { exp: { allocation: { proportion: 0.3 } } },
        flags: { f: { variants: { a: 'a', b: 'b' }, rules: [{ id: 'r', kind: 'ab-test', segment: 'exp', weights: { a: 1, b: 1 } }] } },
      },
      operations: [{ op: 'allocateSegment', segment: 'exp' }, { op: 'setRuleEnabled', flag: 'f', rule: 'r', enabled: true }],
    },
    { baseDir: '.' },
  );

describe('seeds change the population for every id shape', () => {
  for (const shape of SHAPES) {
    it(`${shape}: six seeds, six different sets of p-values`, async () => {
      const s = scenario(shape);
      const pValues = await Promise.all(
        SEEDS.map(async (seed) => {
          const run = await runScenario(s, { seed, workers: 0 });
          const report = buildReport(run.plan, run.tally, { workers: 0, seconds: 0, shards: 1 });
          return report.checks.filter((c) => c.pValue !== undefined).map((c) => `${c.subject}: p = ${c.pValue}`).join('; ');
        }),
      );
      // (Counts are discrete: one test may repeat a p-value at two seeds, not every test.)
      expect(new Set(pValues).size, pValues.join('\n')).toBe(SEEDS.length);
      expect(pValues[0]).toMatch(/segments\/exp: p = .*; flags\/f · flags\/f\/rules\/r: p = /);
      const ids = SEEDS.map((seed) => new Population({ ...s.population, seed }).idAt(0));
      expect(new Set(ids).size).toBe(SEEDS.length);
    });
  }

  it('counts ids from 0 at seed 0, as documented', () => {
    const spec = { units: 10, seed: 0, id: { shape: 'sequential' as const, field: 'targeting_key', prefix: 'user-' }, attributes: [] };
    expect(new Population(spec).idAt(3)).toBe('user-3');
    expect(new Population({ ...spec, id: { ...spec.id, shape: 'numeric' } }).idAt(3)).toBe(4);
    expect(new Population({ ...spec, seed: 2 }).idAt(3)).toMatch(/^user-\d+$/);
    expect(new Population({ ...spec, seed: 2 }).idAt(3)).not.toBe('user-3');
    // Long ids are built digit by digit: the same text as the number's.
    const seq = new Population({ ...spec, seed: 9 });
    const num = new Population({ ...spec, seed: 9, id: { ...spec.id, shape: 'numeric' } });
    const email = new Population({ ...spec, seed: 9, id: { ...spec.id, shape: 'email' } });
    for (let i = 0; i < 1000; i++) {
      expect(seq.idAt(i)).toBe(`user-${(num.idAt(i) as number) - 1}`);
      expect(email.idAt(i)).toBe(`user-${(num.idAt(i) as number) - 1}@example.com`);
    }
  });

  it('draws distinct serial numbers below 2^30 at every seed (a permutation)', () => {
    for (const key of [1, 0x9e3779b9 | 1, 0xffffffff]) {
      const seen = new Set<number>();
      let max = 0;
      for (let i = 0; i < 200_000; i++) {
        const n = serialOf(key, i);
        seen.add(n);
        max = Math.max(max, n);
      }
      expect(seen.size).toBe(200_000);
      expect(max).toBeLessThan(2 ** 30);
    }
    expect(serialOf(0, 12)).toBe(12);
    expect(serialOf(5, 2 ** 30 + 7)).toBe(2 ** 30 + 7);
  });
});
