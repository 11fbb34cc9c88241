/**
 * Issue 21's memory and load targets: accounts of 1,000 / 3,000 / 10,000 allocated segments,
 * every one the segment of an enabled flag rule, loaded by core as it was before CompactBitset
 * (a 125,000-byte Uint8Array per segment: "plain") and as it is now ("compact"), in one run:
 *
 *   - memory held by the loaded state (V8 heap + ArrayBuffers, after gc(), the state's JSON
 *     text excluded: it is alive before and after);
 *   - loadState CPU time (the best of two loads, plain and compact in turn) and its 10k/1k ratio;
 *   - ns per resolve, rows interleaved, and bytes allocated per resolve.
 *
 * Accounts are generated here as the compiled-state JSON admin writes (map shape, base64 of
 * gzipped bitsets), not built with admin's allocator (70 s at 10k): 60% of the segments in 20
 * coordination families (disjoint within a family, 0.3% each, so that 300 fit at 10k), 40%
 * untagged at 0.5%; 20 rules per flag. Twice: with scattered random buckets (legacy
 * allocations) and with aligned blocks of 16 buckets (the allocator's runs).
 *
 * "plain" is core at the commit before CompactBitset (git archive + tsc into the temp dir,
 * once), so both are the code as shipped; `--baseline <rev>` picks another.
 *
 * Run: pnpm --filter @allot/bench bench:scale (node --expose-gc bench/dist/scale.bench.js [--quick])
 */
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

import * as compactCore from '@allot/core';
import { CompactBitset, HashPrefix, SEGMENT_BUCKETS } from '@allot/core';

import { interleavedCpuRates } from './interleave.js';

type Core = Pick<typeof compactCore, 'loadState' | 'resolveFlag'>;
type Layout = 'scattered' | 'runs';

const quick = process.argv.includes('--quick');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (pnpm bench:scale does)');
const MB = 1024 * 1024;
const SIZES = quick ? [1_000, 3_000] : [1_000, 3_000, 10_000];
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Core as of `--baseline` (default: the parent of the commit that added CompactBitset). */
async function plainCore(): Promise<Core> {
  const flag = process.argv.indexOf('--baseline');
  const git = (args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
  const added = git(['log', '--diff-filter=A', '--format=%H', '-1', '--', 'packages/core/src/state/compact-bitset.ts']);
  const rev = git(['rev-parse', flag > 0 ? process.argv[flag + 1]! : `${added}^`]);
  const dir = join(tmpdir(), `allot-core-${rev.slice(0, 12)}`);
  const entry = join(dir, 'packages', 'core', 'dist', 'index.js');
  if (!existsSync(entry)) {
    mkdirSync(dir, { recursive: true });
    execSync(`git archive ${rev} packages/core tsconfig.base.json | tar -x -C ${JSON.stringify(dir)}`, { cwd: repoRoot });
    const tsc = createRequire(join(repoRoot, 'package.json')).resolve('typescript/bin/tsc');
    // Emitted without type checking (outside the workspace, @types/node is not found; the
    // code was checked when it was committed).
    spawnSync(process.execPath, [tsc, '-p', join(dir, 'packages', 'core', 'tsconfig.json'), '--noCheck'], { stdio: 'ignore' });
    if (!existsSync(entry)) throw new Error(`could not build core at ${rev} in ${dir}`);
  }
  console.log(`plain: core at ${rev.slice(0, 10)} (built in ${dir})`);
  return (await import(pathToFileURL(entry).href)) as Core;
}

/** xorshift32. */
function random(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** `count` distinct picks of [0, n), in random order. */
function pick(n: number, count: number, rnd: () => number): Int32Array {
  const out = new Int32Array(count);
  if (count * 4 < n) {
    const taken = new Uint8Array(n);
    for (let i = 0; i < count; ) {
      const v = Math.floor(rnd() * n);
      if (taken[v] === 0) {
        taken[v] = 1;
        out[i++] = v;
      }
    }
    return out;
  }
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rnd() * (n - i));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  out.set(all.subarray(0, count));
  return out;
}

/** Bitset bytes of `buckets` buckets: scattered, or whole aligned blocks of 16 taken from `pool`. */
function allocationBytes(layout: Layout, pool: Int32Array): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_BUCKETS / 8);
  if (layout === 'scattered') for (const b of pool) bytes[b >> 3]! |= 1 << (b & 7);
  else for (const block of pool) bytes.fill(0xff, block * 2, block * 2 + 2);
  return bytes;
}

const TAGGED = 0.003;
const UNTAGGED = 0.005;
const RULES_PER_FLAG = 20;

/** An account of `n` allocated segments as compiled-state JSON (see the header). */
function account(n: number, layout: Layout, seed: number): string {
  const rnd = random(seed);
  const unit = layout === 'scattered' ? 1 : 16;
  const space = SEGMENT_BUCKETS / unit;
  const bitsets: Record<string, string> = {};
  const names: string[] = [];
  const tagged = Math.round(n * 0.6);
  const perFamily = Math.ceil(tagged / 20);
  const share = Math.round((TAGGED * SEGMENT_BUCKETS) / unit);
  for (let f = 0; f < 20; f++) {
    const members = Math.min(perFamily, tagged - f * perFamily);
    if (members <= 0) break;
    const order = pick(space, members * share, rnd); // disjoint within the family
    for (let k = 0; k < members; k++) {
      const name = `segments/t${f}-${k}`;
      bitsets[name] = gzipSync(allocationBytes(layout, order.subarray(k * share, (k + 1) * share))).toString('base64');
      names.push(name);
    }
  }
  for (let k = 0; names.length < n; k++) {
    const name = `segments/u${k}`;
    bitsets[name] = gzipSync(allocationBytes(layout, pick(space, Math.round((UNTAGGED * SEGMENT_BUCKETS) / unit), rnd))).toString('base64');
    names.push(name);
  }
  // Rules take segments in a shuffled order, so each flag mixes families and untagged ones.
  const order = pick(n, n, rnd);
  const flags: Record<string, unknown> = {};
  for (let f = 0; f * RULES_PER_FLAG < n; f++) {
    const rules = Array.from(order.subarray(f * RULES_PER_FLAG, (f + 1) * RULES_PER_FLAG), (s, r) => ({
      name: `flags/f${f}/rules/r${r}`,
      segment: names[s],
      enabled: true,
      assignmentSpec: {
        bucketCount: 2,
        assignments: [
          { assignmentId: 'on', variant: { variant: `flags/f${f}/variants/on` }, bucketRanges: [{ lower: 0, upper: 1 }] },
          { assignmentId: 'off', variant: { variant: `flags/f${f}/variants/off` }, bucketRanges: [{ lower: 1, upper: 2 }] },
        ],
      },
    }));
    flags[`flags/f${f}`] = {
      name: `flags/f${f}`,
      state: 'ACTIVE',
      clients: ['clients/app'],
      variants: [
        { name: `flags/f${f}/variants/on`, value: { on: true } },
        { name: `flags/f${f}/variants/off`, value: { on: false } },
      ],
      rules,
    };
  }
  return JSON.stringify({
    account: { name: 'accounts/scale' },
    segments: Object.fromEntries(names.map((name) => [name, { name }])),
    bitsets,
    flags,
    clients: { s: { client: { name: 'clients/app' }, clientCredential: { name: 'clients/app/clientCredentials/k' } } },
  });
}

function heldBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Loaded {
  readonly heldMB: number;
  readonly loadS: number;
}

/** Where a measured state is kept alive while the memory it holds is measured. */
let keep: unknown = null;

/** Memory held by `core`'s state of `text`, and the time its load took. */
function measureLoad(core: Core, text: string): Loaded {
  keep = null;
  gc!();
  gc!();
  const before = heldBytes();
  // CPU time of the process (every thread: the collector's included), not wall time: other
  // processes on a shared machine do not count.
  const t0 = process.cpuUsage();
  keep = core.loadState(text);
  const used = process.cpuUsage(t0);
  const loadS = (used.user + used.system) / 1e6;
  gc!();
  gc!();
  const held = heldBytes() - before;
  if (keep === null) throw new Error('the state was not kept');
  keep = null;
  return { heldMB: held / MB, loadS };
}

/** Each core's state of `text`, loaded in turn twice (plain, compact, plain, compact): the best time of each. */
function measureLoads(cores: readonly (readonly [string, Core])[], text: string): Map<string, Loaded> {
  const out = new Map<string, Loaded>();
  for (let run = 0; run < 2; run++) {
    for (const [name, core] of cores) {
      const m = measureLoad(core, text);
      const best = out.get(name);
      out.set(name, best === undefined || m.loadS < best.loadS ? m : { ...best, heldMB: m.heldMB });
    }
  }
  return out;
}

const UNITS = Array.from({ length: 100_000 }, (_, i) => JSON.parse(JSON.stringify({ targeting_key: `user-${i}-${(i * 2654435761) >>> 0}`, country: ['SE', 'NO', 'DK'][i % 3], age: 10 + (i % 70) })) as Record<string, unknown>);
const BATCH = 1_000;

/** A row resolving `flag` of `state` in `core` for 1,000 distinct contexts per call. */
function row(name: string, core: Core, state: ReturnType<Core['loadState']>, flag: string): { name: string; fn: () => void } {
  const client = state.client('s')!;
  const compiled = state.flag(flag)!;
  let i = 0;
  let sink = 0;
  return {
    name,
    fn: () => {
      for (let n = 0; n < BATCH; n++) {
        if (core.resolveFlag(state, client, compiled, UNITS[i]!).variant !== '') sink++;
        i = i + 1 === UNITS.length ? 0 : i + 1;
      }
      if (sink < 0) console.log(sink);
    },
  };
}

/**
 * Heap growth per resolve over 200,000 resolves with no gc in between: 0 when nothing is
 * allocated (an allocation is at least 16 bytes; a few bytes is the measure's own noise).
 */
function bytesPerResolve(r: { fn: () => void }): number {
  for (let k = 0; k < 20; k++) r.fn();
  gc!();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < 200; k++) r.fn();
  return Math.max(0, (process.memoryUsage().heapUsed - before) / (200 * BATCH));
}

/** The README path's state (core.bench's flag a: two conditions, 50/50 on a full segment) and a 10% bitset. */
function readmeState(): string {
  const targeting = {
    criteria: {
      nordic: { attribute: { attributeName: 'country', setRule: { values: [{ stringValue: 'SE' }, { stringValue: 'NO' }] } } },
      adult: { attribute: { attributeName: 'age', rangeRule: { startInclusive: { numberValue: 18 } } } },
    },
    expression: { and: { operands: [{ ref: 'nordic' }, { ref: 'adult' }] } },
  };
  const split = (flag: string, segment: string): unknown => ({
    name: `flags/${flag}/rules/split`,
    segment: `segments/${segment}`,
    enabled: true,
    targetingKeySelector: 'targeting_key',
    assignmentSpec: {
      bucketCount: 1000,
      assignments: [
        { assignmentId: 'on', variant: { variant: 'on' }, bucketRanges: [{ lower: 0, upper: 500 }] },
        { assignmentId: 'off', variant: { variant: 'off' }, bucketRanges: [{ lower: 500, upper: 1000 }] },
      ],
    },
  });
  const prefix = new HashPrefix('allocation|');
  const ten: number[] = [];
  for (let i = 0; i < SEGMENT_BUCKETS; i++) if (prefix.bucket(String(i), 10) === 0) ten.push(i);
  const variants = [{ name: 'on', value: { enabled: true } }, { name: 'off', value: { enabled: false } }];
  return JSON.stringify({
    account: { name: 'accounts/bench' },
    clients: { s: { client: { name: 'clients/c' }, clientCredential: { name: 'clients/c/credentials/x' } } },
    segments: { 'segments/full': { targeting }, 'segments/ten': { targeting } },
    bitsets: { 'segments/full': 'ALL', 'segments/ten': ten },
    flags: {
      'flags/a': { name: 'flags/a', state: 'ACTIVE', clients: ['clients/c'], variants, rules: [split('a', 'full')] },
      'flags/b': { name: 'flags/b', state: 'ACTIVE', clients: ['clients/c'], variants, rules: [split('b', 'ten')] },
    },
  });
}

function perShape(): void {
  console.log('\nbytes per segment held by CompactBitset (its region), by allocation (plain: 125,000)');
  console.log(`${'proportion'.padEnd(12)}${'scattered'.padStart(12)}${'blocks of 16'.padStart(14)}${'gzip (scattered)'.padStart(18)}`);
  const rnd = random(99);
  for (const p of [0.001, 0.003, 0.005, 0.01, 0.05, 0.5]) {
    const scattered = pick(SEGMENT_BUCKETS, Math.round(p * SEGMENT_BUCKETS), rnd);
    const blocks = pick(SEGMENT_BUCKETS / 16, Math.round((p * SEGMENT_BUCKETS) / 16), rnd);
    const a = CompactBitset.fromBuckets(scattered);
    const b = CompactBitset.fromBuckets(Array.from(blocks).flatMap((q) => Array.from({ length: 16 }, (_, i) => q * 16 + i)));
    const gz = gzipSync(allocationBytes('scattered', scattered)).length;
    console.log(`${`${(p * 100).toFixed(1)}%`.padEnd(12)}${a.byteLength.toLocaleString('en').padStart(12)}${b.byteLength.toLocaleString('en').padStart(14)}${gz.toLocaleString('en').padStart(18)}`);
  }
}

async function main(): Promise<void> {
  const plain = await plainCore();
  const cores: [string, Core][] = [['plain', plain], ['compact', compactCore]];
  perShape();

  const results = new Map<string, Loaded>();
  let resolveRows: { name: string; fn: () => void }[] = [];
  for (const layout of ['scattered', 'runs'] as const) {
    console.log(`\naccounts with ${layout === 'scattered' ? 'scattered random buckets (legacy allocations)' : 'aligned blocks of 16 buckets (new allocations)'}`);
    console.log(`${'segments'.padEnd(10)}${'JSON'.padStart(9)}${'plain MB'.padStart(11)}${'compact MB'.padStart(12)}${'KB/seg'.padStart(9)}${'plain CPU'.padStart(12)}${'compact CPU'.padStart(14)}`);
    for (const n of SIZES) {
      const t0 = performance.now();
      const text = account(n, layout, n);
      const built = (performance.now() - t0) / 1000;
      for (const [name, loaded] of measureLoads(cores, text)) results.set(`${layout}/${n}/${name}`, loaded);
      const p = results.get(`${layout}/${n}/plain`)!;
      const c = results.get(`${layout}/${n}/compact`)!;
      console.log(`${String(n).padEnd(10)}${`${(text.length / MB).toFixed(1)} MB`.padStart(9)}${p.heldMB.toFixed(1).padStart(11)}${c.heldMB.toFixed(1).padStart(12)}${((c.heldMB * 1024) / n).toFixed(1).padStart(9)}${`${p.loadS.toFixed(2)} s`.padStart(12)}${`${c.loadS.toFixed(2)} s`.padStart(14)}    (generated in ${built.toFixed(1)} s)`);
      if (n === SIZES[SIZES.length - 1] && layout === 'scattered') {
        // Resolve rows on the largest account: a flag whose 20 rules are sparse segments.
        for (const [name, core] of cores) resolveRows.push(row(`${name}: ${n} segments, 20 sparse rules`, core, core.loadState(text), 'flags/f0'));
      }
    }
    const first = SIZES[0]!;
    const last = SIZES[SIZES.length - 1]!;
    for (const [name] of cores) {
      const ratio = results.get(`${layout}/${last}/${name}`)!.loadS / results.get(`${layout}/${first}/${name}`)!.loadS;
      console.log(`  ${name}: loadState ${last / 1000}k/${first / 1000}k = ${ratio.toFixed(1)} (target <= ${((last / first) * 1.1).toFixed(0)})`);
    }
  }

  const readme = readmeState();
  for (const [name, core] of cores) {
    const state = core.loadState(readme);
    resolveRows = [row(`${name}: README path (full segment)`, core, state, 'flags/a'), row(`${name}: 10% bitset`, core, state, 'flags/b'), ...resolveRows];
  }
  resolveRows.sort((a, b) => a.name.split(': ')[1]!.localeCompare(b.name.split(': ')[1]!));
  const rates = interleavedCpuRates(resolveRows, { rounds: quick ? 3 : 7, timeMs: quick ? 150 : 400, batch: BATCH });
  console.log(`\nresolve, rows interleaved (median of ${quick ? 3 : 7} rounds, per on-CPU second; 100,000 distinct units cycled)`);
  console.log(`${'row'.padEnd(44)}${'ns/resolve'.padStart(12)}${'B/resolve'.padStart(11)}${'compact/plain'.padStart(15)}`);
  for (const r of resolveRows) {
    const ns = 1e9 / rates.get(r.name)!;
    const [core, what] = r.name.split(': ');
    const other = 1e9 / rates.get(`plain: ${what!}`)!;
    console.log(`${r.name.padEnd(44)}${ns.toFixed(1).padStart(12)}${bytesPerResolve(r).toFixed(1).padStart(11)}${core === 'compact' ? `${(ns / other).toFixed(2)}x`.padStart(15) : ''}`);
  }
}

await main();
