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
import { canonicalJson, entryHash, GENESIS } from '@allot/pg-store';
import { PgCluster, pgMissing } from '@allot/pg-store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../testing-io.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/bin.js');

/** A two-entry audit log chained as the stores chain it. */
function auditLines(): string {
  let prev = GENESIS;
  let out = '';
  for (const [i, op] of ['CreateSegment', 'AllocateSegment'].entries()) {
    const entry = { revision: i + 1, time: `2026-12-0${i + 1}T10:00:00.000Z`, actor: 'ci', operation: op, request: { i }, resource: 'segments/a', before: null, after: { i }, impact: null };
    const hash = entryHash(entry, prev);
    out += `${canonicalJson({ ...entry, prev, hash })}\n`;
    prev = hash;
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
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const back = join(dir, `served${n}.yaml`);
    expect((await runCli(dir, ['store', 'copy', '--from', url, '--to', back])).code).toBe(0);
    expect(parseWorkspace(await readFile(back, 'utf8')).segments.map((s) => s.id).sort()).toEqual(['after', 'before']);
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
