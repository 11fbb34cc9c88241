/**
 * Issue 21's memory goal for the server: what `allot serve` holds with an account of 1,000 /
 * 3,000 / 10,000 allocated segments, each used by an enabled flag rule (target at 10k:
 * ≤ 100 MB), on the workspace file and on PostgreSQL (a private cluster started for the run).
 *
 * The account is scale-admin's: 60% of the segments in 20 coordinated tag families at 0.3%,
 * 40% untagged at 0.5%, placed by the block allocator; one flag per 5 segments with an
 * enabled A/B rule on each of them. Each row starts its own `allot serve` (the CLI's build)
 * with `--expose-gc` and a probe preloaded (`memory-probe.ts`: the server gains no route),
 * then exercises it as the apps and people do: `GET /v1/state`, a resolve, a watcher that
 * takes the whole state, one write (a new segment, which the watcher gets as a delta), and a
 * validateOnly preview (allocating it). Then, with the watcher still connected:
 *
 *   held  = heap used + array buffers after two forced collections (`process.memoryUsage()`),
 *           11 s after the exercise (the watch keeps a whole state's event pieces 10 s after
 *           a watcher last started it), and also at once ("just after");
 *   rss   = the process's resident set at that moment;
 *   per segment = (held − the same server's held on an empty workspace) / segments;
 *   the goal (≤ 100 MB at 10k) counts held less the empty server's, as the core and provider
 *   benches count the loaded state.
 *
 * With `--snapshot` (default at the largest size), a heap snapshot of the file-store row is
 * summarized: self bytes by constructor or kind, and the largest objects with who holds them.
 *
 * Run: pnpm --filter @allot/bench bench:server-memory [--quick] [--sizes 1000,10000]
 *   [--stores file,postgres] [--no-snapshot] [--snapshot-to FILE: keep the heap snapshot]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { addRule, allocateSegment, createFlag, createSegment, newWorkspace, serializeWorkspace, type Workspace } from '@allot/admin';
import { copyFileToDatabase } from '@allot/pg-store';
import { PgCluster, pgMissing } from '@allot/pg-store/testing';

import { summarizeHeap } from './heap-summary.js';

import { startServe } from './serve.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROBE = join(HERE, 'memory-probe.js');
const quick = process.argv.includes('--quick');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SIZES = arg('--sizes')?.split(',').map(Number) ?? (quick ? [1_000, 3_000] : [1_000, 3_000, 10_000]);
const STORES = (arg('--stores') ?? 'file,postgres').split(',') as ('file' | 'postgres')[];
const SNAPSHOT = !process.argv.includes('--no-snapshot');
/** Where to keep the heap snapshot (default: summarized, then deleted with the run's directory). */
const SNAPSHOT_TO = arg('--snapshot-to');
const FAMILIES = 20;
const MB = 2 ** 20;

/** scale-admin's account: every fifth segment in order 3 tagged (0.3%), 2 untagged (0.5%); a flag per 5 with a rule on each. */
function account(n: number): Workspace {
  let ws = newWorkspace({ account: 'scale', seed: 'scale-seed', clientSecret: 'secret' });
  for (let i = 0; i < n; i++) {
    const tagged = i % 5 < 3;
    const tags = tagged ? [`family-${Math.floor(i / 5) % FAMILIES}`] : [];
    ws = createSegment(ws, { id: `seg-${i}`, proportion: tagged ? 0.003 : 0.005, exclusivityTags: tags, exclusiveTo: tags }).workspace;
    ws = allocateSegment(ws, `seg-${i}`).workspace;
  }
  for (let f = 0; f < n / 5; f++) {
    ws = createFlag(ws, { id: `flag-${f}`, variants: [{ name: 'on', value: true }, { name: 'off', value: false }] }).workspace;
    for (let k = 0; k < 5; k++) {
      ws = addRule(ws, `flag-${f}`, { kind: 'ab-test', segment: `seg-${f * 5 + k}`, weights: [{ variant: 'on', weight: 1 }, { variant: 'off', weight: 1 }], enabled: true }).workspace;
    }
  }
  return ws;
}

interface Serve {
  readonly child: ChildProcess;
  readonly url: string;
  ask<T>(message: object): Promise<T>;
}

async function serve(store: string): Promise<Serve> {
  const { child, url } = await startServe(['--store', store], { nodeArgs: ['--expose-gc', '--import', PROBE], ipc: true });
  const ask = <T>(message: object): Promise<T> =>
    new Promise<T>((resolve) => {
      child.once('message', (m) => {
        resolve(m as T);
      });
      child.send(message);
    });
  return { child, url, ask };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function request(url: string, method: string, path: string, body?: unknown): Promise<string> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path} answered ${String(res.status)}: ${text.slice(0, 300)}`);
  return text;
}

/** A watcher reading the stream; `events` counts the events (blank-line ends) it has taken. */
class Watcher {
  events = 0;
  readonly abort = new AbortController();
  private readonly waiters: (() => void)[] = [];

  static async open(url: string): Promise<Watcher> {
    const w = new Watcher();
    const res = await fetch(`${url}/v1/state:watch`, { signal: w.abort.signal });
    void w.read(res.body!.getReader());
    return w;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let tail = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        tail += decoder.decode(value, { stream: true });
        for (let at = tail.indexOf('\n\n'); at >= 0; at = tail.indexOf('\n\n')) {
          if (tail.startsWith('event:')) this.events++;
          tail = tail.slice(at + 2);
        }
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      // aborted at the end of the row
    }
  }

  async until(events: number): Promise<void> {
    while (this.events < events) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

interface Row {
  /** Held right after the exercise, the whole-state event's pieces still kept. */
  readonly justMb: number;
  readonly heldMb: number;
  readonly heapMb: number;
  readonly buffersMb: number;
  readonly rssMb: number;
  readonly stateMb: number;
}

/** One server on `store`, exercised, then measured (and, with `snapshotPath`, its heap written there). */
async function row(store: string, segments: number, snapshotPath?: string): Promise<Row> {
  const s = await serve(store);
  const watchers: Watcher[] = [];
  try {
    const state = await request(s.url, 'GET', '/v1/state');
    if (segments > 0) {
      await request(s.url, 'POST', '/v1/flags:resolve', { flags: ['flags/flag-0'], evaluationContext: { targeting_key: 'user-1' } });
    }
    const watcher = await Watcher.open(s.url);
    watchers.push(watcher);
    await watcher.until(1);
    await request(s.url, 'POST', '/v1/segments?segmentId=one-more', { allocation: { proportion: 0.003, exclusivityTags: ['family-0'], exclusiveTo: ['family-0'] } });
    await watcher.until(2);
    await request(s.url, 'POST', '/v1/segments/one-more:allocate?validateOnly=true', {});
    const just = (await s.ask<{ memory: NodeJS.MemoryUsage }>({ measure: true })).memory;
    // The watch keeps a whole state's event pieces 10 s after a watcher last started it.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const { memory } = await s.ask<{ memory: NodeJS.MemoryUsage }>({ measure: true });
    if (snapshotPath !== undefined) await s.ask({ snapshot: snapshotPath });
    return {
      justMb: (just.heapUsed + just.arrayBuffers) / MB,
      heldMb: (memory.heapUsed + memory.arrayBuffers) / MB,
      heapMb: memory.heapUsed / MB,
      buffersMb: memory.arrayBuffers / MB,
      rssMb: memory.rss / MB,
      stateMb: Buffer.byteLength(state) / MB,
    };
  } finally {
    for (const w of watchers) w.abort.abort();
    await stop(s.child);
  }
}

function line(store: string, segments: number, r: Row, base: Row): string {
  const per = segments === 0 ? '' : (((r.heldMb - base.heldMb) * MB) / segments / 1024).toFixed(1);
  return [store.padEnd(9), String(segments).padStart(8), r.stateMb.toFixed(1).padStart(9), r.heapMb.toFixed(1).padStart(8), r.buffersMb.toFixed(1).padStart(8), r.heldMb.toFixed(1).padStart(8), r.justMb.toFixed(1).padStart(10), r.rssMb.toFixed(0).padStart(7), per.padStart(9)].join('  ');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'allot-server-memory-'));
  const cluster = STORES.includes('postgres') ? (pgMissing === null ? await PgCluster.start() : null) : null;
  if (STORES.includes('postgres') && cluster === null) console.log(`(no PostgreSQL rows: ${pgMissing ?? ''})`);
  const lines: string[] = [];
  let snapshotFile: string | null = null;
  try {
    for (const n of [0, ...SIZES]) {
      const t = performance.now();
      const file = join(dir, `allot-${String(n)}.yaml`);
      await writeFile(file, serializeWorkspace(account(n)));
      console.error(`  account of ${String(n)} segments built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      const stores: [string, string][] = [];
      if (STORES.includes('file')) stores.push(['file', file]);
      if (cluster !== null) {
        const db = await cluster.createDatabase(`mem${String(n)}`);
        await copyFileToDatabase(file, db);
        stores.push(['postgres', db]);
      }
      for (const [name, store] of stores) {
        const snap = SNAPSHOT && n === SIZES[SIZES.length - 1] && name === 'file' ? (SNAPSHOT_TO ?? join(dir, 'server.heapsnapshot')) : undefined;
        const r = await row(store, n, snap);
        if (snap !== undefined) snapshotFile = snap;
        lines.push(JSON.stringify({ name, n, r }));
      }
    }
  } finally {
    await cluster?.stop();
  }
  const rows = lines.map((l) => JSON.parse(l) as { name: string; n: number; r: Row });
  console.log('allot serve, exercised (state, resolve, a watcher, a write, a preview), then measured after two forced collections, 11 s later; MiB');
  console.log('(just after: measured at once, the whole-state event\'s pieces still kept for the next watchers)');
  console.log('store      segments  state MB   heap MB  buffers   held MB  just after  rss MB  KiB/segment (held less the empty server\'s)');
  for (const r of rows) {
    const base = rows.find((b) => b.name === r.name && b.n === 0)!.r;
    console.log(line(r.name, r.n, r.r, base));
  }
  // The goal counts what the loaded state holds, as the core and provider benches do: the
  // process's own (an empty workspace's server) is left out, and shown beside it.
  for (const r of rows.filter((x) => x.n === SIZES[SIZES.length - 1])) {
    const base = rows.find((b) => b.name === r.name && b.n === 0)!.r;
    const state = r.r.heldMb - base.heldMb;
    console.log(`  ${state <= 100 ? 'ok    ' : 'MISSED'} ${r.name} at ${String(r.n)}: the loaded state holds ${state.toFixed(1)} MB ≤ 100 (the whole process ${r.r.heldMb.toFixed(1)} MB, ${base.heldMb.toFixed(1)} of it an empty server's)`);
  }
  if (snapshotFile !== null) {
    const h = summarizeHeap(snapshotFile);
    console.log(`\nheap snapshot of the file-store server at ${String(SIZES[SIZES.length - 1])} segments (${(h.totalBytes / MB).toFixed(1)} MiB of nodes): self size by constructor or kind`);
    for (const k of h.byKind) console.log(`  ${(k.bytes / MB).toFixed(1).padStart(7)} MiB  ${String(k.count).padStart(9)}  ${k.kind}`);
    console.log('largest objects, and what holds them');
    for (const l of h.largest) console.log(`  ${(l.bytes / MB).toFixed(2).padStart(7)} MiB  ${l.what.slice(0, 40).padEnd(40)}  ${l.heldBy}`);
  }
  await rm(dir, { recursive: true, force: true });
}

await main();
