/**
 * How long a state load stalls the application's event loop (issue 21, "No stall"): a
 * provider whose source holds a state of 1k / 3k / 10k segments is reloaded while the main
 * loop is measured two ways: `perf_hooks.monitorEventLoopDelay({ resolution: 1 })` (max, p99)
 * and a 1 ms interval timer (the longest gap between two ticks, less its 1 ms, and how many
 * gaps per reload were over 20 ms). Rows side by side, each in a process of its own:
 *
 *   file main     `fileSource`, `offThread: false`: read, parse, validate and compile on the app's thread (the path before the loader)
 *   file          `fileSource`, the default: a worker reads, parses, validates and prepares; the app's thread assembles in slices
 *   http          `httpSource` polling `GET /v1/state` of a real `allot serve` (another process) every 100 ms; a reload is the workspace file replaced
 *   watch state   `watchSource` over two `allot serve` instances serving the two revisions: a reload stops the one streamed
 *                 from, and the other sends the whole state (a `reset`: it does not know the id applied)
 *   watch delta   `watchSource` on one instance whose workspace file is replaced: the server pushes a delta (one segment retargeted)
 *   idle          nothing loading, measured as long as the worker's swap took: the machine's own noise
 *
 * On Linux, each gap is also split by the app's thread's scheduler statistics: `waiting` is
 * how many of the gaps over 20 ms (per reload) the thread spent mostly runnable but waiting
 * for a CPU (held by the loader's worker, V8's collector threads or the bench's servers: on
 * 2 cores they compete), and `own turn` the most CPU the thread itself used between two ticks
 * (its longest turn: a slice of assembly, or a collection in it). `gc pause` is the app's
 * isolate's own longest collection pause (a `PerformanceObserver` on `gc` entries), with its
 * kind: `minor` (a scavenge), `major` (a mark-compact's pause), `incr` (an incremental marking
 * step), `weak` (weak callbacks). An own turn about as long as the pause is that collection;
 * the pause includes no wait for a CPU only if its helper threads got one. `gc total` is all
 * of the isolate's pauses in a reload, summed (the mean of the reloads): the collector's
 * share of the app's thread, which follows how much the assembly builds there.
 *
 * `--serving N` makes N evaluations every millisecond throughout, as an app serving requests
 * does (the default, 0, is an idle app: nothing else allocates, so V8 collects differently);
 * every one must answer, from the previous state until the new one is swapped in.
 *
 * Also: the time from the reload's cause (a rename, a server stopped) to
 * `PROVIDER_CONFIGURATION_CHANGED` (swap), and the memory the loaded state holds (heap +
 * V8's external memory, after gc, less the baseline). External memory, not
 * `process.memoryUsage().arrayBuffers`: that counts a buffer in the thread that allocated it,
 * so the bitsets and the kept JSON the loader's worker allocates and transfers here (tens of
 * MB at 10,000 segments) would not be counted at all.
 *
 * States are compiled-state JSON generated here, in the shape `@allot/admin` compiles to
 * (segments keyed by name, bitsets as base64 gzip): each segment has a one-criterion
 * audience and an allocation, half scattered (2,000 random buckets, as the allocator picks
 * them) and half blocks of 16 buckets (1%); one flag per 5 segments, a rule on each.
 *
 * The servers serve workspaces of the same account authored through `@allot/admin`
 * (`generated-workspace.ts`; their compiled states are smaller: allocations are stored as runs).
 * Authoring 10,000 segments takes minutes: the documents are kept in the temporary
 * directory's `allot-reload-bench-workspaces` and reused.
 *
 * Run: pnpm --filter @allot/bench bench:reload [--quick] [--sizes 1000,3000,10000]
 *   [--rows file-main,file,http,watch-state,watch-delta,idle] [--reloads N] [--serving N] [--servers-nice idle|N] [--servers-cpus LIST|any] [--helpers-nice N]
 *   (node --cpu-prof or --trace-gc on a row: run it alone with --row NAME --dir DIR --size N;
 *   --windows prints when each measure ran, on performance.now()'s clock; --gaps splits each gap over 15 ms)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, linkSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, type NodeGCPerformanceDetail, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

import { AllotProvider, fileSource, httpSource, watchSource, type StateSource } from '@allot/openfeature-provider';
import { ProviderEvents } from '@openfeature/server-sdk';
import { SECRET, stateText } from './generated-state.js';
import { WORKSPACE_SECRET, workspaceTexts } from './generated-workspace.js';

import { startServe } from './serve.js';

const quick = process.argv.includes('--quick');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SIZES = arg('--sizes')?.split(',').map(Number) ?? (quick ? [1_000, 3_000] : [1_000, 3_000, 10_000]);
const RELOADS = Number(arg('--reloads') ?? (quick ? 2 : 3));
/** Evaluations per millisecond the app makes while it runs (`--serving N`): an app serving requests allocates, an idle one does not, and V8 collects differently. */
const SERVING = Number(arg('--serving') ?? '0');
const ROW_NAMES = ['file-main', 'file', 'http', 'watch-state', 'watch-delta', 'idle'] as const;
type RowName = (typeof ROW_NAMES)[number];
const ROWS = (arg('--rows')?.split(',') ?? ROW_NAMES) as RowName[];
/** `--gaps`: print each gap of the 1 ms timer over 15 ms, split into run, waited for a CPU and blocked (Linux). */
const GAPS = process.argv.includes('--gaps');
/**
 * The `allot serve` processes stand in for a control plane on other machines. On this
 * 2-core one they run, every thread of them, under Linux's SCHED_IDLE policy
 * (`--servers-nice idle`, the default on Linux; or `--servers-nice N`: `nice -n N`, 19 elsewhere, 0 for
 * the application's priority) and only on the last CPU (`--servers-cpus LIST`, `taskset -c`;
 * `--servers-cpus any` to let them run anywhere).
 * Both, because `perf sched timehist` (2026-12-06) showed each one alone leaving the
 * application's thread waiting behind a server recompiling 10,000 segments:
 * - At the application's priority, a server's main thread and collector threads held both
 *   CPUs while the application's thread waited 15–27 ms for one.
 * - Under `nice -n 19`, and even SCHED_IDLE, a server's thread on the application's CPU still
 *   delayed it: this kernel preempts at its 4 ms tick, and this virtual machine exposes no
 *   shared cache, so a woken thread stays on its last CPU even when the other is idle.
 * A server recompiles the whole workspace on every change: it was the largest user of CPU in
 * the measure (35 s of CPU in a 46 s run of the http row, against the worker's 6.4 s).
 */
const SERVERS_NICE = ((v: string): number | 'idle' => (v === 'idle' ? v : Number(v)))(arg('--servers-nice') ?? (process.platform === 'linux' ? 'idle' : '19'));
const SERVERS_CPUS = ((v: string | undefined): string | undefined => {
  if (v === 'any') return undefined;
  if (v !== undefined) return v;
  const cpus = availableParallelism();
  return process.platform === 'linux' && cpus > 1 ? String(cpus - 1) : undefined;
})(arg('--servers-cpus'));

/**
 * This thread's scheduler statistics on Linux (`/proc/thread-self/schedstat`): nanoseconds
 * it has run on a CPU, and waited for one while runnable. A gap of the 1 ms timer is either
 * this thread's work (a long turn, a collection) or a wait for a CPU that other threads and
 * processes held; the two read differently. Read into one buffer, with no allocation per tick.
 */
class ThreadClock {
  private readonly buffer = Buffer.alloc(128);
  runNs = 0;
  waitNs = 0;
  private constructor(private readonly fd: number) {}

  static open(): ThreadClock | null {
    try {
      return new ThreadClock(openSync('/proc/thread-self/schedstat', 'r'));
    } catch {
      return null; // not Linux, or no schedstat: the attribution columns print n/a
    }
  }

  read(): void {
    const n = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
    let field = 0;
    let value = 0;
    for (let i = 0; i < n && field < 2; i++) {
      const c = this.buffer[i]!;
      if (c >= 48 && c <= 57) value = value * 10 + (c - 48);
      else {
        if (field === 0) this.runNs = value;
        else this.waitNs = value;
        field++;
        value = 0;
      }
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

interface Measure<T> {
  readonly result: T;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly gapMs: number;
  readonly over20: number;
  /** The most CPU this thread used between two ticks of the 1 ms timer (its longest turn, collections included); NaN off Linux. */
  readonly ownMs: number;
  /** Of the gaps over 20 ms, those spent mostly waiting for a CPU rather than running (not blocked in a system call: that is neither); NaN off Linux. */
  readonly over20Waiting: number;
  /** This isolate's longest collection pause, and its kind. */
  readonly gc: GcPause;
}

interface GcPause {
  readonly ms: number;
  readonly kind: string;
  /** Every pause of the measure, summed: the collector's whole time on the app's thread. */
  readonly totalMs: number;
}

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incr',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
};

/** `a` with the pause `entry` records: added to the total, and kept if it is the longest. */
function withPause(a: GcPause, entry: PerformanceEntry): GcPause {
  const totalMs = a.totalMs + entry.duration;
  if (entry.duration <= a.ms) return { ...a, totalMs };
  const { detail } = entry as PerformanceEntry & { detail?: NodeGCPerformanceDetail };
  return { ms: entry.duration, kind: GC_KINDS[detail?.kind ?? -1] ?? '?', totalMs };
}

/** The main loop's delays while `run` runs: histogram max and p99, and the longest gap of a 1 ms timer and how many were over 20 ms (and of those, how many were waits for a CPU). */
async function measured<T>(run: () => Promise<T>): Promise<Measure<T>> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const clock = ThreadClock.open();
  clock?.read();
  let last = performance.now();
  let lastRun = clock?.runNs ?? 0;
  let lastWait = clock?.waitNs ?? 0;
  let gap = 0;
  let over20 = 0;
  let ownNs = 0;
  let over20Waiting = 0;
  let gc: GcPause = { ms: 0, kind: '-', totalMs: 0 };
  const collections = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gc = withPause(gc, entry);
  });
  collections.observe({ entryTypes: ['gc'] });
  const timer = setInterval(() => {
    const now = performance.now();
    const delay = now - last - 1;
    gap = Math.max(gap, delay);
    if (clock !== null) {
      clock.read();
      const ran = clock.runNs - lastRun;
      ownNs = Math.max(ownNs, ran);
      const waited = clock.waitNs - lastWait;
      if (delay > 20 && waited > ran) over20Waiting++;
      // `--gaps`: each gap over 15 ms split three ways; what is neither run nor waited, the thread was blocked (a futex: a collection's helper threads, a lock).
      if (GAPS && delay > 15) process.stderr.write(`GAP at ${now.toFixed(0)} ms: ${delay.toFixed(1)} ms, ran ${(ran / 1e6).toFixed(1)}, waited ${(waited / 1e6).toFixed(1)}, blocked ${(delay + 1 - (ran + waited) / 1e6).toFixed(1)}; CLOCK_MONOTONIC ${(Number(process.hrtime.bigint()) / 1e9).toFixed(6)} s (perf record -k mono)\n`);
      lastRun = clock.runNs;
      lastWait = clock.waitNs;
    }
    if (delay > 20) over20++;
    last = now;
  }, 1);
  histogram.enable();
  const start = performance.now();
  try {
    const result = await run();
    // A stall that ends with `run` is recorded at the timers' next ticks: let them come.
    await new Promise((resolve) => setTimeout(resolve, 20));
    // `--windows`: when each measure ran (performance.now()), to match with --trace-gc or a profile.
    if (process.argv.includes('--windows')) process.stderr.write(`MEASURED ${start.toFixed(0)}..${performance.now().toFixed(0)} ms\n`);
    const split = clock !== null;
    // Entries are delivered on a later turn: take those still queued.
    for (const entry of collections.takeRecords()) gc = withPause(gc, entry);
    return { result, maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6, gapMs: gap, over20, ownMs: split ? ownNs / 1e6 : NaN, over20Waiting: split ? over20Waiting : NaN, gc };
  } finally {
    collections.disconnect();
    histogram.disable();
    clearInterval(timer);
    clock?.close();
  }
}

function heldBytes(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

interface RowResult {
  readonly loadMaxMs: number;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly gapMs: number;
  /** How many times the 1 ms timer waited over 20 ms, per reload (mean). */
  readonly over20: number;
  /** Of those, how many were mostly a wait for a CPU (per reload, mean; Linux only). */
  readonly over20Waiting: number;
  /** The most CPU the app's thread used between two ticks of the timer: its own longest turn (Linux only; NaN elsewhere). */
  readonly ownMs: number;
  /** The app's isolate's longest collection pause during the reloads, and its kind. */
  readonly gc: GcPause;
  readonly swapMs: number;
  readonly heldMb: number;
  readonly rssMb: number;
  /** The state's size as loaded (the file's, or the server's answer). */
  readonly stateMb: number;
}

/** The machine's own noise: the same measures over `ms` with nothing loading. */
async function idle(ms: number): Promise<RowResult> {
  const m = await measured(() => new Promise((resolve) => setTimeout(resolve, ms)));
  return { loadMaxMs: 0, maxMs: m.maxMs, p99Ms: m.p99Ms, gapMs: m.gapMs, over20: m.over20, over20Waiting: m.over20Waiting, ownMs: m.ownMs, gc: m.gc, swapMs: 0, heldMb: 0, rssMb: 0, stateMb: 0 };
}

/** A source, and what reloads it with the other revision (the `r`th reload, from 1). */
interface Setup {
  readonly source: StateSource;
  readonly secret: string;
  readonly stateMb: () => Promise<number>;
  /** Causes the `r`th reload; resolves once it is caused. */
  readonly reload: (r: number) => Promise<void>;
  /** Readies the next reload once the `r`th is swapped in (outside the measure). */
  readonly after?: (r: number) => Promise<void>;
  readonly close: () => Promise<void>;
}

/** A provider on `setup`'s source, reloaded RELOADS times. */
async function row(setup: Setup): Promise<RowResult> {
  try {
    return await reloaded(setup);
  } finally {
    await setup.close();
  }
}

async function reloaded(setup: Setup): Promise<RowResult> {
  const before = heldBytes();
  const rssBefore = process.memoryUsage().rss;
  const provider = new AllotProvider({ source: setup.source, clientSecret: setup.secret, stickyStore: false });
  const initial = await measured(() => provider.initialize());
  const serving = evaluating(provider, SERVING);
  await setup.after?.(0);
  const swaps: number[] = [];
  let maxMs = 0;
  let p99Ms = 0;
  let gapMs = 0;
  let over20 = 0;
  let over20Waiting = 0;
  let ownMs = 0;
  let gc: GcPause = { ms: 0, kind: '-', totalMs: 0 };
  let errors = 0;
  for (let r = 1; r <= RELOADS; r++) {
    const m = await measured(
      () =>
        new Promise<number>((resolve, reject) => {
          const started = performance.now();
          const done = (): void => {
            provider.events.removeHandler(ProviderEvents.ConfigurationChanged, done);
            provider.events.removeHandler(ProviderEvents.Error, failed);
            resolve(performance.now() - started);
          };
          // A failed request (a connection reset, say) keeps the last good state; the next poll or stream brings the new one.
          const failed = (): void => {
            errors++;
          };
          provider.events.addHandler(ProviderEvents.ConfigurationChanged, done);
          provider.events.addHandler(ProviderEvents.Error, failed);
          setup.reload(r).catch(reject);
        }),
    );
    swaps.push(m.result);
    maxMs = Math.max(maxMs, m.maxMs);
    p99Ms = Math.max(p99Ms, m.p99Ms);
    gapMs = Math.max(gapMs, m.gapMs);
    over20 += m.over20 / RELOADS;
    over20Waiting += m.over20Waiting / RELOADS;
    ownMs = Math.max(ownMs, m.ownMs);
    // The longest pause of any reload; the total per reload (mean).
    gc = { ...(m.gc.ms > gc.ms ? m.gc : gc), totalMs: gc.totalMs + m.gc.totalMs / RELOADS };
    await setup.after?.(r);
  }
  const answers = serving.stop();
  const loaded = heldBytes();
  const rss = process.memoryUsage().rss;
  await provider.onClose();
  if (answers.failed > 0) throw new Error(`${String(answers.failed)} of ${String(answers.made)} evaluations failed during the reloads`);
  const stateMb = await setup.stateMb();
  if (errors > 0) console.error(`${String(errors)} state errors during the reloads (each retried)`);
  swaps.sort((a, b) => a - b);
  return {
    loadMaxMs: initial.maxMs,
    maxMs,
    p99Ms,
    gapMs,
    over20,
    over20Waiting,
    ownMs,
    gc,
    swapMs: swaps[Math.floor(swaps.length / 2)]!,
    heldMb: (loaded - before) / 2 ** 20,
    rssMb: (rss - rssBefore) / 2 ** 20,
    stateMb,
  };
}

/**
 * `perMs` evaluations every millisecond, of the first 20 flags (states of 100 segments and up have them) for
 * varied units, as an app serving requests makes them; each must answer from a state (the
 * previous one until the new one is swapped in).
 */
function evaluating(provider: AllotProvider, perMs: number): { stop: () => { made: number; failed: number } } {
  let made = 0;
  let failed = 0;
  const timer =
    perMs > 0
      ? setInterval(() => {
          for (let i = 0; i < perMs; i++, made++) {
            const context = { targetingKey: `u${String(made)}`, country: `C${String(made % 50)}` };
            void provider.resolveObjectEvaluation(`f${String(made % 20)}`, {}, context).then((details) => {
              if (details.errorCode !== undefined) failed++;
            });
          }
        }, 1)
      : null;
  return {
    stop: () => {
      if (timer !== null) clearInterval(timer);
      return { made, failed };
    },
  };
}

/**
 * Replaces `file` by renaming a new revision over it, as a deploy does, with the bench's own
 * file-system work kept off the measures: the app's thread is the bench's too.
 * - `prepare` (outside the measure) copies the next revision beside the file: copying 49 MB
 *   holds this thread ≈ 30 ms;
 * - a rename over the last link to a file frees its blocks in that call, and on a file system
 *   mounted with online discard (this machine's ext4) it then waits for the discard: 15–19 ms
 *   at 47 MB (`perf sched timehist`: `blkdev_issue_discard` under `ext4_evict_inode` in the
 *   rename). So every revision gets a second link before it is renamed into place (made then,
 *   not once it is the file: a new link changes the file's ctime, which `allot serve`'s file
 *   check reads as an edit), and the next `prepare` removes the link of
 *   the revision the last reload replaced, freeing it there.
 */
class Replacer {
  private readonly next: string;
  /** The second links of the file and, after a reload, of the revision it replaced. */
  private readonly kept: string[] = [];
  private links = 0;

  /** Call before anything watches `file`. */
  constructor(private readonly file: string) {
    this.next = `${file}.next.tmp`;
    this.kept.push(this.linked(file));
  }

  /** Outside the measure: frees the revision replaced last, and copies `revision` beside the file with a second link. */
  prepare(revision: string): void {
    while (this.kept.length > 1) rmSync(this.kept.shift()!, { force: true });
    copyFileSync(revision, this.next);
    this.kept.push(this.linked(this.next));
  }

  /** The reload's cause: the next revision renamed over the file (which keeps a link, so nothing is freed here). */
  replace(): void {
    renameSync(this.next, this.file);
  }

  private linked(path: string): string {
    const link = `${this.file}.kept-${String(this.links++)}.tmp`;
    rmSync(link, { force: true }); // left by an earlier row on the same file
    linkSync(path, link);
    return link;
  }
}

/** `dir`/state.json, replaced by `a.json` and `b.json` in turn. */
function fileSetup(dir: string, offThread: boolean): Setup {
  const file = join(dir, 'state.json');
  const texts = [join(dir, 'a.json'), join(dir, 'b.json')];
  copyFileSync(texts[0]!, file);
  const replacer = new Replacer(file);
  return {
    source: fileSource(file, { offThread, debounceMs: 5, pollIntervalMs: 60_000 }),
    secret: SECRET,
    stateMb: () => Promise.resolve(0), // the table shows the file's size
    after: (r) => {
      replacer.prepare(texts[(r + 1) % texts.length]!);
      return Promise.resolve();
    },
    reload: () => {
      replacer.replace();
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** `allot serve` on `workspace` at `port`, in a process of its own; resolves once it listens. */
async function serve(workspace: string, port: number): Promise<ChildProcess> {
  // Secrets live beside the workspace (`<name>.secrets.yaml`), never in it.
  writeFileSync(workspace.replace(/\.yaml$/, '.secrets.yaml'), `clients:\n  default: ${WORKSPACE_SECRET}\n`);
  const { child } = await startServe(['--workspace', workspace], { port, stderr: 'ignore', nice: SERVERS_NICE, ...(SERVERS_CPUS === undefined ? {} : { cpus: SERVERS_CPUS }) });
  // The first request compiles the workspace: not a cost of the provider's. Its body is not
  // read: 26 MB of it would be garbage this process's GC collects during the next measure.
  await (await fetch(`http://127.0.0.1:${port}/v1/state`)).body?.cancel();
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function servedMb(port: number): Promise<number> {
  return (await (await fetch(`http://127.0.0.1:${port}/v1/state`)).arrayBuffer()).byteLength;
}

/** A workspace file `dir`/`name`.yaml served by one `allot serve`, replaced by revision a and b in turn. */
async function servedWorkspace(dir: string, name: string): Promise<{ port: number; server: ChildProcess; ready: (r: number) => Promise<void>; replace: () => void }> {
  const file = join(dir, `${name}.yaml`);
  copyFileSync(join(dir, 'ws-a.yaml'), file);
  const replacer = new Replacer(file);
  const port = await freePort();
  const server = await serve(file, port);
  return {
    port,
    server,
    ready: (r) => {
      replacer.prepare(join(dir, r % 2 === 0 ? 'ws-b.yaml' : 'ws-a.yaml'));
      return Promise.resolve();
    },
    replace: () => {
      replacer.replace();
    },
  };
}

async function httpSetup(dir: string): Promise<Setup> {
  const { port, server, ready, replace } = await servedWorkspace(dir, 'http');
  return {
    source: httpSource(`http://127.0.0.1:${port}/v1/state`, { pollIntervalMs: 100, timeoutMs: 120_000 }),
    secret: WORKSPACE_SECRET,
    stateMb: () => servedMb(port),
    after: ready,
    reload: () => {
      replace();
      return Promise.resolve();
    },
    close: () => stop(server),
  };
}

async function watchDeltaSetup(dir: string): Promise<Setup> {
  const { port, server, ready, replace } = await servedWorkspace(dir, 'watch');
  return {
    source: watchSource([`http://127.0.0.1:${port}`], { pollIntervalMs: 60_000, timeoutMs: 120_000 }),
    secret: WORKSPACE_SECRET,
    stateMb: () => servedMb(port),
    // The next revision's file, and (the first time) the stream's connection after the first state.
    after: async (r) => {
      await ready(r);
      if (r === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    },
    reload: () => {
      replace();
      return Promise.resolve();
    },
    close: () => stop(server),
  };
}

/** Two instances, serving revision a and b: the provider streams from one; stopping it makes the other send its whole state. */
async function watchStateSetup(dir: string): Promise<Setup> {
  const files = ['ws-a.yaml', 'ws-b.yaml'].map((f) => join(dir, f));
  const ports = [await freePort(), await freePort()];
  const servers: (ChildProcess | null)[] = await Promise.all([serve(files[0]!, ports[0]!), serve(files[1]!, ports[1]!)]);
  return {
    source: watchSource(
      ports.map((p) => `http://127.0.0.1:${p}`),
      { pollIntervalMs: 60_000, reconnectDelayMs: 50, timeoutMs: 120_000 },
    ),
    secret: WORKSPACE_SECRET,
    stateMb: () => servedMb(ports[1]!),
    // Streaming from the first (reload r moves to instance r % 2), once its stream is up, and
    // once the instance started again has settled: a server starting on this 2-core machine
    // takes the CPU the app's thread would run on (in production it runs elsewhere).
    after: async (r) => {
      const stopped = (r + 1) % 2;
      if (r > 0) servers[stopped] = await serve(files[stopped]!, ports[stopped]!);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    },
    reload: async (r) => {
      const from = (r + 1) % 2;
      await stop(servers[from]!);
      servers[from] = null;
    },
    close: async () => {
      for (const s of servers) if (s !== null) await stop(s);
    },
  };
}

async function runRow(name: RowName, dir: string, swapMs: number): Promise<RowResult> {
  switch (name) {
    case 'idle':
      return idle(swapMs);
    case 'file-main':
      return row(fileSetup(dir, false));
    case 'file':
      return row(fileSetup(dir, true));
    case 'http':
      return row(await httpSetup(dir));
    case 'watch-state':
      return row(await watchStateSetup(dir));
    case 'watch-delta':
      return row(await watchDeltaSetup(dir));
  }
}

/** A column of the scheduler split (`ThreadClock`): n/a where the platform has none. */
function split(value: number): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(1);
}

/** One row in a process of its own, so that rows share no heap, garbage or worker. */
function inChild(dir: string, rowName: RowName, swapMs: number): RowResult {
  const child = spawnSync(process.execPath, ['--expose-gc', process.argv[1]!, '--row', rowName, '--dir', dir, '--swap-ms', String(swapMs), '--reloads', String(RELOADS), '--serving', String(SERVING), '--servers-nice', String(SERVERS_NICE), '--servers-cpus', SERVERS_CPUS ?? 'any', ...(HELPERS_NICE === undefined ? [] : ['--helpers-nice', HELPERS_NICE]), ...['--windows', '--gaps'].filter((f) => process.argv.includes(f))], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`row ${rowName} failed (${String(child.status)}): ${child.stdout}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as RowResult;
}

/**
 * `--helpers-nice N` (an experiment, Linux): every thread of the row's process but its main
 * one, reniced to N before the row starts: V8's helper threads, which collect for every
 * isolate (the loader's worker too) at the application's priority. It asks what a loader
 * whose collections ran below the application's priority (a process of its own) would gain;
 * it also slows the application's own concurrent collection, which such a loader would not.
 */
const HELPERS_NICE = arg('--helpers-nice');

function reniceHelpers(nice: number): void {
  for (const tid of readdirSync('/proc/self/task')) if (Number(tid) !== process.pid) setPriority(Number(tid), nice);
}

const rowArg = arg('--row') as RowName | undefined;
if (rowArg !== undefined) {
  if (HELPERS_NICE !== undefined) reniceHelpers(Number(HELPERS_NICE));
  const result = await runRow(rowArg, arg('--dir')!, Number(arg('--swap-ms') ?? '1000'));
  console.log(JSON.stringify(result));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'allot-reload-bench-'));
  const kept = join(tmpdir(), 'allot-reload-bench-workspaces');
  try {
    console.log(`reload bench: ${RELOADS} reloads per row, each row in a process of its own; delays of the app's event loop (ms); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const priority = SERVERS_NICE === 'idle' ? 'SCHED_IDLE' : `nice -n ${String(SERVERS_NICE)}`;
    console.log(`the allot serve processes (http, watch rows) run under ${priority} on CPUs ${SERVERS_CPUS ?? 'any'}, standing in for other machines (--servers-nice 0 --servers-cpus any: beside the app, at its priority)`);
    console.log('swap = cause (rename, server stopped) to PROVIDER_CONFIGURATION_CHANGED (median); held = heap + external memory after gc, less the baseline; rss = growth');
    console.log('segments  path         state MB  initial max  reload max  reload p99  1ms-timer gap  gaps>20ms  waiting  own turn  gc pause  gc total  swap ms  held MB  rss MB');
    for (const size of SIZES) {
      writeFileSync(join(dir, 'a.json'), stateText(size, 1));
      writeFileSync(join(dir, 'b.json'), stateText(size, 2));
      if (ROWS.some((r) => r.startsWith('http') || r.startsWith('watch'))) {
        const [a, b] = workspaceTexts(size, kept);
        writeFileSync(join(dir, 'ws-a.yaml'), a);
        writeFileSync(join(dir, 'ws-b.yaml'), b);
      }
      const fileMb = stateText(size, 1).length;
      let swapMs = 1_000;
      for (const name of ROWS) {
        const r = inChild(dir, name, swapMs);
        if (name === 'file') swapMs = r.swapMs;
        const mb = ((name.startsWith('file') || name === 'idle' ? fileMb : r.stateMb) / 2 ** 20).toFixed(1);
        console.log(
          `${String(size).padStart(8)}  ${name.padEnd(11)}  ${mb.padStart(8)}  ${r.loadMaxMs.toFixed(1).padStart(11)}  ${r.maxMs.toFixed(1).padStart(10)}  ${r.p99Ms.toFixed(1).padStart(10)}  ${r.gapMs.toFixed(1).padStart(13)}  ${r.over20.toFixed(1).padStart(9)}  ${split(r.over20Waiting).padStart(7)}  ${split(r.ownMs).padStart(8)}  ${`${r.gc.ms.toFixed(1)} ${r.gc.kind}`.padStart(8)}  ${r.gc.totalMs.toFixed(0).padStart(8)}  ${r.swapMs.toFixed(0).padStart(7)}  ${r.heldMb.toFixed(0).padStart(7)}  ${r.rssMb.toFixed(0).padStart(6)}`,
        );
      }
    }
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
