/**
 * `allot log` over the audit log a real server wrote, and `allot log verify` finding (and
 * naming) each kind of tampering with the JSONL file: an edited, deleted, inserted or
 * swapped entry.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AllotServer, auditLogPath } from '@allot/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../testing-io.js';

const TOKEN = 'cli-log-test-token-0123456789abcdef';

describe('allot log', () => {
  let dir: string;
  let lines: string[];
  const W = ['--workspace', 'ws.yaml'];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allot-log-'));
    const server = await AllotServer.start({ workspace: join(dir, 'ws.yaml'), port: 0, tokens: [{ name: 'search', token: TOKEN, scope: 'write' }] });
    try {
      const call = (path: string, body: unknown): Promise<Response> =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      for (const id of ['search-a', 'search-b']) {
        expect((await call(`/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: '0.1' } } })).status).toBe(200);
        expect((await call(`/v1/segments/${id}:allocate`, {})).status).toBe(200);
      }
    } finally {
      await server.close();
    }
    lines = (await readFile(auditLogPath(join(dir, 'ws.yaml')), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(5);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the entries of a resource, with whom each change moved', async () => {
    const out = await runCli(dir, ['log', ...W, '--resource', 'segments/search-a']);
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/^#2 {2}\S+ {2}search {2}POST \/v1\/segments {2}segments\/search-a\n#3 {2}\S+ {2}search {2}POST \/v1\/segments\/\{segment\}:allocate {2}segments\/search-a\n {4}segments\/search-a: enter 10%, leave 0%$/);
    const json = await runCli(dir, ['log', ...W, '--actor', 'search', '--json']);
    expect((JSON.parse(json.out) as { seq: number }[]).map((e) => e.seq)).toEqual([2, 3, 4, 5]);
  });

  it('verify: exit 0 on an intact chain; exit 1 naming the entry edited, deleted, inserted or swapped', async () => {
    const path = auditLogPath(join(dir, 'ws.yaml'));
    const ok = await runCli(dir, ['log', 'verify', ...W]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/5 entries, the chain verifies; head [0-9a-f]{64}/);
    const cases: [string, string[], RegExp][] = [
      ['edited', lines.map((l, i) => (i === 2 ? l.replace('"actor":"search"', '"actor":"admin"') : l)), /entry #3 \(3rd in the log\) was edited/],
      ['deleted', lines.filter((_, i) => i !== 1), /entry #2 was deleted/],
      ['inserted', [...lines.slice(0, 3), lines[1]!, ...lines.slice(3)], /entry #2 \(4th in the log\) was inserted/],
      ['swapped', [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)], /entry #3 \(2nd in the log\) was moved: it and the 3rd entry are in each other's place/],
    ];
    try {
      for (const [what, tampered, message] of cases) {
        await writeFile(path, tampered.map((l) => `${l}\n`).join(''));
        const r = await runCli(dir, ['log', 'verify', ...W]);
        expect(r.code, what).toBe(1);
        expect(r.err, what).toMatch(message);
      }
    } finally {
      await writeFile(path, lines.map((l) => `${l}\n`).join(''));
    }
  });
});
