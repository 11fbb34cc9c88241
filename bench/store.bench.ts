/**
 * The workspace stores side by side, in one run: `allot serve` on the workspace file and on
 * PostgreSQL (a private cluster started for the run, default settings, fsync on), each in
 * child processes so the load generator does not share their event loops.
 *
 *   - writes: WRITES segment creations (each a separate write), CLIENTS at a time, against
 *     the file store, one PostgreSQL instance, and three PostgreSQL instances on one database
 *     (clients spread over them): writes per second, p50 and p99 latency of each request;
 *   - reads: GET /v1/segments/ID with autocannon for a fixed time, on one instance and on
 *     three at once (one autocannon per instance, summed).
 *
 * 127.0.0.1 only. Run: pnpm --filter @allot/bench bench:store (or node bench/dist/store.bench.js [--quick])
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import autocannon from 'autocannon';

import { PgCluster, pgMissing } from '@allot/pg-store/testing';

import { startServe } from './serve.js';

const quick = process.argv.includes('--quick');
const WRITES = quick ? 100 : 400;
const CLIENTS = 8;
const READ_SECONDS = quick ? 2 : 5;
const TOKEN = 'bench-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

function serve(args: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  return startServe(args, { env: { ALLOT_TOKENS: `${TOKEN}:write` }, stderr: 'ignore' });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface WriteRow {
  readonly name: string;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failed: number;
}

/** WRITES segment creations, CLIENTS at a time, spread over `urls`. */
async function writes(name: string, urls: readonly string[], prefix: string): Promise<WriteRow> {
  let next = 0;
  let failed = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (;;) {
        const i = next++;
        if (i >= WRITES) return;
        const t = performance.now();
        const res = await fetch(`${urls[c % urls.length]!}/v1/segments?segmentId=${prefix}-${i}`, { method: 'POST', headers: auth, body: '{}' });
        await res.text();
        latencies.push(performance.now() - t);
        if (res.status !== 200) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { name, perSecond: WRITES / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

/** GET /v1/segments/ID on every one of `urls` at once for READ_SECONDS; summed req/s. */
async function reads(urls: readonly string[], id: string): Promise<{ perSecond: number; errors: number }> {
  const results = await Promise.all(urls.map((url) => autocannon({ url: `${url}/v1/segments/${id}`, headers: auth, connections: 8, duration: READ_SECONDS })));
  return {
    perSecond: results.reduce((sum, r) => sum + r.requests.average, 0),
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts + (r.requests.total - r['2xx']), 0),
  };
}

async function main(): Promise<void> {
  if (pgMissing !== null) {
    console.log(`skipped: ${pgMissing}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'allot-store-bench-'));
  const cluster = await PgCluster.start();
  const children: ChildProcess[] = [];
  try {
    const fileServer = await serve(['--workspace', join(dir, 'allot.yaml')]);
    children.push(fileServer.child);
    const db = await cluster.createDatabase('bench');
    const pg1 = await serve(['--store', db]);
    children.push(pg1.child);
    const pg2 = await serve(['--store', db]);
    const pg3 = await serve(['--store', db]);
    children.push(pg2.child, pg3.child);

    const rows: WriteRow[] = [];
    // Alternate the stores so that neither gets the quieter moments of a shared machine.
    for (const round of [1, 2]) {
      rows.push(await writes(`file store, 1 instance (round ${round})`, [fileServer.url], `file${round}`));
      rows.push(await writes(`PostgreSQL, 1 instance (round ${round})`, [pg1.url], `pg1r${round}`));
      rows.push(await writes(`PostgreSQL, 3 instances (round ${round})`, [pg1.url, pg2.url, pg3.url], `pg3r${round}`));
    }
    console.log(`\n${'writes (segment creations)'.padEnd(42)}${'writes/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'failed'.padStart(8)}`);
    for (const r of rows) {
      console.log(`${r.name.padEnd(42)}${r.perSecond.toFixed(1).padStart(10)}${r.p50.toFixed(1).padStart(9)}${r.p99.toFixed(1).padStart(9)}${String(r.failed).padStart(8)}`);
    }
    console.log(`${WRITES} writes per row, ${CLIENTS} clients at a time; the workspace grows by each row's writes`);

    // Let every instance catch up with the last write before reading.
    await new Promise((r) => setTimeout(r, 1_000));
    const readRows = [
      { name: 'file store, 1 instance', ...(await reads([fileServer.url], 'file1-0')) },
      { name: 'PostgreSQL, 1 instance', ...(await reads([pg1.url], 'pg1r1-0')) },
      { name: 'PostgreSQL, 3 instances', ...(await reads([pg1.url, pg2.url, pg3.url], 'pg1r1-0')) },
    ];
    console.log(`\n${'reads (GET /v1/segments/ID)'.padEnd(42)}${'req/s'.padStart(10)}${'errors'.padStart(9)}`);
    for (const r of readRows) console.log(`${r.name.padEnd(42)}${Math.round(r.perSecond).toLocaleString('en-US').padStart(10)}${String(r.errors).padStart(9)}`);
    console.log(
      `8 connections per instance, ${READ_SECONDS} s; load generator and servers share this machine's ${availableParallelism()} cores ` +
        `(load average ${loadavg()[0]!.toFixed(1)} at the end); node ${process.version}`,
    );
    if (rows.some((r) => r.failed > 0) || readRows.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    for (const c of children) await stop(c);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
