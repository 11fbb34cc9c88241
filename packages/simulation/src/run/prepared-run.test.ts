import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { readScenario } from '../scenario/scenario.js';
import type { Scenario } from '../types.js';
import { PreparedRun } from './prepared-run.js';
import { runScenario } from './runner.js';

const DIR = fileURLToPath(new URL('../../../../simulations/', import.meta.url));

/** ranking.yaml with core given a split one bucket in a thousand off, the reference the configured one: mismatches in every shard. */
function brokenRanking(): Scenario {
  const ranking = readScenario(`${DIR}ranking.yaml`);
  type Rules = { assignmentSpec: { assignments: { bucketRanges: { lower: number; upper: number }[] }[] } }[];
  const steps = ranking.steps.map((step) => {
    const state = structuredClone(step.state) as { flags: Record<string, { rules: Rules }> };
    const [control, treatment] = state.flags['flags/ranking-exp-1']!.rules[0]!.assignmentSpec.assignments;
    control!.bucketRanges = [{ lower: 0, upper: 499_000 }];
    treatment!.bucketRanges = [{ lower: 499_000, upper: 1_000_000 }];
    return { ...step, state, referenceState: step.state };
  });
  return { ...ranking, steps };
}

describe('PreparedRun', () => {
  it.each([
    ['sticky.yaml', () => readScenario(`${DIR}sticky.yaml`)],
    ['ranking.yaml with mismatches', brokenRanking],
  ])('counts each shard of %s exactly as runScenario does, reused for shards in any order', async (_, scenario) => {
    const s = scenario();
    const units = 150_000;
    const prepared = new PreparedRun(s, { units, seed: 5 });
    for (const index of [2, 0, 1, 2]) {
      const shard = { index, count: 3 };
      const alone = await runScenario(s, { units, seed: 5, workers: 1, shard });
      const reused = await prepared.countShard(shard);
      expect(reused.plan).toEqual(alone.plan);
      expect(reused.tally).toEqual(alone.tally);
      expect([reused.shard, reused.workers]).toEqual([alone.shard, alone.workers]);
    }
    // The broken scenario's examples are there to be forgotten: counted after shards 2 and 0, shard 1 keeps only its own.
    if (s.name === 'ranking') {
      const units1 = (await prepared.countShard({ index: 1, count: 3 })).tally.mismatches[0]!.map((m) => m.unit);
      expect(units1.length).toBeGreaterThan(0);
      expect(units1.every((u) => u >= 50_000 && u < 100_000)).toBe(true);
    }
  });

  it('reports progress up to the shard size, and counts one shard at a time', async () => {
    const prepared = new PreparedRun(readScenario(`${DIR}sticky.yaml`), { units: 40_000 });
    const seen: [number, number][] = [];
    const first = prepared.countShard({ index: 1, count: 2 }, (done, total) => seen.push([done, total]));
    await expect(prepared.countShard({ index: 0, count: 2 })).rejects.toThrow(/one shard at a time/);
    await first;
    expect(seen.at(-1)).toEqual([20_000, 20_000]);
  });
});
