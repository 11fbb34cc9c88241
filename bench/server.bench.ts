/**
 * @allot/server's throughput on loopback, measured with autocannon against `allot serve` in
 * a child process (so the load generator does not share the server's event loop):
 *
 *   - POST /v1/flags:resolve of one flag (an individual-targeting rule over an A/B test on
 *     an allocated segment with an audience), a different user per request;
 *   - GET /v1/state with a matching If-None-Match (a provider's poll when nothing changed);
 *   - GET /v1/segments/ID (an admin read).
 *
 * 127.0.0.1 only; each scenario runs a fixed time (5 s, 2 s with --quick) after a 1 s warm-up.
 * Run: pnpm --filter @allot/bench bench:server (or node bench/dist/server.bench.js [--quick])
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import autocannon from 'autocannon';

import { addRule, addVariant, allocateSegment, createFlag, createSegment, setRuleEnabled, WorkspaceFile, type Workspace } from '@allot/admin';

import { startServe } from './serve.js';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 2 : 5;
const CONNECTIONS = 16;
const TOKEN = 'bench-token-0123456789abcdef';

function workspaceOps(ws: Workspace): Workspace {
  let w = ws;
  w = createSegment(w, { id: 'nordics', targeting: 'country in [SE, NO]', proportion: 0.5, exclusivityTags: ['checkout'], exclusiveTo: ['checkout'] }).workspace;
  w = allocateSegment(w, 'nordics').workspace;
  w = createFlag(w, { id: 'checkout' }).workspace;
  w = addVariant(w, 'checkout', { name: 'control', value: { layout: 'old' } }).workspace;
  w = addVariant(w, 'checkout', { name: 'treatment', value: { layout: 'new' } }).workspace;
  w = addRule(w, 'checkout', { kind: 'individual', id: 'testers', attribute: 'user_id', values: ['ada'], variant: 'treatment', enabled: true }).workspace;
  w = addRule(w, 'checkout', { kind: 'ab-test', id: 'ab', segment: 'nordics', weights: [{ variant: 'control', weight: 1 }, { variant: 'treatment', weight: 1 }] }).workspace;
  return setRuleEnabled(w, 'checkout', 'ab', true).workspace;
}

function startServer(workspace: string): Promise<{ child: ChildProcess; url: string }> {
  return startServe(['--workspace', workspace], { env: { ALLOT_TOKENS: `${TOKEN}:write` }, stderr: 'ignore' });
}

interface Row {
  readonly name: string;
  readonly result: autocannon.Result;
  /** The status every response should have. */
  readonly status: number;
}

async function run(name: string, options: autocannon.Options, status = 200, seconds = SECONDS): Promise<Row> {
  const result = await autocannon({ connections: CONNECTIONS, duration: seconds, ...options });
  return { name, result, status };
}

/** Responses with another status than expected. */
function unexpected(row: Row): number {
  const total = row.result.requests.total;
  const expected = row.status === 200 ? row.result['2xx'] : row.status === 304 ? row.result['3xx'] : 0;
  return total - expected;
}

function print(rows: readonly Row[]): void {
  console.log(`\n${'scenario'.padEnd(44)}${'req/s (mean)'.padStart(14)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'unexpected'.padStart(13)}${'errors'.padStart(8)}`);
  for (const row of rows) {
    const { name, result: r } = row;
    const bad = unexpected(row);
    console.log(`${name.padEnd(44)}${Math.round(r.requests.average).toLocaleString('en-US').padStart(14)}${String(r.latency.p50).padStart(9)}${String(r.latency.p99).padStart(9)}${String(bad).padStart(13)}${String(r.errors + r.timeouts).padStart(8)}`);
  }
  console.log(`\n${CONNECTIONS} connections, ${SECONDS} s per scenario, loopback; node ${process.version}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'allot-server-bench-'));
  const path = join(dir, 'allot.yaml');
  const file = new WorkspaceFile(path);
  await file.update((ws) => ({ workspace: workspaceOps(ws), result: null, warnings: [] }), { create: true });
  const secret = (await file.read()).workspace.clients[0]!.secret;
  const { child, url } = await startServer(path);
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  try {
    const state = await fetch(`${url}/v1/state`, { headers: auth });
    const etag = state.headers.get('etag')!;
    await state.text();
    let n = 0;
    const countries = ['SE', 'NO', 'DK', 'US'];
    const resolveOptions: autocannon.Options = {
      url: `${url}/v1/flags:resolve`,
      method: 'POST',
      headers: auth,
      requests: [
        {
          setupRequest: (req) => {
            n++;
            return { ...req, body: JSON.stringify({ flags: ['flags/checkout'], evaluationContext: { targeting_key: `user-${n}`, country: countries[n % 4] }, clientSecret: secret }) };
          },
        },
      ],
    };
    await run('warm-up', resolveOptions, 200, 1);
    const rows: Row[] = [];
    rows.push(await run('POST /v1/flags:resolve (1 flag, 2 rules)', resolveOptions));
    rows.push(await run('GET /v1/state, If-None-Match → 304', { url: `${url}/v1/state`, headers: { ...auth, 'if-none-match': etag } }, 304));
    rows.push(await run('GET /v1/segments/nordics', { url: `${url}/v1/segments/nordics`, headers: auth }));
    print(rows);
    if (rows.some((r) => unexpected(r) > 0 || r.result.errors > 0)) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
