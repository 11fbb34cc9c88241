/**
 * `allot store copy` and `allot serve --store` on a private PostgreSQL cluster: a workspace
 * file and its audit log copied into a database and back are byte-identical; `allot serve`
 * on the database (from --store or ALLOT_STORE) serves and takes writes, and what it wrote
 * copies back out; refusals say what was wrong.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseWorkspace } from '@allot/admin';
import { PgCluster, pgMissing } from '@allot/pg-store/testing';
import { chainEntry, type ChainedEntry } from '@allot/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../testing-io.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/bin.js');

/** An audit log of `count` entries of the audit module's shape, chained as both stores chain them (`chainEntry`). */
function auditLines(count = 2): string {
  let previous: ChainedEntry | null = null;
  let out = '';
  for (let i = 0; i < count; i++) {
    previous = chainEntry(previous, {
      revision: i + 1,
      time: `2026-12-0${i + 1}T10:00:00.000Z`,
      actor: 'ci',
      operation: i % 2 === 0 ? 'POST /v1/segments' : 'POST /v1/segments/{segment}:allocate',
      request: { path: '/v1/segments?segmentId=a', body: { i } },
      resource: 'segments/a',
      before: { 'segments/a': i === 0 ? null : { i: i - 1 } },
      after: { 'segments/a': { i } },
      impact: { flags: [], segments: [] },
    });
    out += `${JSON.stringify(previous)}\n`;
  }
  return out;
}

describe.skipIf(pgMissing !== null)(`allot store copy and allot serve --store${pgMissing === null ? '' : ` (skipped: ${pgMissing})`}`, () => {
  let cluster: PgCluster;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    cluster = await PgCluster.start();
    dir = await mkdtemp(join(tmpdir(), 'allot-store-cli-'));
  });
  afterAll(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('copies a workspace file and its audit log into a database and back, byte for byte', async () => {
    const w = join(dir, `w${n}.yaml`);
    expect((await runCli(dir, ['segments', 'create', 'a', '--workspace', w, '--proportion', '0.25'])).code).toBe(0);
    expect((await runCli(dir, ['segments', 'allocate', 'a', '--workspace', w])).code).toBe(0);
    // A hand-formatted touch: a comment, which only a byte-for-byte copy keeps.
    await writeFile(w, `# edited by hand\n${await readFile(w, 'utf8')}`);
    await writeFile(join(dir, `w${n}.audit.jsonl`), auditLines());
    const url = await cluster.createDatabase(`copy_${n++}`);

    const into = await runCli(dir, ['store', 'copy', '--from', w, '--to', url]);
    expect(into.err).toContain('(revision 2, 2 audit entries)');
    expect(into.code).toBe(0);
    const back = join(dir, 'back.yaml');
    const out = await runCli(dir, ['store', 'copy', '--from', url, '--to', back]);
    expect(out.code).toBe(0);
    expect(await readFile(back, 'utf8')).toBe(await readFile(w, 'utf8'));
    expect(await readFile(join(dir, 'back.audit.jsonl'), 'utf8')).toBe(auditLines());

    // Never overwrites, and says what to do.
    const again = await runCli(dir, ['store', 'copy', '--from', w, '--to', url]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already holds account .*copy into a database without it/);
    const over = await runCli(dir, ['store', 'copy', '--from', url, '--to', back]);
    expect(over.code).toBe(1);
    expect(over.err).toContain('back.yaml exists; copy to a new path');
    // The copied log verifies in the table, with the one verify of both stores.
    const verified = await runCli(dir, ['log', 'verify', '--store', url]);
    expect(verified.out).toMatch(/account \S+, table allot_audit_log\): 2 entries, the chain verifies/);
    expect(verified.code).toBe(0);
    const twoFiles = await runCli(dir, ['store', 'copy', '--from', w, '--to', back]);
    expect(twoFiles.err).toContain('one of --from and --to must be a workspace file and the other a postgres:// URL (got two files)');
  });

  it.skipIf(!existsSync(CLI))('serves the copied workspace from the database (ALLOT_STORE), takes a write, and the write copies back out', async () => {
    const w = join(dir, `w${n}.yaml`);
    expect((await runCli(dir, ['segments', 'create', 'before', '--workspace', w])).code).toBe(0);
    const url = await cluster.createDatabase(`serve_${n++}`);
    expect((await runCli(dir, ['store', 'copy', '--from', w, '--to', url])).code).toBe(0);

    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--quiet'], { env: { ...process.env, ALLOT_STORE: url, ALLOT_TOKENS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let printed = '';
      const base = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          printed += chunk.toString();
          const m = /listening on (\S+)/.exec(printed);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => { reject(new Error(`allot serve exited ${code}`)); });
      });
      expect((await fetch(`${base}/v1/segments/before`)).status).toBe(200);
      const created = await fetch(`${base}/v1/segments?segmentId=after`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(created.status).toBe(200);
      expect(created.headers.get('allot-revision')).toBe('1');
      const health = (await (await fetch(`${base}/healthz`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'ok', store: 'postgres', database: 'reachable', revision: 1 });
      // GET /v1/auditLog reads the table, with the same filters.
      const audit = (await (await fetch(`${base}/v1/auditLog?resource=segments/after`)).json()) as { entries: { seq: number; operation: string }[]; nextPageToken: string };
      expect(audit).toMatchObject({ entries: [{ seq: 1, operation: 'POST /v1/segments' }], nextPageToken: '' });
      expect(((await (await fetch(`${base}/v1/auditLog?resource=segments/before`)).json()) as { entries: unknown[] }).entries).toEqual([]);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const back = join(dir, `served${n}.yaml`);
    expect((await runCli(dir, ['store', 'copy', '--from', url, '--to', back])).code).toBe(0);
    // The database holds JSON since the write; the copy out is the file's own format, YAML.
    const servedText = await readFile(back, 'utf8');
    expect(servedText.trimStart().startsWith('{')).toBe(false);
    expect(parseWorkspace(servedText).segments.map((s) => s.id).sort()).toEqual(['after', 'before']);
    // The served write's entry, described by the HTTP resource inside the transaction, in the table and in the copy.
    const listed = await runCli(dir, ['log', '--json'], '', { ALLOT_STORE: url });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toMatchObject([
      {
        seq: 1,
        revision: 1,
        operation: 'POST /v1/segments',
        request: { path: '/v1/segments?segmentId=after', body: {} },
        resource: 'segments/after',
        before: { 'segments/after': null },
        after: { 'segments/after': { name: 'segments/after' } },
      },
    ]);
    const copied = await runCli(dir, ['log', 'verify', '--workspace', back]);
    expect(copied.out).toContain('1 entries, the chain verifies');
    expect(copied.code).toBe(0);
  });

  it('log verify --store (and ALLOT_STORE) names the row edited, deleted, inserted or swapped in the audit table', async () => {
    const w = join(dir, `w${n}.yaml`);
    expect((await runCli(dir, ['segments', 'create', 'a', '--workspace', w])).code).toBe(0);
    await writeFile(join(dir, `w${n++}.audit.jsonl`), auditLines(5));
    const cases: [string, string[], RegExp][] = [
      ['edited', [`UPDATE allot_audit_log SET entry = replace(entry, '"actor":"ci"', '"actor":"admin"') WHERE seq = 3`], /entry #3 \(3rd in the log\) was edited/],
      ['deleted', ['DELETE FROM allot_audit_log WHERE seq = 2'], /entry #2 was deleted/],
      [
        'inserted',
        [
          'UPDATE allot_audit_log SET seq = seq + 100 WHERE seq >= 4',
          'UPDATE allot_audit_log SET seq = seq - 99 WHERE seq >= 104',
          'INSERT INTO allot_audit_log (account, seq, revision, time, actor, operation, resource, entry, prev_hash, hash) SELECT account, 4, NULL, time, actor, operation, resource, entry, prev_hash, hash FROM allot_audit_log WHERE seq = 2',
        ],
        /entry #2 \(4th in the log\) was inserted/,
      ],
      [
        'swapped',
        ['UPDATE allot_audit_log SET seq = 100 WHERE seq = 2', 'UPDATE allot_audit_log SET seq = 2 WHERE seq = 3', 'UPDATE allot_audit_log SET seq = 3 WHERE seq = 100'],
        /entry #3 \(2nd in the log\) was moved: it and the 3rd entry are in each other's place/,
      ],
    ];
    const pg = (await import('pg')).default;
    for (const [what, statements, message] of cases) {
      const url = await cluster.createDatabase(`tamper_${what}`);
      expect((await runCli(dir, ['store', 'copy', '--from', w, '--to', url])).code, what).toBe(0);
      expect((await runCli(dir, ['log', 'verify', '--store', url])).code, what).toBe(0);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const statement of statements) await client.query(statement);
      } finally {
        await client.end();
      }
      const r = await runCli(dir, ['log', 'verify'], '', { ALLOT_STORE: url });
      expect(r.code, what).toBe(1);
      expect(r.err, what).toMatch(message);
    }
  });

  it('refuses --workspace with --store, and a database schema newer than it knows', async () => {
    const both = await runCli(dir, ['serve', '--workspace', 'w.yaml', '--store', cluster.url()]);
    expect(both.code).toBe(2);
    expect(both.err).toContain('give --workspace or --store, not both');

    const url = await cluster.createDatabase(`future_${n++}`);
    const w = join(dir, `w${n}.yaml`);
    expect((await runCli(dir, ['segments', 'create', 'x', '--workspace', w])).code).toBe(0);
    expect((await runCli(dir, ['store', 'copy', '--from', w, '--to', url])).code).toBe(0);
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("INSERT INTO allot_schema_migrations (version, name) VALUES (999, 'from the future')");
    await client.end();
    const refused = await runCli(dir, ['serve', '--store', url, '--port', '0']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('could not start: the database\'s allot schema is at version 999, newer than this allot knows');
  });
});
