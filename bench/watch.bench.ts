/**
 * How fast a change reaches the apps: providers watching `GET /v1/state:watch` against
 * providers polling `GET /v1/state` at the default interval (30 s), in one run, on two
 * `allot serve` instances over one PostgreSQL database (a private cluster started for the run).
 *
 *   - PROVIDERS (500) providers spread over PROCESSES (4) child processes, half listing each
 *     instance first; WRITES (200) flag creations, one every SPACING_MS (250 ms), alternating
 *     between the instances;
 *   - latency: from each write's acknowledgment (the response received) to each provider's
 *     flagsChanged naming that flag: p50, p99, max, over every (provider, write) pair; every
 *     watching provider must end on the last revision written (`behind` counts those that do
 *     not), every polling one with every flag;
 *   - the CPU the provider processes and the instances used while the writes went on, and the
 *     machine's load average (the machine is shared: a latency is only as good as the CPU left);
 *   - idle cost: the two instances' CPU time (/proc/PID/stat) over IDLE_SECONDS with the
 *     watchers connected and with none, per watcher per minute;
 *   - cost: what one provider spends applying one revision, as a delta and as a whole state,
 *     and core's loading alone;
 *   - large: an 11 MB state streamed to 8 watchers by a server in a worker thread, whose event
 *     loop's delay (perf_hooks.monitorEventLoopDelay) is measured meanwhile; target ≤ 50 ms.
 *
 * 127.0.0.1 only. Run: pnpm --filter @allot/bench bench:watch (or node bench/dist/watch.bench.js
 *   [--quick] [--only=watch,poll,cost,large] [--providers=N] [--processes=N] [--writes=N]
 *   [--spacing=MS] [--idle=S] [--cpu-prof-dir=DIR: CPU profiles of the first provider process
 *   and the first instance])
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { AllotProvider, applyDelta, changedFlags, compileDelta, compileState, httpSource, parseDelta, watchSource } from '@allot/openfeature-provider';
import { validateDelta, validateState } from '@allot/core';
import { ProviderEvents } from '@openfeature/server-sdk';

import { PgCluster, pgMissing } from '@allot/pg-store/testing';

import { startServe } from './serve.js';

const quick = process.argv.includes('--quick');
/** Child processes holding the providers (--processes=N). */
const PROCESSES = Number(process.argv.find((a) => a.startsWith('--processes='))?.slice('--processes='.length) ?? '4');
/** Providers in all (--providers=N). */
const PROVIDERS_ARG = process.argv.find((a) => a.startsWith('--providers='));
const PROVIDERS = PROVIDERS_ARG === undefined ? (quick ? 60 : 500) : Number(PROVIDERS_ARG.slice('--providers='.length));
const WRITES = Number(process.argv.find((a) => a.startsWith('--writes='))?.slice('--writes='.length) ?? (quick ? '40' : '200'));
/** Seconds the idle CPU is measured over (--idle=S). */
const IDLE_SECONDS = Number(process.argv.find((a) => a.startsWith('--idle='))?.slice('--idle='.length) ?? (quick ? '10' : '30'));
/** Pause between writes (--spacing=MS); default 250 ms, 4 writes a second. */
const SPACING_MS = Number(process.argv.find((a) => a.startsWith('--spacing='))?.slice('--spacing='.length) ?? '250');
/** Only these phases (--only=watch,poll,cost,large); default all. */
const ONLY = (process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? 'watch,poll,cost,large').split(',');

const POLL_DEFAULT_MS = 30_000;
const HERE = fileURLToPath(import.meta.url);

type Mode = 'watch' | 'poll';

/** What a worker reports: per provider, each flag's first flagsChanged time and the last revision applied. */
interface Report {
  readonly seen: Record<string, number>[];
  readonly revisions: (number | null)[];
  /** Per provider, the instance it lists first: 0 for the first instance, 1 for the second (set by `collect`). */
  readonly firsts?: number[];
}

/** A child process holding `count` providers; reports each flag's first flagsChanged time. */
async function worker(mode: Mode, count: number, first: string, second: string): Promise<void> {
  const seen: Record<string, number>[] = [];
  const revisions: (number | null)[] = [];
  const providers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const urls = i % 2 === 0 ? [first, second] : [second, first];
      revisions[i] = null;
      const source =
        mode === 'watch'
          ? watchSource(urls, {
              onApply: (a) => {
                revisions[i] = a.revision;
              },
            })
          : httpSource(`${urls[0]!}/v1/state`);
      const provider = new AllotProvider({ source });
      const times: Record<string, number> = {};
      seen[i] = times;
      provider.events.addHandler(ProviderEvents.ConfigurationChanged, (e) => {
        const now = Date.now();
        for (const key of (e?.flagsChanged ?? []) as string[]) times[key] ??= now;
      });
      await provider.initialize();
      return provider;
    }),
  );
  process.send!({ ready: true });
  process.once('message', () => {
    void (async () => {
      // Exit only once the report is handed to the channel: exiting at once can drop it.
      const report: Report = { seen, revisions };
      await new Promise<void>((resolve) => process.send!(report, () => { resolve(); }));
      await Promise.all(providers.map((p) => p.onClose()));
      process.exit(0);
    })();
  });
}

function serve(store: string, profile = false): Promise<{ child: ChildProcess; url: string }> {
  const nodeArgs = profile && PROFILE_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  return startServe(['--store', store, '--max-watchers', '10000'], { nodeArgs });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Workers {
  readonly children: ChildProcess[];
  collect(): Promise<Report>;
}

async function startWorkers(mode: Mode, a: string, b: string): Promise<Workers> {
  const children = Array.from({ length: PROCESSES }, (_, p) => {
    const count = Math.floor(PROVIDERS / PROCESSES) + (p < PROVIDERS % PROCESSES ? 1 : 0);
    return fork(HERE, ['--worker', mode, String(count), a, b], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...workerArgs(p)] });
  });
  await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
    c.once('message', () => { resolve(); });
    c.once('exit', (code) => { reject(new Error(`a ${mode} worker exited with ${String(code)} before its providers were ready`)); });
  })));
  return {
    children,
    async collect() {
      const all = await Promise.all(children.map((c) => new Promise<Report>((resolve, reject) => {
        c.removeAllListeners('exit');
        c.once('exit', (code) => { reject(new Error(`a ${mode} worker exited with ${String(code)} before it reported`)); });
        c.once('message', (m) => { resolve(m as Report); });
        c.send('report');
      })));
      await Promise.all(children.map((c) => new Promise((r) => { if (c.exitCode === null) c.once('exit', r); else r(null); })));
      return { seen: all.flatMap((r) => r.seen), revisions: all.flatMap((r) => r.revisions), firsts: all.flatMap((r) => r.seen.map((_, i) => i % 2)) };
    },
  };
}

/** --cpu-prof-dir=DIR: the first worker process and the first instance write CPU profiles there. */
const PROFILE_DIR = process.argv.find((a) => a.startsWith('--cpu-prof-dir='))?.slice('--cpu-prof-dir='.length);
const workerArgs = (p: number): string[] => (PROFILE_DIR !== undefined && p === 0 ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []);

/** When each write was sent and acknowledged (as the writer saw it), and the last revision written. */
interface Written {
  readonly acked: Map<string, number>;
  readonly sent: Map<string, number>;
  readonly revision: number;
}

/** WRITES flag creations, alternating instances; each flag's acknowledgment time, and the last revision written. */
async function writeFlags(urls: readonly string[], prefix: string): Promise<Written> {
  const acked = new Map<string, number>();
  const sent = new Map<string, number>();
  let revision = 0;
  for (let i = 0; i < WRITES; i++) {
    const key = `${prefix}-${String(i)}`;
    sent.set(key, Date.now());
    const res = await fetch(`${urls[i % urls.length]!}/v1/flags?flagId=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ variants: [{ name: 'on', value: { on: true } }] }),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`write ${key} answered ${String(res.status)}`);
    acked.set(key, Date.now());
    revision = Math.max(revision, Number(res.headers.get('allot-revision')));
    await new Promise((r) => setTimeout(r, SPACING_MS));
  }
  return { acked, sent, revision };
}

/**
 * `only`: the pairs whose provider listed first the instance that took the write (`same`) or
 * the other one (which learns of the write through PostgreSQL's NOTIFY).
 */
function latencies(acked: Map<string, number>, seen: readonly Record<string, number>[], only: { readonly firsts: readonly number[]; readonly same: boolean } | null = null): { min: number; p50: number; p99: number; max: number; missing: number } {
  const all: number[] = [];
  let missing = 0;
  for (const [p, times] of seen.entries()) {
    let w = 0;
    for (const [key, at] of acked) {
      // Writes alternate between the instances, the first write to the first instance.
      if (only !== null && (only.firsts[p] === w++ % 2) !== only.same) continue;
      const t = times[key];
      if (t === undefined) missing++;
      else all.push(t - at);
    }
  }
  all.sort((x, y) => x - y);
  // A provider may hear of a write before its writer does (the event leaves before the
  // response): such pairs count as they are, below zero, and `min` shows them.
  return { min: all[0] ?? NaN, p50: percentile(all, 50), p99: percentile(all, 99), max: all.at(-1) ?? NaN, missing };
}

/**
 * Rows of the latency table: from each write's acknowledgment as the writer saw it (the
 * issue's measure: a starved writer sees it late, which flatters), and from the moment the
 * write was sent (which counts the write's own time against the push); the truth is between.
 * `behind`: providers not on the final revision (watch) or missing a flag (poll).
 */
function rows(mode: Mode, written: Written, report: Report): string[] {
  const out: string[] = [];
  for (const [from, times] of [['ack', written.acked], ['sent', written.sent]] as const) {
    const l = latencies(times, report.seen);
    const behind = mode === 'watch' ? report.revisions.filter((r) => r !== written.revision).length : l.missing;
    const cells = [l.min, l.p50, l.p99, l.max].map((n) => n.toFixed(0).padStart(7));
    out.push(`${mode.padEnd(5)}  ${from.padEnd(4)}  ${String(report.seen.length).padStart(5)}  ${String(WRITES).padStart(6)}  ${cells.join('  ')}  ${String(l.missing).padStart(7)}  ${String(behind).padStart(6)}`);
  }
  if (mode === 'watch' && report.firsts !== undefined) {
    for (const same of [true, false]) {
      const l = latencies(written.acked, report.seen, { firsts: report.firsts, same });
      const cells = [l.min, l.p50, l.p99, l.max].map((n) => n.toFixed(0).padStart(7));
      out.push(`${(same ? '  ack, watching the writing instance' : '  ack, watching the other instance').padEnd(34)}${cells.join('  ')}`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  if (pgMissing !== null && (ONLY.includes('watch') || ONLY.includes('poll'))) throw new Error(`watch bench: ${pgMissing}`);
  if (ONLY.includes('watch') || ONLY.includes('poll')) await latencyRun();
  if (ONLY.includes('cost')) providerCostRun();
  if (ONLY.includes('large')) await largeStateRun();
}

async function latencyRun(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const cluster = await PgCluster.start();
  const instances: ChildProcess[] = [];
  try {
    const db = await cluster.createDatabase('watchbench');
    const a = await serve(db, true);
    const b = await serve(db);
    instances.push(a.child, b.child);
    const urls = [a.url, b.url];
    const cpu = (): number => cpuSeconds(a.child.pid!) + cpuSeconds(b.child.pid!);
    const table: string[] = [];
    let idle = '';
    let busy = '';

    if (ONLY.includes('watch')) {
      const idleBase0 = cpu();
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const idleNone = cpu() - idleBase0;
      const watch = await startWorkers('watch', a.url, b.url);
      const idleBase1 = cpu();
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const idleWatching = cpu() - idleBase1;
      const workersCpu = (): number => watch.children.reduce((n, c) => n + cpuSeconds(c.pid!), 0);
      const cpuBefore = { workers: workersCpu(), servers: cpu(), at: Date.now() };
      const written = await writeFlags(urls, 'w');
      await new Promise((r) => setTimeout(r, 2_000));
      const wall = (Date.now() - cpuBefore.at) / 1000;
      busy = `while writing (${wall.toFixed(0)} s): the provider processes used ${(workersCpu() - cpuBefore.workers).toFixed(1)} s of CPU, the two instances ${(cpu() - cpuBefore.servers).toFixed(1)} s (the machine has 2 cores: ${(2 * wall).toFixed(0)} s)`;
      table.push(...rows('watch', written, await watch.collect()));
      const perWatcherMinute = ((idleWatching - idleNone) / PROVIDERS) * (60 / IDLE_SECONDS);
      idle =
        `idle server CPU over ${String(IDLE_SECONDS)} s, both instances: ${idleNone.toFixed(2)} s with no watcher, ${idleWatching.toFixed(2)} s with ${String(PROVIDERS)} watchers → ` +
        `${(perWatcherMinute * 1000).toFixed(2)} ms CPU per idle watcher per minute`;
    }
    if (ONLY.includes('poll')) {
      const poll = await startWorkers('poll', a.url, b.url);
      const written = await writeFlags(urls, 'p');
      await new Promise((r) => setTimeout(r, POLL_DEFAULT_MS + 3_000));
      table.push(...rows('poll', written, await poll.collect()));
    }

    console.log(`write acknowledged → flagsChanged, ms (2 instances on PostgreSQL, ${String(PROVIDERS)} providers in ${String(PROCESSES)} processes, a write every ${String(SPACING_MS)} ms; poll = httpSource at its default ${String(POLL_DEFAULT_MS / 1000)} s)`);
    console.log(`machine load average (1 min) at the start and the end of the run: ${loadAtStart.toFixed(1)}, ${loadavg()[0]!.toFixed(1)} (2 cores)`);
    console.log('mode   from  provs  writes      min      p50      p99      max  missing  behind');
    for (const r of table) console.log(r);
    console.log('(from: the write acknowledged as the writer saw it, or sent; missing: (provider, write) pairs with no flagsChanged; behind: providers not on the final revision (watch) or missing a flag (poll))');
    if (busy !== '') console.log(busy);
    if (idle !== '') console.log(idle);
  } finally {
    for (const c of instances) await stop(c);
    await cluster.stop();
  }
}

/** The server's build, which the large-state run imports in a worker thread. */
const SERVER_ENTRY = pathToFileURL(join(dirname(HERE), '../../packages/server/dist/index.js')).href;
const LARGE_WATCHERS = 8;

/** A worker thread serving a workspace file and measuring its own event loop's delay between `measure` and `report`. */
const LARGE_STATE_SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { monitorEventLoopDelay } = require('node:perf_hooks');
let server;
const histogram = monitorEventLoopDelay({ resolution: 1 });
parentPort.on('message', async (message) => {
  if (message === 'start') {
    const { AllotServer } = await import(workerData.entry);
    server = await AllotServer.start({ workspace: workerData.workspace, port: 0, maxBodyBytes: 2 * 1024 * 1024, watch: { maxWatchers: 100 } });
    parentPort.postMessage({ url: server.url });
  } else if (message === 'measure') {
    // The writes compiled large states: collect their garbage first, so that the delay
    // measured is the streaming's, not a collection the writes left due.
    require('v8').setFlagsFromString('--expose-gc');
    require('vm').runInNewContext('gc')();
    histogram.reset();
    histogram.enable();
    parentPort.postMessage({});
  } else if (message === 'report') {
    histogram.disable();
    parentPort.postMessage({ maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6 });
  } else if (message === 'close') {
    await server?.close();
    parentPort.postMessage({});
  }
});
`;

/** A raw watcher counting the bytes it takes; `until` resolves once `done(bytes, tail)` holds. */
class ByteWatcher {
  bytes = 0;
  private tail = '';
  private readonly waiters: (() => void)[] = [];
  readonly abort = new AbortController();

  static async open(url: string): Promise<ByteWatcher> {
    const w = new ByteWatcher();
    const response = await fetch(`${url}/v1/state:watch`, { signal: w.abort.signal });
    void w.read(response.body!.getReader());
    return w;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.bytes += value.length;
        this.tail = Buffer.from(value.subarray(Math.max(0, value.length - 2))).toString('latin1');
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      // aborted at the end of the run
    }
  }

  /** Resolves once at least `bytes` bytes arrived and the last one ends an event. */
  async until(bytes: number): Promise<void> {
    while (this.bytes < bytes || !this.tail.endsWith('\n\n')) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/** An ≥ 10 MB state streamed to LARGE_WATCHERS watchers, the server's event loop measured meanwhile. */
async function largeStateRun(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'allot-watch-bench-'));
  const server = new Worker(LARGE_STATE_SERVER, { eval: true, workerData: { entry: SERVER_ENTRY, workspace: join(dir, 'allot.yaml') } });
  // A thread with nothing to do, measured alongside: its delays are the machine's (another
  // process holding the CPU), not the server's.
  const control = new Worker(LARGE_STATE_SERVER, { eval: true, workerData: {} });
  const askOne = (thread: Worker, message: string): Promise<Record<string, number | string>> =>
    new Promise((resolve) => {
      thread.once('message', resolve);
      thread.postMessage(message);
    });
  const ask = async (message: string): Promise<Record<string, number | string>> => {
    if (message === 'measure' || message === 'report') {
      const [own, idle] = await Promise.all([askOne(server, message), askOne(control, message)]);
      return { ...own, idleMaxMs: idle.maxMs ?? NaN, idleP99Ms: idle.p99Ms ?? NaN };
    }
    return askOne(server, message);
  };
  const watchers: ByteWatcher[] = [];
  const write = async (url: string, key: string, size: number): Promise<void> => {
    const res = await fetch(`${url}/v1/flags?flagId=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ variants: [{ name: 'on', value: { blob: 'x'.repeat(size) } }] }),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`write ${key} answered ${String(res.status)}`);
  };
  try {
    const url = (await ask('start')).url as string;
    for (let i = 0; i < 11; i++) await write(url, `big-${String(i)}`, 1_000_000);
    const state = await fetch(`${url}/v1/state`);
    const text = await state.text();
    const eventBytes = Buffer.byteLength(`event: state\nid: ${state.headers.get('etag')!.slice(1, -1)}\ndata: ${text.trimEnd().replaceAll('\n', '\ndata: ')}\n\n`);
    // A first watcher makes the server encode the state once; the measured ones stream it.
    const first = await ByteWatcher.open(url);
    await first.until(eventBytes);
    first.abort.abort();
    const rows: string[] = [];
    await ask('measure');
    const started = Date.now();
    for (let i = 0; i < LARGE_WATCHERS; i++) watchers.push(await ByteWatcher.open(url));
    await Promise.all(watchers.map((w) => w.until(eventBytes)));
    const streamMs = Date.now() - started;
    let r = await ask('report');
    const cells = (m: Record<string, number | string>): string => [m.maxMs, m.p99Ms, m.idleMaxMs, m.idleP99Ms].map((v) => Number(v).toFixed(1).padStart(6)).join('  ');
    rows.push(`connect: ${String(LARGE_WATCHERS)} × the whole state (${(eventBytes / 1e6).toFixed(1)} MB) in ${String(streamMs).padStart(5)} ms      ${cells(r)}`);
    // A small write with the watchers connected: the server compiles the 11 MB state, finds
    // what changed, and streams a delta. The write's own compilation is in the figure.
    await ask('measure');
    await write(url, 'small', 10);
    await Promise.all(watchers.map((w) => w.until(eventBytes + 1)));
    r = await ask('report');
    rows.push(`a small write (compiles the state; each watcher gets a delta)  ${cells(r)}`);
    console.log(`\nlarge state: event-loop delay, ms, of the server (allot serve's, in a worker thread, workspace file, ${String(LARGE_WATCHERS)} watchers; target ≤ 50 ms) and of an idle thread beside it; load average ${loadavg()[0]!.toFixed(1)}`);
    console.log('                                                                 server max   p99  idle max   p99');
    for (const line of rows) console.log(line);
  } finally {
    for (const w of watchers) w.abort.abort();
    await ask('close');
    await server.terminate();
    await control.terminate();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A state like the latency run's: `flags` flags with one variant and no rule, one client. */
function benchState(flags: number): Record<string, unknown> {
  const flagMap: Record<string, unknown> = {};
  for (let i = 0; i < flags; i++) {
    const name = `flags/w-${String(i)}`;
    flagMap[name] = { name, state: 'ACTIVE', clients: ['clients/app'], variants: [{ name: 'on', value: { on: true } }], rules: [] };
  }
  return {
    account: { name: 'accounts/bench' },
    flags: flagMap,
    segments: {},
    bitsets: {},
    bloomFilters: {},
    clients: { secret: { client: { name: 'clients/app', displayName: 'app' }, clientCredential: { name: 'clients/app/credentials/default', clientSecret: { secret: 'secret' }, environments: [] } } },
  };
}

/** Milliseconds per call of `f`, the median of 5 rounds of `n` calls. */
function msPer(n: number, f: () => void): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    rounds.push((performance.now() - t) / n);
  }
  return rounds.sort((x, y) => x - y)[2]!;
}

/**
 * What one provider spends on one revision (a new flag) at several state sizes, as a whole
 * state (what every event carried before deltas) and as a delta, and core's part: loading the
 * whole state (validateState) and loading the delta (validateDelta). Rows interleaved in one process.
 */
function providerCostRun(): void {
  console.log('\none provider applying one revision (a new flag), ms per revision; core load = core\'s validateState alone (loading the whole state), core delta = core\'s validateDelta alone');
  console.log(' flags   whole state  delta   core load  core delta  core delta share of delta');
  for (const size of [100, 200, 1000]) {
    const beforeJson = benchState(size);
    const before = compileState(beforeJson, 'bench');
    const afterJson = benchState(size + 1);
    const afterText = JSON.stringify(afterJson, null, 2);
    const deltaText = JSON.stringify({ base: '1', set: { flags: { [`flags/w-${String(size)}`]: (afterJson.flags as Record<string, unknown>)[`flags/w-${String(size)}`] } } });
    const n = Math.max(20, Math.round(20_000 / size));
    let whole = 0;
    let delta = 0;
    let core = 0;
    let coreDelta = 0;
    const changes = { flags: [`flags/w-${String(size)}`] };
    for (let round = 0; round < 3; round++) {
      whole += msPer(n, () => {
        changedFlags(before, compileState(JSON.parse(afterText), 'bench'));
      });
      delta += msPer(n, () => {
        const delta = parseDelta(deltaText, 'bench');
        const { json } = applyDelta(beforeJson, delta, 'bench');
        changedFlags(before, compileDelta(json, 'bench', {}, before, delta));
      });
      core += msPer(n, () => {
        validateState(afterJson, { targetingKeyAlias: 'targetingKey' });
      });
      coreDelta += msPer(n, () => {
        validateDelta(before.state, afterJson, changes, { targetingKeyAlias: 'targetingKey' });
      });
    }
    console.log(`${String(size).padStart(6)}  ${(whole / 3).toFixed(3).padStart(11)}  ${(delta / 3).toFixed(3).padStart(6)}  ${(core / 3).toFixed(3).padStart(9)}  ${(coreDelta / 3).toFixed(3).padStart(10)}  ${((coreDelta / delta) * 100).toFixed(0).padStart(24)}%`);
  }
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3] as Mode, Number(process.argv[4]), process.argv[5]!, process.argv[6]!);
} else {
  await main();
}
