/**
 * `?validateOnly=true`: the answer the real write gives plus its impact (on what it can affect), the same refusals,
 * a read token accepted, and the workspace file byte-identical afterwards.
 */
import { previewImpact, type Workspace } from '@allot/admin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, type TestServer } from '../testing/test-server.js';
import { impactJson } from './validate-only.js';

describe('validateOnly', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    for (const [id, p] of [['search-a', '0.3'], ['search-b', '0.5'], ['pricing', '0.2']] as const) {
      const created = await s.call('POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: p }, exclusivityTags: ['search'], exclusiveTo: ['search'] } });
      expect(created.status).toBe(200);
    }
    expect((await s.call('POST', '/v1/segments/search-a:allocate')).status).toBe(200);
    expect((await s.call('POST', '/v1/flags?flagId=ranking', { variants: [{ name: 'old', value: 1 }, { name: 'new', value: 2 }] })).status).toBe(200);
    expect((await s.call('POST', '/v1/flags/ranking/rules?ruleId=test', { kind: 'ab-test', segment: 'segments/search-a', weights: { old: 1, new: 1 }, enabled: true })).status).toBe(200);
  });
  afterAll(async () => {
    await s.stop();
  });

  const workspace = async (): Promise<Workspace> => s.readWorkspace();

  /** Previews `path` with a read token, then makes the real write; both answers and the file's diff. */
  async function previewThenWrite(method: string, path: string, body?: unknown): Promise<{ preview: Record<string, unknown>; real: Record<string, unknown>; expected: unknown }> {
    const bytes = await s.fileBytes();
    const before = await workspace();
    const sep = path.includes('?') ? '&' : '?';
    const preview = await s.call(method, `${path}${sep}validateOnly=true`, body, READ_TOKEN);
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(await s.fileBytes()).toBe(bytes);
    const real = await s.call(method, path, body);
    expect(real.status).toBe(200);
    return { preview: preview.body, real: real.body, expected: impactJson(previewImpact(before, await workspace(), { affectedOnly: true })) };
  }

  it('previews an allocation: the real answer plus the impact the write then has, the file untouched', async () => {
    const { preview, real, expected } = await previewThenWrite('POST', '/v1/segments/search-b:allocate');
    const { impact, validateOnly, ...answer } = preview;
    expect(validateOnly).toBe(true);
    expect(answer).toEqual(real);
    expect(impact).toEqual(expected);
    const seg = (impact as { segments: { segment: string; buckets: { added: number } }[] }).segments.find((x) => x.segment === 'search-b');
    expect(seg?.buckets.added).toBe(500_000);
  });

  it('previews a proportion change with force, and a retag, as the writes do', async () => {
    const lowered = await previewThenWrite('PATCH', '/v1/segments/search-a?updateMask=allocation.proportion&force=true', { allocation: { proportion: { value: '0.2' } } });
    expect(lowered.preview.reallocation).toEqual(lowered.real.reallocation);
    expect(lowered.preview.impact).toEqual(lowered.expected);
    const flag = (lowered.preview.impact as { flags: { flag: string; changed: boolean; stop: { exact: number } }[] }).flags.find((f) => f.flag === 'ranking');
    expect(flag?.changed).toBe(true);
    expect(flag?.stop.exact).toBeCloseTo(0.1, 12);
    const retag = await previewThenWrite('PATCH', '/v1/segments/pricing', { allocation: { exclusivityTags: ['pricing'] } });
    expect(retag.preview.impact).toEqual(retag.expected);
  });

  it('previews flag and rule writes', async () => {
    const moved = await previewThenWrite('PATCH', '/v1/flags/ranking/rules/test', { weights: { old: 1, new: 3 } });
    expect(moved.preview.impact).toEqual(moved.expected);
    expect({ ...moved.preview, impact: undefined, validateOnly: undefined }).toEqual({ ...moved.real, impact: undefined, validateOnly: undefined });
    const disabled = await previewThenWrite('POST', '/v1/flags/ranking/rules/test:disable', {});
    expect(disabled.preview.impact).toEqual(disabled.expected);
  });

  it('previews refusals with the error the write gives', async () => {
    const bytes = await s.fileBytes();
    // search-a 0.2 + search-b 0.5 hold 70% of "search"; 0.4 more does not fit.
    expect((await s.call('POST', '/v1/flags/ranking/rules/test:enable', {})).status).toBe(200);
    expect((await s.call('POST', '/v1/segments?segmentId=search-c', { allocation: { proportion: { value: '0.4' }, exclusivityTags: ['search'], exclusiveTo: ['search'] } })).status).toBe(200);
    const createdBytes = await s.fileBytes();
    expect(createdBytes).not.toBe(bytes);
    for (const [method, path, body] of [
      ['POST', '/v1/segments/search-c:allocate', {}],
      // search-a serves the enabled rule ranking/test: lowering it needs force.
      ['PATCH', '/v1/segments/search-a?updateMask=allocation.proportion', { allocation: { proportion: { value: '0.1' } } }],
      ['PATCH', '/v1/segments/search-b', { etag: 'stale', displayName: 'x' }],
    ] as const) {
      const preview = await s.call(method, `${path}${path.includes('?') ? '&' : '?'}validateOnly=true`, body, READ_TOKEN);
      expect(await s.fileBytes()).toBe(createdBytes);
      const real = await s.call(method, path, body);
      expect(preview.status, `${method} ${path}: ${JSON.stringify(preview.body).slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(preview).toEqual(real);
    }
    expect(await s.fileBytes()).toBe(createdBytes);
  });

  it('leaves the served state as it was (the preview works on a copy)', async () => {
    const before = await s.call('GET', '/v1/segments/search-c');
    await s.call('PATCH', '/v1/segments/search-c?validateOnly=true', { allocation: { proportion: { value: '0.05' } } }, READ_TOKEN);
    await s.call('POST', '/v1/segments/search-c:archive?validateOnly=true', {}, READ_TOKEN);
    expect(await s.call('GET', '/v1/segments/search-c')).toEqual(before);
    expect((await s.call('GET', '/v1/segments')).body).toEqual({ segments: (await s.call('GET', '/v1/segments')).body.segments });
  });

  it('needs a write token for the write itself and checks the parameter', async () => {
    expect((await s.call('POST', '/v1/segments/search-c:archive', {}, READ_TOKEN)).status).toBe(403);
    expect((await s.call('POST', '/v1/segments/search-c:archive?validateOnly=false', {}, READ_TOKEN)).status).toBe(403);
    expect((await s.call('POST', '/v1/segments/search-c:archive?validateOnly=true', {}, null)).status).toBe(401);
    const bad = await s.call('POST', '/v1/segments/search-c:archive?validateOnly=yes', {});
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: 'validateOnly' });
    const twice = await s.call('POST', '/v1/segments/search-c:archive?validateOnly=true&validateOnly=true', {}, READ_TOKEN);
    expect(twice.status).toBe(400);
    expect((await s.call('GET', '/v1/segments/search-c?validateOnly=true')).status).toBe(400);
  });
});
