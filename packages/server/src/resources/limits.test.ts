/**
 * Issue 21's limits over HTTP: segments per workspace (`workspace.maxSegments`) and values
 * in one list (`targeting.maxValues`: an individual-targeting rule, an `in` list, a
 * Confidence `setRule`). At the limit a write is accepted; past it, 400 INVALID_ARGUMENT with
 * `limit.{name, max, actual}`, the field, a message saying what to do, and the file unchanged.
 */
import { applyOperation, newWorkspace, TARGETING_LIMITS, WORKSPACE_LIMITS, type Outcome, type Segment, type Workspace } from '@allot/admin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Store, StoreStatus, WriteResult } from '../store/store.js';
import { WorkspaceSnapshot } from '../store/workspace-store.js';
import { READ_TOKEN, startTestServer, type TestServer } from '../testing/test-server.js';

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string; readonly limit?: unknown };
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  expect((await s.call('POST', '/v1/flags?flagId=f', { variants: [{ name: 'on', value: true }] })).status).toBe(200);
});
afterAll(async () => {
  await s.stop();
});

/** `call`, expecting a 400 over `limit`; the stored workspace is left byte-identical. */
async function refused(method: string, path: string, body: unknown, limit: { name: string; max: number; actual: number }, token?: string): Promise<ErrorBody['error']> {
  const bytes = await s.fileBytes();
  const res = await s.call(method, path, body, token);
  expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(400);
  const { error } = res.body as unknown as ErrorBody;
  expect(error.code).toBe('INVALID_ARGUMENT');
  expect(error.limit).toEqual(limit);
  expect(await s.fileBytes()).toBe(bytes);
  return error;
}

describe('targeting.maxValues', () => {
  const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `user-${i}`);
  const max = TARGETING_LIMITS.maxValues;

  it('an individual-targeting rule: the limit is accepted, one more refused (create, update, preview)', async () => {
    const ok = await s.call('POST', '/v1/flags/f/rules?ruleId=vip', { kind: 'individual', attribute: 'user_id', values: ids(max), variant: 'on' });
    expect(ok.status, JSON.stringify(ok.body).slice(0, 300)).toBe(200);
    const limit = { name: 'targeting.maxValues', max, actual: max + 1 };
    const create = await refused('POST', '/v1/flags/f/rules?ruleId=more', { kind: 'individual', attribute: 'user_id', values: ids(max + 1), variant: 'on' }, limit);
    expect(create.field).toBe('values');
    expect(create.message).toContain('10001 values, over the limit of 10000 in one individual-targeting rule (targeting.maxValues); put a cohort this large in a segment');
    expect((await refused('PATCH', '/v1/flags/f/rules/vip', { values: ids(max + 1) }, limit)).field).toBe('values');
    await refused('PATCH', '/v1/flags/f/rules/vip?validateOnly=true', { values: ids(max + 1) }, limit, READ_TOKEN);
  });

  it('an in-list in an expression, and a Confidence setRule', async () => {
    const list = (n: number): string => `id in [${Array.from({ length: n }, (_, i) => i).join(',')}]`;
    expect((await s.call('POST', '/v1/segments?segmentId=listed', { targeting: list(max) })).status).toBe(200);
    const inList = await refused('PATCH', '/v1/segments/listed', { targeting: list(max + 1) }, { name: 'targeting.maxValues', max, actual: max + 1 });
    expect(inList.field).toBe('targeting');
    expect(inList.message).toContain('more than 10000 values in one list (targeting.maxValues)');
    const setRule = (n: number): unknown => ({
      criteria: { c: { attribute: { attributeName: 'id', setRule: { values: Array.from({ length: n }, (_, i) => ({ numberValue: i })) } } } },
      expression: { ref: 'c' },
    });
    const confidence = await refused('POST', '/v1/segments?segmentId=cohort', { targeting: setRule(max + 1) }, { name: 'targeting.maxValues', max, actual: max + 1 });
    expect(confidence.field).toBe('targeting.criteria.c.attribute.setRule.values');
    expect(confidence.message).toContain('over the limit of 10000 in one list (targeting.maxValues)');
    // 10,000 numbers fit the 64 KiB of one expression too.
    const atLimit = await s.call('POST', '/v1/segments?segmentId=cohort', { targeting: setRule(max) });
    expect(atLimit.status, JSON.stringify(atLimit.body).slice(0, 300)).toBe(200);
  });
});

/**
 * A store holding the workspace in memory, writing through `applyOperation` as the file and
 * PostgreSQL stores do. The file store would have the server compile and load the state of
 * its 20,000 segments on start (core builds a 125 KB set for each unallocated one: seconds
 * and gigabytes); this one publishes no snapshot, so the test measures the refusal alone.
 * The writes up to the limit, and the refusal through the file store's own update, are
 * tested through admin (workspace-file.test.ts).
 */
class MemoryStore implements Store {
  private snapshot: WorkspaceSnapshot;
  constructor(workspace: Workspace) {
    this.snapshot = new WorkspaceSnapshot(workspace, 'memory-0');
  }
  ensureExists(): Promise<{ created: boolean }> {
    return Promise.resolve({ created: false });
  }
  current(): Promise<WorkspaceSnapshot> {
    return Promise.resolve(this.snapshot);
  }
  write<R>(operation: (workspace: Workspace) => Outcome<R>): Promise<WriteResult<R>> {
    try {
      const out = applyOperation(this.snapshot.workspace, operation);
      this.snapshot = new WorkspaceSnapshot(out.workspace, `memory-${Date.now()}`);
      return Promise.resolve({ result: out.result, warnings: out.warnings, snapshot: this.snapshot });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
  idle(): Promise<void> {
    return Promise.resolve();
  }
  status(): StoreStatus {
    return { store: 'file', revision: null, revisionAgeMs: null, databaseReachable: null };
  }
  subscribe(): () => void {
    return () => undefined;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('workspace.maxSegments', () => {
  it('a workspace at the limit refuses one more segment, and previews the refusal', { timeout: 60_000 }, async () => {
    const max = WORKSPACE_LIMITS.maxSegments;
    const filler = (i: number): Segment => ({
      id: `filler-${i}`,
      displayName: `filler-${i}`,
      targeting: null,
      proportion: 0.001,
      exclusivityTags: [],
      exclusiveTo: [],
      state: i < 10 ? 'ARCHIVED' : 'UNALLOCATED',
      buckets: null,
    });
    // 10 archived segments, which do not count, and the limit's worth of others.
    const workspace = { ...newWorkspace({ account: 'limits', seed: 'limits', clientSecret: 'secret' }), segments: Array.from({ length: max + 10 }, (_, i) => filler(i)) };
    const store = new MemoryStore(workspace);
    const full = await startTestServer({ store });
    try {
      for (const [query, token] of [['', undefined], ['&validateOnly=true', READ_TOKEN]] as const) {
        const res = await full.call('POST', `/v1/segments?segmentId=one-more${query}`, {}, token);
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(400);
        const { error } = res.body as unknown as ErrorBody;
        expect(error.code).toBe('INVALID_ARGUMENT');
        expect(error.field).toBe('segments');
        expect(error.limit).toEqual({ name: 'workspace.maxSegments', max, actual: max + 1 });
        expect(error.message).toContain('the workspace would hold 20001 segments that are not archived, over the limit of 20000 (workspace.maxSegments); archive segments');
      }
      expect((await store.current()).workspace).toBe(workspace);
    } finally {
      await full.stop();
    }
  });
});
