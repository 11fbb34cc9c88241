/**
 * The PostgreSQL store on a private cluster: migrations (recorded, a newer schema refused),
 * revisions, two `AllotServer`s on one database (a write on one visible on the other within
 * 1 s, through NOTIFY alone and through the revision check alone; concurrent conflicting
 * allocations from both never overlap), and the database going away (reads go on from the
 * last good state and say so, writes 503 with Retry-After, all back when it returns).
 */
import { BUCKETS, parseWorkspace, type Workspace } from '@allot/admin';
import { AllotServer, chainEntry, GENESIS, verifyChain, type AuditChange, type ChainedEntry } from '@allot/server';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SCHEMA_VERSION, SchemaTooNewError } from './migrations.js';
import { PgStore, type PgStoreOptions } from './pg-store.js';
import { PgCluster, pgMissing } from './testing/pg-cluster.js';

const TOKEN = 'pg-store-test-token-0123456789abcdef';

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function serve(url: string, options: PgStoreOptions = {}): Promise<AllotServer> {
  return AllotServer.start({ store: new PgStore(url, options), port: 0, tokens: [{ token: TOKEN, scope: 'write' }] });
}

async function call(server: AllotServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
}

/** Milliseconds until `server` lists segment `id`, polling every 10 ms (up to 5 s). */
async function timeUntilVisible(server: AllotServer, id: string, since: number): Promise<number> {
  for (;;) {
    const r = await call(server, 'GET', `/v1/segments/${id}`);
    if (r.status === 200) return performance.now() - since;
    if (performance.now() - since > 5_000) throw new Error(`segments/${id} not visible after 5 s`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

/** Ids of allocated segments that share a bucket with an earlier one. */
function overlapping(ws: Workspace): string[] {
  const union = new Uint32Array(BUCKETS / 32);
  const out: string[] = [];
  for (const s of ws.segments) {
    if (s.state !== 'ALLOCATED') continue;
    const words = s.buckets!.words();
    let overlap = 0;
    for (let i = 0; i < words.length; i++) {
      overlap |= union[i]! & words[i]!;
      union[i]! |= words[i]!;
    }
    if (overlap !== 0) out.push(s.id);
  }
  return out;
}

describe.skipIf(pgMissing !== null)(`the PostgreSQL store${pgMissing === null ? '' : ` (skipped: ${pgMissing})`}`, () => {
  let cluster: PgCluster;
  let databases = 0;
  const fresh = (): Promise<string> => cluster.createDatabase(`store_${databases++}`);
  beforeAll(async () => {
    cluster = await PgCluster.start();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('records its migrations, creates one account, and refuses a schema newer than it knows', async () => {
    const url = await fresh();
    const server = await serve(url);
    try {
      expect(await sql(url, 'SELECT version, name FROM allot_schema_migrations ORDER BY version')).toEqual([
        { version: 1, name: 'workspace and audit log' },
        { version: 2, name: 'client secrets beside the document' },
      ]);
      const rows = await sql<{ account: string; revision: string }>(url, 'SELECT account, revision FROM allot_workspace');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.revision).toBe('0');
    } finally {
      await server.close();
    }
    // A second start migrates nothing and serves the same account.
    const again = await serve(url);
    await again.close();
    expect(await sql(url, 'SELECT count(*)::int AS n FROM allot_workspace')).toEqual([{ n: 1 }]);

    await sql(url, "INSERT INTO allot_schema_migrations (version, name) VALUES ($1, 'from the future')", [SCHEMA_VERSION + 1]);
    const store = new PgStore(url);
    const refused = await store.ensureExists().then(
      () => null,
      (error: unknown) => error,
    );
    await store.close();
    expect(refused).toBeInstanceOf(SchemaTooNewError);
    expect((refused as Error).message).toContain(`at version ${SCHEMA_VERSION + 1}, newer than this allot knows (version ${SCHEMA_VERSION})`);
  });

  it('raises the revision by one per accepted write, with one audit row each, and says it in allot-revision; refusals and previews add nothing', async () => {
    const url = await fresh();
    const server = await serve(url);
    try {
      const created = await call(server, 'POST', '/v1/segments?segmentId=a', { allocation: { proportion: { value: '0.1' } } });
      expect(created.status).toBe(200);
      expect(created.headers.get('allot-revision')).toBe('1');
      expect((await call(server, 'POST', '/v1/segments?segmentId=a', {})).status).toBe(409); // refused: no revision, no row
      expect((await call(server, 'POST', '/v1/segments/a:allocate?validateOnly=true')).status).toBe(200); // preview: none either
      const allocated = await call(server, 'POST', '/v1/segments/a:allocate');
      expect(allocated.headers.get('allot-revision')).toBe('2');
      expect(await sql(url, 'SELECT revision::int FROM allot_workspace')).toEqual([{ revision: 2 }]);
      // One audit row per accepted write; none for the refusal or the preview.
      expect(await sql(url, 'SELECT revision::int FROM allot_audit_log ORDER BY seq')).toEqual([{ revision: 1 }, { revision: 2 }]);
      const health = await call(server, 'GET', '/healthz');
      expect(health.body).toMatchObject({ status: 'ok', store: 'postgres', database: 'reachable', revision: 2 });
      expect(health.body.revisionAgeSeconds).toBeLessThan(2);
    } finally {
      await server.close();
    }
  });

  it('appends one chained audit row per accepted write, in the write transaction, none for a refused one', async () => {
    const url = await fresh();
    const store = new PgStore(url);
    await store.ensureExists();
    const change = (n: number): AuditChange => ({
      actor: 'ci',
      operation: `Op${n}`,
      request: { n },
      resource: `segments/s${n}`,
      describe: (before, after) => ({ before: before.segments.length, after: after.segments.length, impact: null }),
    });
    try {
      const writes = await Promise.allSettled([
        store.write((w) => ({ workspace: { ...w, environments: [...w.environments, 'staging'] }, result: 1, warnings: [] }), change(1)),
        store.write(() => {
          throw new Error('refused');
        }, change(2)),
        store.write((w) => ({ workspace: w, result: 3, warnings: [] }), change(3)),
        // A change its description refuses (as a team token's scope does, in describe): it
        // fails alone, inside the transaction, and leaves no trace.
        store.write((w) => ({ workspace: { ...w, environments: [...w.environments, 'out-of-scope'] }, result: 4, warnings: [] }), {
          ...change(4),
          describe: () => {
            throw new Error('refused by its description');
          },
        }),
      ]);
      expect(writes.map((w) => w.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      expect((writes[3] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused by its description' });
      const [row] = await sql<{ revision: string; document: string; format: string }>(url, 'SELECT revision, document, format FROM allot_workspace');
      expect(Number(row!.revision)).toBe(2);
      // Stored as JSON by default: every other instance parses it again on each revision.
      expect(row!.format).toBe('json');
      expect(JSON.parse(row!.document)).toMatchObject({ flags: expect.any(Object) });
      expect(row!.document).toContain('staging');
      expect(row!.document).not.toContain('out-of-scope');
      const rows = await sql<{ seq: string; revision: string; entry: string; prev_hash: string; hash: string }>(
        url,
        'SELECT seq, revision, entry, prev_hash, hash FROM allot_audit_log ORDER BY seq',
      );
      expect(rows.map((r) => [Number(r.seq), Number(r.revision)])).toEqual([
        [1, 1],
        [2, 2],
      ]);
      // Each row holds the audit module's entry, chained by its chainEntry, as a line of the file's log holds it.
      let previous: ChainedEntry | null = null;
      for (const r of rows) {
        const { seq, prev, hash, ...content } = JSON.parse(r.entry) as ChainedEntry;
        const expected: ChainedEntry = chainEntry(previous, content);
        expect(r.entry).toBe(JSON.stringify(expected));
        expect([seq, prev, hash]).toEqual([expected.seq, expected.prev, expected.hash]);
        expect([Number(r.seq), r.prev_hash, r.hash]).toEqual([expected.seq, expected.prev, expected.hash]);
        previous = expected;
      }
      expect(rows[0]!.prev_hash).toBe(GENESIS);
      expect(JSON.parse(rows[1]!.entry)).toMatchObject({ seq: 2, revision: 2, actor: 'ci', operation: 'Op3', request: { n: 3 }, resource: 'segments/s3', before: 0, after: 0 });
      expect(await verifyChain(store.auditLog.entries())).toMatchObject({ ok: true, entries: 2 });
    } finally {
      await store.close();
    }
  });

  it('shows a write acknowledged by one instance on another within 1 s: through NOTIFY alone, through the revision check alone, and after the listening connection was cut', async () => {
    const url = await fresh();
    const writer = await serve(url);
    const notified = await serve(url, { pollMs: 60_000 }); // only NOTIFY can wake it in time
    const polling = await serve(url, { pollMs: 200, listen: false }); // only its revision check can
    try {
      const lags: number[] = [];
      for (let i = 0; i < 5; i++) {
        const sent = performance.now();
        expect((await call(writer, 'POST', `/v1/segments?segmentId=s${i}`, {})).status).toBe(200);
        const acked = performance.now();
        // Watched side by side: each lag is its own instance's, not the other's plus its own.
        lags.push(...(await Promise.all([timeUntilVisible(notified, `s${i}`, acked), timeUntilVisible(polling, `s${i}`, acked)])));
        expect(acked).toBeGreaterThan(sent);
      }
      expect(Math.max(...lags)).toBeLessThan(1_000);
      expect((await call(notified, 'GET', '/healthz')).body.revision).toBe(5);
      // /metrics: the revision each serves, and on the one woken by NOTIFY the time from the
      // notification to serving it; the writer's own notifications and the poller count none.
      const metrics = async (server: AllotServer): Promise<Record<string, number>> => {
        const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
        return Object.fromEntries([...text.matchAll(/^(allot_revision|allot_notification_lag_seconds) (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
      };
      const [fromNotify, fromWriter, fromPoll] = await Promise.all([metrics(notified), metrics(writer), metrics(polling)]);
      expect(fromNotify.allot_revision).toBe(5);
      expect(fromNotify.allot_notification_lag_seconds).toBeGreaterThan(0);
      expect(fromNotify.allot_notification_lag_seconds).toBeLessThan(1);
      expect(fromWriter).toEqual({ allot_revision: 5, allot_notification_lag_seconds: 0 });
      expect(fromPoll).toEqual({ allot_revision: 5, allot_notification_lag_seconds: 0 });
      // Cut every listening connection: `notified` listens again by itself and catches up.
      await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN allot_revision'");
      expect((await call(writer, 'POST', '/v1/segments?segmentId=after-cut', {})).status).toBe(200);
      expect(await timeUntilVisible(notified, 'after-cut', performance.now())).toBeLessThan(2_000);
    } finally {
      await Promise.all([writer.close(), notified.close(), polling.close()]);
    }
  });

  it("serves on another instance the state its writer serves, revision after revision (the reader carries unchanged segments' bitsets over from the revision before)", async () => {
    const url = await fresh();
    const writer = await serve(url);
    const reader = await serve(url, { pollMs: 50 });
    const revision = async (server: AllotServer): Promise<unknown> => (await call(server, 'GET', '/healthz')).body.revision;
    const state = async (server: AllotServer): Promise<string> => (await fetch(`${server.url}/v1/state`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    /** The reader's state, once it serves the writer's revision; compared with the writer's. */
    const sameOnBoth = async (): Promise<void> => {
      const target = await revision(writer);
      const since = performance.now();
      while ((await revision(reader)) !== target) {
        if (performance.now() - since > 5_000) throw new Error(`the reader never reached revision ${String(target)}`);
        await new Promise((done) => setTimeout(done, 10));
      }
      expect(await state(reader)).toBe(await state(writer));
    };
    try {
      for (const id of ['s1', 's2', 's3']) {
        expect((await call(writer, 'POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: '0.1' } } })).status).toBe(200);
        expect((await call(writer, 'POST', `/v1/segments/${id}:allocate`)).status).toBe(200);
      }
      await sameOnBoth(); // the reader compiled every set once
      expect((await call(writer, 'POST', '/v1/segments/s2:archive')).status).toBe(200);
      expect((await call(writer, 'POST', '/v1/segments?segmentId=s4', { allocation: { proportion: { value: '0.1' } } })).status).toBe(200);
      expect((await call(writer, 'POST', '/v1/segments/s4:allocate')).status).toBe(200);
      // s1 ramped: the same id with other buckets, which must not keep its old bitset.
      expect((await call(writer, 'PATCH', '/v1/segments/s1', { allocation: { proportion: { value: '0.2' } } })).status).toBe(200);
      await sameOnBoth();
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('never gives two instances overlapping buckets: 40 conflicting allocations spread over two servers at once', async () => {
    const url = await fresh();
    const a = await serve(url);
    const b = await serve(url);
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `x${i}`);
      for (const id of ids) {
        expect((await call(a, 'POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: '0.04' }, exclusivityTags: ['t'], exclusiveTo: ['t'] } })).status).toBe(200);
      }
      const results = await Promise.all(ids.map((id, i) => call(i % 2 === 0 ? a : b, 'POST', `/v1/segments/${id}:allocate`)));
      const ok = ids.filter((_, i) => results[i]!.status === 200);
      expect(ok).toHaveLength(25); // 25 × 40,000 buckets fill the space
      expect(results.filter((r) => r.status !== 200).map((r) => r.status)).toEqual(Array.from({ length: 15 }, () => 409));
      const [row] = await sql<{ document: string }>(url, 'SELECT document FROM allot_workspace');
      const ws = parseWorkspace(row!.document);
      expect(overlapping(ws)).toEqual([]);
      expect(ws.segments.filter((s) => s.state === 'ALLOCATED').map((s) => s.id).sort()).toEqual(ok.sort());
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('with the database gone, serves reads from the last good state and says so, answers writes 503 with Retry-After, and recovers', async () => {
    const url = await fresh();
    const server = await serve(url, { pollMs: 100, connectTimeoutMs: 500 });
    try {
      expect((await call(server, 'POST', '/v1/segments?segmentId=kept', {})).status).toBe(200);
      await cluster.stopServer();
      try {
        await new Promise((done) => setTimeout(done, 1_200));
        const read = await call(server, 'GET', '/v1/segments/kept');
        expect(read.status).toBe(200);
        expect(read.headers.get('allot-revision')).toBe('1');
        expect(Number(read.headers.get('allot-revision-age'))).toBeGreaterThanOrEqual(1);
        const health = await call(server, 'GET', '/healthz');
        expect(health.status).toBe(200);
        expect(health.body).toMatchObject({ status: 'degraded', database: 'unreachable', revision: 1 });
        expect(health.body.revisionAgeSeconds).toBeGreaterThanOrEqual(1);
        const write = await call(server, 'POST', '/v1/segments?segmentId=lost', {});
        expect(write.status).toBe(503);
        expect(write.headers.get('retry-after')).toBe('1');
        expect(write.body.error).toMatchObject({ code: 'UNAVAILABLE' });
      } finally {
        await cluster.startServer();
      }
      let health = await call(server, 'GET', '/healthz');
      for (let i = 0; i < 50 && health.body.database !== 'reachable'; i++) {
        await new Promise((done) => setTimeout(done, 100));
        health = await call(server, 'GET', '/healthz');
      }
      expect(health.body).toMatchObject({ status: 'ok', database: 'reachable', revision: 1 });
      expect((await call(server, 'POST', '/v1/segments?segmentId=after', {})).status).toBe(200);
      expect((await sql<{ id: string }>(url, 'SELECT revision::int AS id FROM allot_workspace'))[0]).toEqual({ id: 2 });
    } finally {
      await server.close();
    }
  });
});
