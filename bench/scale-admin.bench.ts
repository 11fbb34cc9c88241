/**
 * Issue 21's files and allocation at scale: accounts of 1,000 / 3,000 / 10,000 allocated
 * segments (60% in 20 coordinated tag families at 0.3%, 40% untagged at 0.5%), placed by
 * today's uniform allocator (scattered buckets, stored as a gzipped bitset) and by the block
 * allocator (aligned blocks of 16, stored as runs), side by side in one run:
 *
 *   - workspace file MB and compiled state MB (targets at 10k: both ≤ 25 MB);
 *   - parse time and its 10k / 1k ratio (target ≤ 11: linear);
 *   - time to allocate one more 0.3% segment in a family (conflicting with 3% of the
 *     segments) and its 10k / 1k ratio (target ≤ 3: sublinear).
 *
 * "Uniform" sets are drawn as the uniform allocator drew them (every free bucket equally
 * likely); its one-more allocation is that allocator's algorithm (OR every conflicting
 * segment's 31,250 words, list the free buckets, partial Fisher–Yates), timed on decoded
 * words. "Blocks" is `allocateSegment` itself.
 *
 * Run: pnpm --filter @allot/bench bench:scale-admin (or node bench/dist/scale-admin.bench.js [--quick])
 */
import { gzipSync } from 'node:zlib';

import { allocateSegment, BucketSet, compile, createSegment, newWorkspace, parseWorkspace, serializeWorkspace, type Workspace } from '@allot/admin';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [1000, 3000] : [1000, 3000, 10_000];
const FAMILIES = 20;
const MB = 1e6;
const BUCKETS = 1_000_000;
const WORDS = BUCKETS / 32;

/** xorshift32: the bench's own randomness for the uniform sets. */
function generator(seed: number): (n: number) => number {
  let x = seed | 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

interface Shape {
  readonly id: string;
  readonly proportion: number;
  readonly family: number | null;
}

/** The issue's account: every fifth of the segments in order, 3 tagged, 2 untagged. */
function shape(n: number): Shape[] {
  return Array.from({ length: n }, (_, i) => {
    const tagged = i % 5 < 3;
    return { id: `seg-${i}`, proportion: tagged ? 0.003 : 0.005, family: tagged ? Math.floor(i / 5) % FAMILIES : null };
  });
}

function tags(s: Shape): string[] {
  return s.family === null ? [] : [`family-${s.family}`];
}

/** The block allocator's workspace: every segment created and allocated in order. */
function blockWorkspace(segments: readonly Shape[]): Workspace {
  let ws = newWorkspace({ account: 'scale', seed: 'scale-seed', clientSecret: 'secret' });
  for (const s of segments) {
    ws = createSegment(ws, { id: s.id, proportion: s.proportion, exclusivityTags: tags(s), exclusiveTo: tags(s) }).workspace;
    ws = allocateSegment(ws, s.id).workspace;
  }
  return ws;
}

/** The same account as the uniform allocator placed it: scattered buckets, disjoint per family. */
function uniformWorkspace(segments: readonly Shape[]): Workspace {
  const random = generator(21);
  const familyTaken = Array.from({ length: FAMILIES }, () => new Uint8Array(BUCKETS));
  let ws = newWorkspace({ account: 'scale', seed: 'scale-seed', clientSecret: 'secret' });
  const sets = new Map<string, BucketSet>();
  for (const s of segments) {
    ws = createSegment(ws, { id: s.id, proportion: s.proportion, exclusivityTags: tags(s), exclusiveTo: tags(s) }).workspace;
    const taken = s.family === null ? new Uint8Array(BUCKETS) : familyTaken[s.family]!;
    const chosen: number[] = [];
    while (chosen.length < Math.round(s.proportion * BUCKETS)) {
      const b = random(BUCKETS);
      if (taken[b] === 0) {
        taken[b] = 1;
        chosen.push(b);
      }
    }
    sets.set(s.id, BucketSet.fromIndices(chosen));
  }
  return { ...ws, segments: ws.segments.map((seg) => ({ ...seg, state: 'ALLOCATED' as const, buckets: sets.get(seg.id)! })) };
}

/** The workspace file as today's code writes it: each set as `bitset`, base64 of gzip level 6. */
function legacyText(ws: Workspace): string {
  const lines = serializeWorkspace(ws).split('\n');
  const out: string[] = [];
  let next = 0;
  const allocated = ws.segments.filter((s) => s.buckets !== null);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '      runs: |-') {
      out.push(lines[i]!);
      continue;
    }
    out.push(`      bitset: ${gzipSync(allocated[next++]!.buckets!.bytes(), { level: 6 }).toString('base64')}`);
    while (lines[i + 1]?.startsWith('        ') === true) i++;
  }
  return out.join('\n');
}

/** Today's allocator for one more segment: OR the conflicting words, list free buckets, pick. */
function uniformPlace(conflicting: readonly Uint32Array[], k: number): Uint32Array {
  const words = new Uint32Array(WORDS);
  for (const w of conflicting) for (let i = 0; i < WORDS; i++) words[i]! |= w[i]!;
  const list = new Int32Array(BUCKETS);
  let n = 0;
  for (let i = 0; i < WORDS; i++) {
    let w = ~words[i]!;
    while (w !== 0) {
      const low = w & -w;
      list[n++] = (i << 5) + 31 - Math.clz32(low);
      w ^= low;
    }
  }
  const random = generator(7);
  const out = new Uint32Array(WORDS);
  for (let j = 0; j < k; j++) {
    const r = j + random(n - j);
    const chosen = list[r]!;
    list[r] = list[j]!;
    list[j] = chosen;
    out[chosen >>> 5]! |= 1 << (chosen & 31);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(f: () => void, rounds: number): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return median(times);
}

interface Row {
  readonly n: number;
  readonly file: number;
  readonly compiled: number;
  readonly parse: number;
  readonly oneMore: number;
  readonly build?: number;
}

interface Timings {
  readonly parse: number;
  readonly oneMore: number;
}

/** Parse and one-more times per size, in rounds that visit every size in turn (medians). */
function rounds(n: number, parse: (i: number) => void, oneMore: (i: number) => void): Timings[] {
  const p = Array.from({ length: n }, () => [] as number[]);
  const o = Array.from({ length: n }, () => [] as number[]);
  for (let round = 0; round < 3; round++) for (let i = 0; i < n; i++) p[i]!.push(timed(() => { parse(i); }, 1));
  for (let round = 0; round < 15; round++) for (let i = 0; i < n; i++) o[i]!.push(timed(() => { oneMore(i); }, 1));
  return p.map((_, i) => ({ parse: median(p[i]!), oneMore: median(o[i]!) }));
}

/**
 * Each allocator in a phase of its own, every size built first, the phases one after the
 * other in one process: the uniform accounts (100 MB of text, 300 decoded bitsets at 10k)
 * are dropped before the block phase, so neither phase's timings pay for the other's heap.
 */
function measure(): { uniform: Row[]; blocks: Row[] } {
  const uniform = ((): Row[] => {
    const built = SIZES.map((n) => {
      const segments = shape(n);
      const u = uniformWorkspace(segments);
      const text = legacyText(u);
      const words = segments.filter((s) => s.family === 0).map((s) => u.segments.find((x) => x.id === s.id)!.buckets!.words());
      const row = { n, file: Buffer.byteLength(text) / MB, compiled: Buffer.byteLength(compileLegacy(u)) / MB };
      console.log(`  ${n} segments placed by the uniform allocator`);
      return { text, words, row };
    });
    const t = rounds(built.length, (i) => parseWorkspace(built[i]!.text), (i) => uniformPlace(built[i]!.words, 3000));
    return built.map((b, i) => ({ ...b.row, ...t[i]! }));
  })();
  const blocks = ((): Row[] => {
    const built = SIZES.map((n) => {
      const t0 = performance.now();
      const b = blockWorkspace(shape(n));
      const build = (performance.now() - t0) / 1000;
      const text = serializeWorkspace(b);
      const withExtra = createSegment(b, { id: 'one-more', proportion: 0.003, exclusivityTags: ['family-0'], exclusiveTo: ['family-0'] }).workspace;
      allocateSegment(withExtra, 'one-more'); // its conflicting sets decoded, as after any operation
      console.log(`  ${n} segments placed by the block allocator in ${build.toFixed(1)} s`);
      return { text, withExtra, row: { n, file: Buffer.byteLength(text) / MB, compiled: Buffer.byteLength(compile(b)) / MB, build } };
    });
    const t = rounds(built.length, (i) => parseWorkspace(built[i]!.text), (i) => allocateSegment(built[i]!.withExtra, 'one-more'));
    return built.map((b, i) => ({ ...b.row, ...t[i]! }));
  })();
  return { uniform, blocks };
}

/** The compiled state as today's code wrote it: the same, with bitsets gzipped at level 6. */
function compileLegacy(ws: Workspace): string {
  const state = JSON.parse(compile(ws)) as { bitsets: Record<string, unknown> };
  for (const s of ws.segments) {
    if (s.buckets !== null) state.bitsets[`segments/${s.id}`] = gzipSync(s.buckets.bytes(), { level: 6 }).toString('base64');
  }
  return `${JSON.stringify(state, null, 2)}\n`;
}

function report(name: string, rows: readonly Row[]): void {
  console.log(`\n${name}`);
  console.log(`${'segments'.padStart(10)}${'file MB'.padStart(10)}${'state MB'.padStart(10)}${'parse s'.padStart(10)}${'one more ms'.padStart(14)}`);
  for (const r of rows) {
    console.log(`${String(r.n).padStart(10)}${r.file.toFixed(1).padStart(10)}${r.compiled.toFixed(1).padStart(10)}${(r.parse / 1000).toFixed(2).padStart(10)}${r.oneMore.toFixed(2).padStart(14)}`);
  }
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const x = last.n / first.n;
  if (rows[0]!.build !== undefined) console.log(`  building the accounts (every allocation in order): ${rows.map((r) => `${r.build!.toFixed(1)} s`).join(' / ')}`);
  console.log(`  ${last.n / 1000}k / ${first.n / 1000}k: parse ×${(last.parse / first.parse).toFixed(1)}, one more ×${(last.oneMore / first.oneMore).toFixed(1)} (segments ×${x})`);
}

const { uniform, blocks } = measure();
report('uniform allocator, gzipped bitsets (today)', uniform);
report('block allocator, runs (new)', blocks);
const last = blocks[blocks.length - 1]!;
const first = blocks[0]!;
const checks: [string, boolean][] = [
  [`workspace file at ${last.n}: ${last.file.toFixed(1)} MB ≤ 25`, last.file <= 25],
  [`compiled state at ${last.n}: ${last.compiled.toFixed(1)} MB ≤ 25`, last.compiled <= 25],
  [`parse ${last.n / first.n}× the segments: ×${(last.parse / first.parse).toFixed(1)} ≤ 11`, last.parse / first.parse <= 11],
  [`one more conflicting allocation: ×${(last.oneMore / first.oneMore).toFixed(1)} ≤ 3`, last.oneMore / first.oneMore <= 3],
];
console.log('');
for (const [what, ok] of checks) console.log(`  ${ok ? 'ok    ' : 'MISSED'} ${what}`);
