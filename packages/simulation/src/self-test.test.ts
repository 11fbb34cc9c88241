/**
 * The harness must catch a broken configuration or resolver. Each test injects one defect
 * into an included scenario and proves that the matching check fails (and says why).
 */
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { buildReport } from './report/build.js';
import { runScenario } from './run/runner.js';
import { readScenario } from './scenario/scenario.js';
import type { CheckKind, ConfiguredStep, Scenario } from './types.js';

const DIR = fileURLToPath(new URL('../../../simulations/', import.meta.url));
const UNITS = 100_000;

type State = { flags: Record<string, { rules: { segment: string; assignmentSpec: { assignments: { bucketRanges: { lower: number; upper: number }[] }[] } }[] }>; bitsets: Record<string, string> };

/** A compiled bitset (base64 of gzipped bytes, as admin writes it) and back. */
const decode = (bitset: string): Uint8Array => new Uint8Array(gunzipSync(Buffer.from(bitset, 'base64')));
const encode = (bytes: Uint8Array): string => gzipSync(bytes).toString('base64');
const bucketsOf = (bytes: Uint8Array): number[] => {
  const out: number[] = [];
  for (let i = 0; i < bytes.length * 8; i++) if ((bytes[i >> 3]! & (1 << (i & 7))) !== 0) out.push(i);
  return out;
};

/** The scenario with step `k`'s state changed; with `resolverOnly`, the reference keeps the configured state. */
function inject(scenario: Scenario, k: number, change: (state: State) => void, resolverOnly = false): Scenario {
  const steps = scenario.steps.map((step, i): ConfiguredStep => {
    if (i !== k) return step;
    const state = structuredClone(step.state) as State;
    change(state);
    return resolverOnly ? { ...step, state, referenceState: step.state } : { ...step, state };
  });
  return { ...scenario, steps };
}

async function failures(scenario: Scenario, units = UNITS): Promise<{ kind: CheckKind; detail: string; subject: string }[]> {
  const run = await runScenario(scenario, { units, workers: 0 });
  return buildReport(run.plan, run.tally, { workers: 0, seconds: 0, shards: 1 }).checks.filter((c) => !c.passed);
}

describe('self-test: injected defects are flagged', () => {
  it('a split off by one bucket in 1,000 (49.9/50.1)', async () => {
    const s = inject(readScenario(`${DIR}ranking.yaml`), 0, (state) => {
      const [control, treatment] = state.flags['flags/ranking-exp-1']!.rules[0]!.assignmentSpec.assignments;
      control!.bucketRanges = [{ lower: 0, upper: 499_000 }];
      treatment!.bucketRanges = [{ lower: 499_000, upper: 1_000_000 }];
    });
    const failed = await failures(s);
    expect(failed.map((f) => f.kind)).toContain('configuration');
    expect(failed.find((f) => f.kind === 'configuration')!.detail).toMatch(/control is configured at 50% but the state gives it 499000 of 1000000 buckets/);
  });

  it('a salt reused between two experiments', async () => {
    // The banner experiment hashes with the hero experiment's segment id: identical buckets.
    const s = inject(readScenario(`${DIR}exclusion-group.yaml`), 0, (state) => {
      state.flags['flags/banner']!.rules[0]!.segment = 'segments/homepage-hero';
    });
    const failed = await failures(s);
    const independence = failed.filter((f) => f.kind === 'independence');
    expect(independence.map((f) => f.subject)).toContain('flags/hero × flags/banner');
    expect(independence[0]!.detail).toMatch(/Cramér's V 1\.0000/);
  });

  it('a ramp that is not monotone', async () => {
    const scenario = readScenario(`${DIR}rollout-ramp.yaml`);
    // Step "5%" reallocated elsewhere instead of raised: the same buckets moved by half the space.
    const s = inject(scenario, 1, (state) => {
      const bytes = decode(state.bitsets['segments/new-checkout-rollout']!);
      const half = bytes.length / 2;
      state.bitsets['segments/new-checkout-rollout'] = encode(new Uint8Array([...bytes.subarray(half), ...bytes.subarray(0, half)]));
    });
    const failed = await failures(s);
    const mono = failed.filter((f) => f.kind === 'monotonicity');
    expect(mono.map((f) => f.subject)).toContain('segments/new-checkout-rollout');
    expect(mono[0]!.detail).toMatch(/[1-9][\d,]* units left the segment; [1-9][\d,]* buckets dropped/);
  });

  it('two exclusive segments sharing buckets', async () => {
    const s = inject(readScenario(`${DIR}ranking.yaml`), 0, (state) => {
      // ranking-exp-2 gives up 1,000 of its buckets for 1,000 of ranking-exp-1's (same size).
      const one = bucketsOf(decode(state.bitsets['segments/ranking-exp-1']!));
      const two = decode(state.bitsets['segments/ranking-exp-2']!);
      for (const b of bucketsOf(two).slice(0, 1000)) two[b >> 3]! &= ~(1 << (b & 7));
      for (const b of one.slice(0, 1000)) two[b >> 3]! |= 1 << (b & 7);
      state.bitsets['segments/ranking-exp-2'] = encode(two);
    });
    const failed = await failures(s);
    const exclusion = failed.filter((f) => f.kind === 'mutual-exclusion');
    expect(exclusion).toHaveLength(1);
    expect(exclusion[0]!.subject).toBe('segments/ranking-exp-1 × segments/ranking-exp-2');
    expect(exclusion[0]!.detail).toMatch(/[1-9]\d* of 100,000 units in both; 1,000 of 1,000,000 buckets shared/);
  });

  it('a rule order swapped (the resolver serves rules in another order than configured)', async () => {
    const s = inject(
      readScenario(`${DIR}rollout-ramp.yaml`),
      2,
      (state) => {
        state.flags['flags/new-checkout']!.rules.reverse();
      },
      true,
    );
    const failed = await failures(s);
    const precedence = failed.filter((f) => f.kind === 'rule-precedence');
    expect(precedence).toHaveLength(1);
    expect(precedence[0]!.detail).toMatch(/[1-9][\d,]* of 100,000 resolves disagree/);
  });

  it('and the same scenarios pass untouched (at 200k units: ranking requires a 2.5 pp minimal detectable effect)', async () => {
    for (const file of ['ranking.yaml', 'exclusion-group.yaml', 'rollout-ramp.yaml']) {
      expect(await failures(readScenario(`${DIR}${file}`), 200_000)).toEqual([]);
    }
  });
});
