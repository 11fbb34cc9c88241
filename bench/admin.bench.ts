/**
 * The control plane's speed (issue 3's targets):
 *
 *   (a) allocating one more 1% segment among 200 allocated segments that all conflict with
 *       it (< 100 ms): the pure operation on an in-memory workspace, with the bitsets cold
 *       (just parsed) and warm (decoded once), and the whole `WorkspaceFile.update` (lock,
 *       read, parse with full consistency check, allocate, serialize, atomic write);
 *   (b) a workspace of 1,000 allocated segments compiles and loads in core (< 2 s, < 150 MB
 *       of heap), also parsed from its file.
 *
 * Run: pnpm --filter @allot/bench bench:admin (or node --expose-gc bench/dist/admin.bench.js [--quick])
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Bench } from 'tinybench';

import {
  allocateSegment,
  archiveSegment,
  compile,
  createSegment,
  newWorkspace,
  parseWorkspace,
  serializeWorkspace,
  WorkspaceFile,
  type Workspace,
} from '@allot/admin';
import { loadState } from '@allot/core';

const quick = process.argv.includes('--quick');
const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;

function line(name: string, value: string, target: string, pass: boolean): void {
  console.log(`${name.padEnd(58)}${value.padStart(14)}   target ${target.padEnd(10)} ${pass ? 'ok' : 'MISSED'}`);
}

/** `count` segments allocated at `proportion`, all tagged and exclusive to `tag` (or untagged). */
function workspaceWith(count: number, proportion: number, tagOf: (i: number) => string | null): Workspace {
  let ws = newWorkspace({ account: 'bench', seed: 'bench-seed', clientSecret: 'secret' });
  for (let i = 0; i < count; i++) {
    const tag = tagOf(i);
    const tags = tag === null ? [] : [tag];
    ws = createSegment(ws, { id: `seg-${i}`, proportion, exclusivityTags: tags, exclusiveTo: tags }).workspace;
    ws = allocateSegment(ws, `seg-${i}`).workspace;
  }
  return ws;
}

async function allocation(): Promise<void> {
  console.log('\n(a) allocate one more 1% segment among 200 allocated conflicting segments (0.4% each)');
  const base = createSegment(workspaceWith(200, 0.004, () => 'ranking'), {
    id: 'one-more',
    proportion: 0.01,
    exclusivityTags: ['ranking'],
    exclusiveTo: ['ranking'],
  }).workspace;
  const text = serializeWorkspace(base);

  const bench = new Bench({ time: quick ? 300 : 1500, warmupTime: 100 });
  let cold = parseWorkspace(text);
  bench.add(
    'allocate, bitsets cold (parsed, not yet decoded)',
    () => {
      allocateSegment(cold, 'one-more');
    },
    {
      beforeEach() {
        cold = parseWorkspace(text);
      },
    },
  );
  const warm = parseWorkspace(text);
  allocateSegment(warm, 'one-more');
  bench.add('allocate, bitsets warm (decoded once before)', () => {
    allocateSegment(warm, 'one-more');
  });
  bench.add('allocate + serialize (gzip the new bitset)', () => {
    serializeWorkspace(allocateSegment(warm, 'one-more').workspace);
  });
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'));
  const file = new WorkspaceFile(join(dir, 'ws.yaml'));
  bench.add(
    'WorkspaceFile.update: lock, parse + check, allocate, write',
    async () => {
      await file.update((ws) => allocateSegment(ws, 'one-more'));
    },
    {
      beforeEach() {
        writeFileSync(file.path, text);
      },
    },
  );
  const jsonFile = new WorkspaceFile(join(dir, 'ws.json'));
  const jsonText = serializeWorkspace(base, 'json');
  bench.add(
    'WorkspaceFile.update, the same as a JSON workspace',
    async () => {
      await jsonFile.update((ws) => allocateSegment(ws, 'one-more'));
    },
    {
      beforeEach() {
        writeFileSync(jsonFile.path, jsonText);
      },
    },
  );
  await bench.run();
  for (const t of bench.tasks) {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    const ms = r.latency.p50;
    const whole = t.name.startsWith('WorkspaceFile');
    line(t.name, `${ms.toFixed(1)} ms p50`, whole ? '-' : '< 100 ms', whole || ms < 100);
  }
  rmSync(dir, { recursive: true, force: true });
}

function compileAndLoad(): void {
  const count = quick ? 300 : 1000;
  console.log(`\n(b) ${count} allocated segments (20 coordination groups of 1%-each segments, plus untagged ones)`);
  const started = performance.now();
  // 600 in 20 groups of 30 (1% each), 400 untagged (0.5% each): a mix of sparse bitsets.
  let ws = workspaceWith(Math.round(count * 0.6), 0.01, (i) => `group-${i % 20}`);
  for (let i = 0; i < Math.round(count * 0.4); i++) {
    ws = createSegment(ws, { id: `free-${i}`, proportion: 0.005 }).workspace;
    ws = allocateSegment(ws, `free-${i}`).workspace;
  }
  ws = archiveSegment(ws, 'seg-0').workspace; // one archived in the mix
  const text = serializeWorkspace(ws);
  const built = (performance.now() - started) / 1000;
  console.log(`    (built in ${built.toFixed(1)} s; workspace file ${(text.length / MB).toFixed(1)} MB)`);

  // Measure from a freshly parsed workspace whose bitsets have been released.
  gc?.();
  const t0 = performance.now();
  const parsed = parseWorkspace(text);
  const t1 = performance.now();
  gc?.();
  const before = process.memoryUsage();
  const t2 = performance.now();
  const stateText = compile(parsed);
  const t3 = performance.now();
  const state = loadState(stateText);
  const t4 = performance.now();
  const after = process.memoryUsage();
  const heap = (after.heapUsed - before.heapUsed) / MB;
  const buffers = (after.arrayBuffers - before.arrayBuffers) / MB;
  line('parse the workspace file (decodes and checks every bitset)', `${((t1 - t0) / 1000).toFixed(2)} s`, '-', true);
  line('compile', `${((t3 - t2) / 1000).toFixed(2)} s`, '-', true);
  line('loadState (core)', `${((t4 - t3) / 1000).toFixed(2)} s`, '-', true);
  line('compile + load', `${((t4 - t2) / 1000).toFixed(2)} s`, '< 2 s', t4 - t2 < 2000);
  line('heap used by compile + load (V8 heap, incl. state JSON)', `${heap.toFixed(0)} MB`, '< 150 MB', heap < 150);
  line('array buffers held by the loaded state (bitsets)', `${buffers.toFixed(0)} MB`, '-', true);
  console.log(`    (state: ${(stateText.length / MB).toFixed(1)} MB of JSON, ${state.summary().segmentsWithBitsets} segments with bitsets)`);
}

await allocation();
compileAndLoad();
if (gc === undefined) console.log('\n(run with --expose-gc for steadier heap numbers)');
