import { readFile, writeFile } from 'node:fs/promises';

import { afterEach, describe, expect, it } from 'vitest';

import { defaultTokenName } from '../auth/tokens.js';
import { READ_TOKEN, startTestServer, WRITE_TOKEN, type TestServer } from '../testing/test-server.js';
import { AllotServer } from '../server.js';
import type { ChainedEntry } from './entry.js';
import { auditLogPath, FileAuditLog } from './file-audit-log.js';

const SEGMENT = { displayName: 'Ranking 1', allocation: { proportion: { value: '0.1' }, exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] } };

async function entries(workspace: string): Promise<ChainedEntry[]> {
  return new FileAuditLog(workspace).list();
}

describe('the audit log on the file store', () => {
  let t: TestServer | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('records each accepted change: revision, actor by name, operation and body, the resource before and after, the impact', async () => {
    t = await startTestServer({ tokens: [{ name: 'admin', token: WRITE_TOKEN, scope: 'write' }, { token: READ_TOKEN, scope: 'read' }] });
    const start = await entries(t.workspace);
    expect(start.map((e) => [e.seq, e.actor, e.operation])).toEqual([[1, 'allot', 'create workspace']]);

    expect((await t.call('POST', '/v1/segments?segmentId=ranking-1', SEGMENT)).status).toBe(200);
    expect((await t.call('POST', '/v1/segments/ranking-1:allocate', {})).status).toBe(200);
    const log = await entries(t.workspace);
    expect(log).toHaveLength(3);
    const [, created, allocated] = log as [ChainedEntry, ChainedEntry, ChainedEntry];
    expect(created).toMatchObject({
      seq: 2,
      actor: 'admin',
      operation: 'POST /v1/segments',
      request: { path: '/v1/segments?segmentId=ranking-1', body: SEGMENT },
      resource: 'segments/ranking-1',
      before: { 'segments/ranking-1': null },
      after: { 'segments/ranking-1': { name: 'segments/ranking-1', state: 'UNALLOCATED' } },
    });
    expect(allocated).toMatchObject({
      seq: 3,
      operation: 'POST /v1/segments/{segment}:allocate',
      resource: 'segments/ranking-1',
      before: { 'segments/ranking-1': { state: 'UNALLOCATED', allocatedBuckets: 0 } },
      after: { 'segments/ranking-1': { state: 'ALLOCATED', allocatedBuckets: 100_000 } },
      impact: { flags: [], segments: [{ segment: 'segments/ranking-1', enter: 0.1, leave: 0, buckets: { before: 0, after: 100_000 } }] },
    });
    expect(allocated.etag).toBeDefined();
    expect(Date.parse(allocated.time)).toBeGreaterThan(Date.now() - 60_000);
    // The secret never reaches the log.
    expect(await readFile(auditLogPath(t.workspace), 'utf8')).not.toContain(WRITE_TOKEN);
    expect(await new FileAuditLog(t.workspace).verify()).toMatchObject({ ok: true, entries: 3, seq: 3 });
  });

  it('writes no entry for refusals (auth, validation, etag, no space) or validateOnly previews', async () => {
    t = await startTestServer();
    await t.call('POST', '/v1/segments?segmentId=ranking-1', SEGMENT);
    const before = await readFile(auditLogPath(t.workspace), 'utf8');
    expect((await t.call('POST', '/v1/segments?segmentId=ranking-1', SEGMENT)).status).toBe(409);
    expect((await t.call('POST', '/v1/segments?segmentId=ranking-2', SEGMENT, READ_TOKEN)).status).toBe(403);
    expect((await t.call('POST', '/v1/segments?segmentId=ranking-2', { displayName: 7 })).status).toBe(400);
    expect((await t.request('/v1/segments/ranking-1:allocate', { method: 'POST', json: {}, headers: { 'if-match': '"nope"' } })).status).toBe(412);
    expect((await t.call('PATCH', '/v1/segments/ranking-1?updateMask=allocation.proportion', { allocation: { proportion: { value: '0.5' } } })).status).toBe(200);
    const afterPatch = await readFile(auditLogPath(t.workspace), 'utf8');
    expect((await t.call('POST', '/v1/segments/ranking-1:allocate?validateOnly=true', {})).status).toBe(200);
    expect((await t.call('POST', '/v1/segments?segmentId=ranking-3&validateOnly=true', SEGMENT, READ_TOKEN)).status).toBe(200);
    expect(await readFile(auditLogPath(t.workspace), 'utf8')).toBe(afterPatch);
    expect(afterPatch.startsWith(before)).toBe(true);
    const log = await entries(t.workspace);
    expect(log.map((e) => e.operation)).toEqual(['create workspace', 'POST /v1/segments', 'PATCH /v1/segments/{segment}']);
    // Unnamed tokens are named by a digest prefix, never by the secret.
    expect(log[1]!.actor).toBe(defaultTokenName(WRITE_TOKEN));
    expect(log[1]!.actor).toMatch(/^token-[0-9a-f]{8}$/);
  });

  it('records a hand edit of the workspace file on the next load, by "file edit", with its before and after', async () => {
    t = await startTestServer();
    await t.call('POST', '/v1/segments?segmentId=ranking-1', SEGMENT);
    await t.server.close();
    const text = await t.fileBytes();
    await writeFile(t.workspace, text.replace('displayName: Ranking 1', 'displayName: Renamed by hand'));
    const restarted = await AllotServer.start({ workspace: t.workspace, port: 0 });
    try {
      const log = await entries(t.workspace);
      expect(log.at(-1)).toMatchObject({
        seq: 3,
        actor: 'file edit',
        operation: 'file edit',
        request: null,
        impact: null,
        resource: 'segments/ranking-1',
        before: { 'segments/ranking-1': { displayName: 'Ranking 1' } },
        after: { 'segments/ranking-1': { displayName: 'Renamed by hand' } },
      });
      expect(Object.keys(log.at(-1)!.after as object)).toEqual(['segments/ranking-1']);
      // Unchanged since: the next start records nothing.
    } finally {
      await restarted.close();
    }
    const again = await AllotServer.start({ workspace: t.workspace, port: 0 });
    await again.close();
    expect(await entries(t.workspace)).toHaveLength(3);
    expect(await new FileAuditLog(t.workspace).verify()).toMatchObject({ ok: true, entries: 3 });
  });

  it('records a hand edit made while the server runs before the next write, and the write after it', async () => {
    t = await startTestServer();
    await t.call('POST', '/v1/segments?segmentId=ranking-1', SEGMENT);
    const text = await t.fileBytes();
    await writeFile(t.workspace, text.replace('proportion: 0.1', 'proportion: 0.2'));
    expect((await t.call('POST', '/v1/segments/ranking-1:allocate', {})).status).toBe(200);
    const log = await entries(t.workspace);
    expect(log.slice(-2).map((e) => [e.seq, e.actor, Object.keys(e.after as object)])).toEqual([
      [3, 'file edit', ['segments/ranking-1']],
      [4, defaultTokenName(WRITE_TOKEN), ['segments/ranking-1']],
    ]);
    expect(log[2]).toMatchObject({
      before: { 'segments/ranking-1': { allocation: { proportion: { value: '0.1' } } } },
      after: { 'segments/ranking-1': { allocation: { proportion: { value: '0.2' } } } },
    });
  });

  it('gives every write of one group commit its own entry, in order, the last one carrying the file etag', async () => {
    t = await startTestServer();
    const ids = Array.from({ length: 12 }, (_, i) => `seg-${i}`);
    const answers = await Promise.all(ids.map((id) => t!.call('POST', `/v1/segments?segmentId=${id}`, { ...SEGMENT, allocation: { ...SEGMENT.allocation, proportion: { value: '0.05' } } })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const log = await entries(t.workspace);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(new Set(log.slice(1).map((e) => e.resource))).toEqual(new Set(ids.map((id) => `segments/${id}`)));
    expect(log.at(-1)!.etag).toBeDefined();
    expect(await new FileAuditLog(t.workspace).verify()).toMatchObject({ ok: true, entries: 13 });
  });
});
