/**
 * How long one segment write holds `allot serve`'s event loop at 10,000 allocated segments
 * (issue 21): the preview bench's 10,000-segment account (buckets in aligned blocks of 16,
 * as the block allocator places them) written to a YAML workspace file,
 * `allot serve` started on it in a child process, then WRITES writes one after another, each
 * a `PATCH /v1/segments/ID` of one proportion (an untagged segment's and a tagged one's, in
 * turn), while a probe sends `GET /healthz` every PROBE_MS and records how long each answer
 * took. A probe that waits behind a write's synchronous work (parsing, gating, serializing the
 * file, compiling the state) measures that block: the longest probe during a write is the
 * longest the event loop was held, give or take one probe interval.
 *
 * The first write after the server starts checks the whole workspace (the file it read was
 * not through the gate of a write); it is reported apart. 127.0.0.1 only.
 * Run: pnpm --filter @allot/bench bench:write (or node bench/dist/write.bench.js [--quick] [--scattered])
 */
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { serializeWorkspace } from '@allot/admin';

import { median } from './interleave.js';
import { account } from './preview.bench.js';

import { startServe } from './serve.js';

const quick = process.argv.includes('--quick');
/** Buckets scattered one by one (a 68 MB file) instead of in blocks of 16 (the block allocator's, ≈ 10 MB). */
const blocks = !process.argv.includes('--scattered');
const SEGMENTS = 10_000;
const WRITES = quick ? 4 : 10;
const PROBE_MS = 10;
const TOKEN = 'bench-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

function serve(path: string): Promise<{ child: ChildProcess; url: string }> {
  return startServe(['--workspace', path], { env: { ALLOT_TOKENS: `${TOKEN}:write` } });
}

/** One request on a connection of its own (no keep-alive to race the server's idle timeout); status and body. */
function send(url: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, headers: auth }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends GET /healthz every PROBE_MS until stopped; the longest answer. */
function probe(url: string): { stop: () => Promise<number> } {
  let running = true;
  let longest = 0;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      await send(`${url}/healthz`);
      longest = Math.max(longest, performance.now() - t);
      await new Promise((r) => setTimeout(r, PROBE_MS));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return longest;
    },
  };
}

async function write(url: string, segment: string, proportion: number): Promise<{ ms: number; held: number }> {
  const p = probe(url);
  await new Promise((r) => setTimeout(r, 3 * PROBE_MS));
  const t = performance.now();
  const res = await send(`${url}/v1/segments/${segment}?updateMask=allocation.proportion&force=true`, 'PATCH', JSON.stringify({ allocation: { proportion: String(proportion) } }));
  const ms = performance.now() - t;
  const held = await p.stop();
  if (res.status !== 200) throw new Error(`write answered ${res.status}: ${res.body.slice(0, 500)}`);
  console.error(`  ${segment} → ${proportion}: ${ms.toFixed(0)} ms, held ≤ ${held.toFixed(0)} ms`);
  return { ms, held };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'allot-write-bench-'));
  const path = join(dir, 'allot.yaml');
  let child: ChildProcess | undefined;
  try {
    writeFileSync(path, serializeWorkspace(account(SEGMENTS, blocks)));
    console.log(`workspace of ${SEGMENTS} segments: ${(statSync(path).size / 1e6).toFixed(1)} MB of YAML`);
    const server = await serve(path);
    child = server.child;
    await send(`${server.url}/v1/state`); // read and compiled once
    const changes = [
      { segment: `seg-${SEGMENTS - 1}`, proportions: [0.006, 0.005] },
      { segment: 'seg-0', proportions: [0.0025, 0.002] },
    ];
    const first = await write(server.url, changes[0]!.segment, changes[0]!.proportions[0]!);
    const rows: { ms: number; held: number }[] = [];
    // Each change goes back and forth between its two proportions (the untagged one starts raised).
    for (let i = 0; i < WRITES; i++) {
      const change = changes[i % 2]!;
      const turn = Math.floor(i / 2) + (i % 2 === 0 ? 1 : 0);
      rows.push(await write(server.url, change.segment, change.proportions[turn % 2]!));
    }
    const f = (x: number): string => `${x.toFixed(0)} ms`.padStart(9);
    console.log(`first write after start: answered in ${f(first.ms)}, event loop held ≤ ${f(first.held)}`);
    console.log(`next ${WRITES} writes (median / max): answered in ${f(median(rows.map((r) => r.ms)))} / ${f(Math.max(...rows.map((r) => r.ms)))}, ` +
      `event loop held ≤ ${f(median(rows.map((r) => r.held)))} / ${f(Math.max(...rows.map((r) => r.held)))}`);
    console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(', ')}`);
  } finally {
    if (child !== undefined) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
