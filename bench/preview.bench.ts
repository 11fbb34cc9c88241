/**
 * What a `validateOnly` preview of one segment change costs as the account grows (issue 21:
 * at 10,000 allocated segments ≤ 10× its cost at 1,000).
 *
 * Accounts of 1,000 and 10,000 allocated segments, each with one targeting condition and
 * used by an enabled rule of its own flag (an A/B test): 60% in 20 tag families (tagged and
 * exclusive to the family's tag, 0.2% each), 40% untagged at 0.5%. The workspaces are built
 * directly (buckets placed at random, disjoint within a family, as the allocator would), not
 * through 10,000 allocate calls, their bitsets encoded once and the whole checked once by a
 * first change, as the server holds a workspace read from its file.
 *
 * One preview is what the server's `commit` does for `?validateOnly=true`
 * (packages/server/src/resources/validate-only.ts): `applyOperation` (the operation, then
 * the gate: targeting totals, the document's round trip with every consistency check, the
 * compiled state loaded by core), then `previewImpact` of before → after, then the answer's
 * JSON (`--full`: the impact on every flag and segment, as validateOnly answered before it
 * listed only what the change can affect). Two changes: raising an untagged segment's proportion (0.5% → 0.6%), and a tagged
 * one's (0.2% → 0.25%, among its family). The two sizes run in alternating rounds; the
 * median round is kept, per phase.
 *
 * Each size is measured with the gate that checks what a change touched and, to compare, the
 * whole-document gate it replaced (`--changes-only` leaves those rows out).
 *
 * Run: pnpm --filter @allot/bench bench:preview (or node bench/dist/preview.bench.js [--quick] [--changes-only])
 */
import {
  applyOperation,
  BucketSet,
  bucketsFor,
  newWorkspace,
  parseTargeting,
  previewImpact,
  updateSegment,
  type Flag,
  type Segment,
  type Workspace,
} from '@allot/admin';

import { loadavg } from 'node:os';

import { median } from './interleave.js';

const quick = process.argv.includes('--quick');
/** Preview every flag and segment (`previewImpact` without `affectedOnly`), as validateOnly did before. */
const full = process.argv.includes('--full');
/** Leave out the rows of the whole-document gate (`applyOperation`'s `check: 'whole'`), kept to compare. */
const changesOnly = process.argv.includes('--changes-only');
const ROUNDS = quick ? 3 : 7;
const FAMILIES = 20;
const TAGGED_PROPORTION = 0.002;
const UNTAGGED_PROPORTION = 0.005;
const BUCKETS = 1_000_000;

/** mulberry32: seeded, so every run builds the same accounts. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(r: () => number, length = BUCKETS): Uint32Array {
  const a = new Uint32Array(length);
  for (let i = 0; i < length; i++) a[i] = i;
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** Aligned blocks of 16 buckets, as the block allocator places them. */
const BLOCK = 16;

/** The first `n` buckets of the blocks `blocks` lists. */
function inBlocks(blocks: ArrayLike<number>, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < n; i++) for (let j = 0; j < BLOCK && out.length < n; j++) out.push(blocks[i]! * BLOCK + j);
  return out;
}

/**
 * The account: `count` allocated segments, each used by an enabled A/B test of its own flag;
 * buckets scattered one by one (the uniform allocator's), or with `blocks` in aligned blocks
 * of 16 (the block allocator's, whose file is ten times smaller).
 */
export function account(count: number, blocks = false): Workspace {
  const r = random(count);
  const base = newWorkspace({ account: 'preview-bench', seed: 'preview-bench', clientSecret: 'secret' });
  const tagged = Math.round(count * 0.6);
  const perFamily = Math.ceil(tagged / FAMILIES);
  const families = Array.from({ length: FAMILIES }, () => (blocks ? shuffled(r, BUCKETS / BLOCK) : shuffled(r)));
  const taken = new Uint8Array(BUCKETS);
  const segments: Segment[] = [];
  const flags: Flag[] = [];
  for (let i = 0; i < count; i++) {
    const family = i < tagged ? i % FAMILIES : -1;
    const proportion = family >= 0 ? TAGGED_PROPORTION : UNTAGGED_PROPORTION;
    const n = bucketsFor(proportion);
    let buckets: BucketSet;
    if (family >= 0) {
      const slot = Math.floor(i / FAMILIES);
      if (slot >= perFamily) throw new Error('family overflow');
      if (blocks) {
        const per = Math.ceil(n / BLOCK);
        buckets = BucketSet.fromIndices(inBlocks(families[family]!.subarray(slot * per, slot * per + per), n));
      } else {
        buckets = BucketSet.fromIndices(families[family]!.subarray(slot * n, slot * n + n));
      }
    } else if (blocks) {
      taken.fill(0);
      const picked: number[] = [];
      while (picked.length < Math.ceil(n / BLOCK)) {
        const b = Math.floor(r() * (BUCKETS / BLOCK));
        if (taken[b] === 1) continue;
        taken[b] = 1;
        picked.push(b);
      }
      buckets = BucketSet.fromIndices(inBlocks(picked.sort((a, b) => a - b), n));
    } else {
      taken.fill(0);
      const picked: number[] = [];
      while (picked.length < n) {
        const b = Math.floor(r() * BUCKETS);
        if (taken[b] === 1) continue;
        taken[b] = 1;
        picked.push(b);
      }
      buckets = BucketSet.fromIndices(picked);
    }
    buckets.runsText(); // as a workspace read from its file holds them
    const tags = family >= 0 ? [`family-${family}`] : [];
    const id = `seg-${i}`;
    segments.push({
      id,
      displayName: id,
      targeting: parseTargeting(`country == C${i % 50}`, `segments.${id}.targeting`),
      proportion,
      exclusivityTags: tags,
      exclusiveTo: tags,
      state: 'ALLOCATED',
      buckets,
    });
    flags.push({
      id: `flag-${i}`,
      displayName: `flag-${i}`,
      state: 'ACTIVE',
      clients: [],
      variants: [
        { name: 'on', value: true },
        { name: 'off', value: false },
      ],
      rules: [
        {
          id: 'test',
          kind: 'ab-test',
          state: 'ENABLED',
          environments: [],
          sticky: { enabled: false, pausedIntake: false, ignoreTargetingForAssigned: false },
          audience: { kind: 'segment', segment: id },
          randomizationField: '',
          weights: [
            { variant: 'on', weight: 1 },
            { variant: 'off', weight: 1 },
          ],
        },
      ],
    });
  }
  // As the server holds it: a workspace read from its file, so checked once in full.
  const built: Workspace = { ...base, segments, flags };
  return applyOperation(built, (w) => updateSegment(w, 'seg-0', { displayName: 'first' }, ['displayName'])).workspace;
}

/** Which gate `applyOperation` runs: what the change touched (default), or the whole document as before. */
export type Gate = 'changes' | 'whole';

export interface Phases {
  gate: number;
  impact: number;
  json: number;
}

/** One preview of raising `segment` to `proportion`, as the server's validateOnly runs it. */
export function preview(before: Workspace, segment: string, proportion: number, everything = full, check: Gate = 'changes'): Phases {
  const t0 = performance.now();
  const out = applyOperation(before, (w) => updateSegment(w, segment, { proportion }, ['allocation.proportion']), { check });
  const t1 = performance.now();
  const impact = previewImpact(before, out.workspace, { affectedOnly: !everything });
  const t2 = performance.now();
  const body = JSON.stringify({ ...out.result, validateOnly: true, impact: { ...impact, conditions: impact.conditions.map((c) => ({ label: c.label, text: c.text })) } });
  const t3 = performance.now();
  if (body.length === 0) throw new Error('empty answer');
  return { gate: t1 - t0, impact: t2 - t1, json: t3 - t2 };
}

const ms = (x: number): string => `${x.toFixed(1)} ms`.padStart(11);

async function main(): Promise<void> {
  const sizes = [1_000, 10_000];
  const accounts = new Map<number, Workspace>();
  for (const n of sizes) {
    const t = performance.now();
    accounts.set(n, account(n));
    console.log(`built ${n} segments in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const changes = [
    { name: 'untagged 0.5% → 0.6%', segment: (n: number) => `seg-${n - 1}`, proportion: 0.006 },
    { name: 'tagged 0.2% → 0.25%', segment: () => 'seg-0', proportion: 0.0025 },
  ];
  const gates: Gate[] = changesOnly ? ['changes'] : ['changes', 'whole'];
  for (const change of changes) {
    const runs = new Map<string, Phases[]>();
    for (const gate of gates) for (const n of sizes) runs.set(`${gate} ${n}`, []);
    for (const gate of gates) for (const n of sizes) preview(accounts.get(n)!, change.segment(n), change.proportion, full, gate); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const gate of gates) {
        for (const n of sizes) runs.get(`${gate} ${n}`)!.push(preview(accounts.get(n)!, change.segment(n), change.proportion, full, gate));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    console.log(`\none validateOnly preview, ${change.name} (median of ${ROUNDS} rounds)`);
    console.log(`${'gate'.padEnd(9)}${'segments'.padEnd(10)}${'gate'.padStart(11)}${'impact'.padStart(11)}${'json'.padStart(11)}${'total'.padStart(11)}`);
    for (const gate of gates) {
      const totals = new Map<number, number>();
      for (const n of sizes) {
        const list = runs.get(`${gate} ${n}`)!;
        const total = median(list.map((p) => p.gate + p.impact + p.json));
        totals.set(n, total);
        console.log(`${gate.padEnd(9)}${String(n).padEnd(10)}${ms(median(list.map((p) => p.gate)))}${ms(median(list.map((p) => p.impact)))}${ms(median(list.map((p) => p.json)))}${ms(total)}`);
      }
      const ratio = totals.get(10_000)! / totals.get(1_000)!;
      console.log(`${gate.padEnd(9)}10,000 / 1,000: ${ratio.toFixed(1)}×   target ≤ 10×   ${ratio <= 10 ? 'ok' : 'MISSED'}`);
    }
  }
  console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(', ')}`);
}

// Run as a script; imported (to profile one size), only its functions.
if (process.argv[1]?.endsWith('preview.bench.js') === true) await main();
