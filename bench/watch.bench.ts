/**
 * How fast a change reaches the apps: providers watching `GET /v1/state:watch` against
 * providers polling `GET /v1/state` at the default interval (30 s), in one run, on two
 * `allot serve` instances over one PostgreSQL database (a private cluster started for the run).
 *
 *   - PROVIDERS providers spread over PROCESSES child processes, half listing each instance
 *     first; WRITES flag creations, one after another, alternating between the instances;
 *   - latency: from each write's acknowledgment (the response received) to each provider's
 *     flagsChanged naming that flag: p50, p99, max, over every (provider, write) pair;
 *     every provider must end with every flag;
 *   - idle cost: the two instances' CPU time (/proc/PID/stat) over IDLE_SECONDS with the
 *     watchers connected and with none, per watcher per minute.
 *
 * 127.0.0.1 only. Run: pnpm --filter @allot/bench bench:watch (or node bench/dist/watch.bench.js [--quick]
 *   [--providers=N] [--spacing=MS])
 */
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AllotProvider, httpSource, watchSource } from '@allot/openfeature-provider';
import { ProviderEvents } from '@openfeature/server-sdk';

import { PgCluster, pgMissing } from '@allot/pg-store/testing';

const quick = process.argv.includes('--quick');
const PROCESSES = 4;
/** Providers in all (--providers=N). */
const PROVIDERS_ARG = process.argv.find((a) => a.startsWith('--providers='));
const PROVIDERS = PROVIDERS_ARG === undefined ? (quick ? 60 : 200) : Number(PROVIDERS_ARG.slice('--providers='.length));
const WRITES = quick ? 40 : 100;
const IDLE_SECONDS = quick ? 10 : 30;
/** Pause between writes (--spacing=MS); default 50 ms, 20 writes a second. */
const SPACING_MS = Number(process.argv.find((a) => a.startsWith('--spacing='))?.slice('--spacing='.length) ?? '50');

const POLL_DEFAULT_MS = 30_000;
const HERE = fileURLToPath(import.meta.url);
const CLI = join(dirname(HERE), '../../packages/cli/dist/bin.js');

type Mode = 'watch' | 'poll';

/** A child process holding `count` providers; reports each flag's first flagsChanged time. */
async function worker(mode: Mode, count: number, first: string, second: string): Promise<void> {
  const seen: Record<string, number>[] = [];
  const providers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const urls = i % 2 === 0 ? [first, second] : [second, first];
      const source = mode === 'watch' ? watchSource(urls) : httpSource(`${urls[0]!}/v1/state`);
      const provider = new AllotProvider({ source });
      const times: Record<string, number> = {};
      seen.push(times);
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
      await new Promise<void>((resolve) => process.send!({ seen }, () => { resolve(); }));
      await Promise.all(providers.map((p) => p.onClose()));
      process.exit(0);
    })();
  });
}

async function serve(store: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--store', store, '--host', '127.0.0.1', '--port', '0', '--quiet', '--max-watchers', '10000'], {
    env: { ...process.env, ALLOT_TOKENS: '', ALLOT_STORE: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m !== null) resolve(m[1]!);
    });
    child.once('exit', (code) => {
      reject(new Error(`allot serve exited with ${String(code)}`));
    });
  });
  return { child, url };
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
  collect(): Promise<Record<string, number>[]>;
}

async function startWorkers(mode: Mode, a: string, b: string): Promise<Workers> {
  const children = Array.from({ length: PROCESSES }, (_, p) => {
    const count = Math.floor(PROVIDERS / PROCESSES) + (p < PROVIDERS % PROCESSES ? 1 : 0);
    return fork(HERE, ['--worker', mode, String(count), a, b], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  });
  await Promise.all(children.map((c) => new Promise<void>((resolve, reject) => {
    c.once('message', () => { resolve(); });
    c.once('exit', (code) => { reject(new Error(`a ${mode} worker exited with ${String(code)} before its providers were ready`)); });
  })));
  return {
    children,
    async collect() {
      const all = await Promise.all(children.map((c) => new Promise<Record<string, number>[]>((resolve, reject) => {
        c.removeAllListeners('exit');
        c.once('exit', (code) => { reject(new Error(`a ${mode} worker exited with ${String(code)} before it reported`)); });
        c.once('message', (m) => { resolve((m as { seen: Record<string, number>[] }).seen); });
        c.send('report');
      })));
      await Promise.all(children.map((c) => new Promise((r) => { if (c.exitCode === null) c.once('exit', r); else r(null); })));
      return all.flat();
    },
  };
}

/** WRITES flag creations, alternating instances; each flag's acknowledgment time. */
async function writeFlags(urls: readonly string[], prefix: string): Promise<Map<string, number>> {
  const acked = new Map<string, number>();
  for (let i = 0; i < WRITES; i++) {
    const key = `${prefix}-${String(i)}`;
    const res = await fetch(`${urls[i % urls.length]!}/v1/flags?flagId=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ variants: [{ name: 'on', value: { on: true } }] }),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`write ${key} answered ${String(res.status)}`);
    acked.set(key, Date.now());
    await new Promise((r) => setTimeout(r, SPACING_MS));
  }
  return acked;
}

function latencies(acked: Map<string, number>, seen: readonly Record<string, number>[]): { p50: number; p99: number; max: number; missing: number } {
  const all: number[] = [];
  let missing = 0;
  for (const times of seen) {
    for (const [key, at] of acked) {
      const t = times[key];
      if (t === undefined) missing++;
      else all.push(t - at);
    }
  }
  all.sort((x, y) => x - y);
  return { p50: percentile(all, 50), p99: percentile(all, 99), max: all.at(-1) ?? NaN, missing };
}

async function main(): Promise<void> {
  if (pgMissing !== null) throw new Error(`watch bench: ${pgMissing}`);
  const cluster = await PgCluster.start();
  const instances: ChildProcess[] = [];
  try {
    const db = await cluster.createDatabase('watchbench');
    const a = await serve(db);
    const b = await serve(db);
    instances.push(a.child, b.child);
    const urls = [a.url, b.url];
    const cpu = (): number => cpuSeconds(a.child.pid!) + cpuSeconds(b.child.pid!);

    const idleBase0 = cpu();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleNone = cpu() - idleBase0;

    const rows: string[] = [];
    const watch = await startWorkers('watch', a.url, b.url);
    const idleBase1 = cpu();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleWatching = cpu() - idleBase1;
    const ackedWatch = await writeFlags(urls, 'w');
    await new Promise((r) => setTimeout(r, 2_000));
    const w = latencies(ackedWatch, await watch.collect());
    rows.push(`watch  ${String(PROVIDERS).padStart(5)}  ${String(WRITES).padStart(6)}  ${w.p50.toFixed(0).padStart(7)}  ${w.p99.toFixed(0).padStart(7)}  ${w.max.toFixed(0).padStart(7)}  ${String(w.missing).padStart(7)}`);

    const poll = await startWorkers('poll', a.url, b.url);
    const ackedPoll = await writeFlags(urls, 'p');
    await new Promise((r) => setTimeout(r, POLL_DEFAULT_MS + 3_000));
    const p = latencies(ackedPoll, await poll.collect());
    rows.push(`poll   ${String(PROVIDERS).padStart(5)}  ${String(WRITES).padStart(6)}  ${p.p50.toFixed(0).padStart(7)}  ${p.p99.toFixed(0).padStart(7)}  ${p.max.toFixed(0).padStart(7)}  ${String(p.missing).padStart(7)}`);

    console.log(`write acknowledged → flagsChanged, ms (2 instances on PostgreSQL, ${String(PROVIDERS)} providers in ${String(PROCESSES)} processes, a write every ${String(SPACING_MS)} ms; poll = httpSource at its default ${String(POLL_DEFAULT_MS / 1000)} s)`);
    console.log('mode   provs  writes      p50      p99      max  missing');
    for (const r of rows) console.log(r);
    const perWatcherMinute = ((idleWatching - idleNone) / PROVIDERS) * (60 / IDLE_SECONDS);
    console.log(
      `idle server CPU over ${String(IDLE_SECONDS)} s, both instances: ${idleNone.toFixed(2)} s with no watcher, ${idleWatching.toFixed(2)} s with ${String(PROVIDERS)} watchers → ` +
        `${(perWatcherMinute * 1000).toFixed(2)} ms CPU per idle watcher per minute`,
    );
  } finally {
    for (const c of instances) await stop(c);
    await cluster.stop();
  }
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3] as Mode, Number(process.argv[4]), process.argv[5]!, process.argv[6]!);
} else {
  await main();
}
