/**
 * Team-scoped tokens: a token limited to `search-*` resources and the `search` tag family is
 * refused (403, naming its scope) on every write route when the write reaches outside that,
 * and the refusal changes nothing: the workspace file's bytes and the audit log's bytes are
 * identical afterwards. The table must name every write route the server has, so a route
 * added later fails this test until its out-of-scope case is written.
 */
import { readFile } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { auditLogPath } from '../audit/file-audit-log.js';
import { Router } from '../http/router.js';
import { startTestServer, testStoreKind, WRITE_TOKEN, READ_TOKEN, type TestServer } from '../testing/test-server.js';
import { parseTokens, TokenConfigError } from './tokens.js';

const SEARCH_TOKEN = 'search-team-token-0123456789abcdef';
const SCOPE = 'write(prefix=search-;family=search)';

interface Case {
  /** The route it exercises, `METHOD /path/{param}`. */
  readonly route: string;
  readonly why: string;
  readonly method: 'POST' | 'PATCH';
  readonly path: string;
  readonly body?: unknown;
}

const seg = (tags: string[], proportion = '0.05'): unknown => ({ allocation: { proportion: { value: proportion }, exclusivityTags: tags, exclusiveTo: tags } });

const CASES: readonly Case[] = [
  { route: 'POST /v1/segments', why: 'another team\'s id', method: 'POST', path: '/v1/segments?segmentId=ranking-2', body: seg(['search']) },
  { route: 'POST /v1/segments', why: 'own id, another family\'s tag', method: 'POST', path: '/v1/segments?segmentId=search-2', body: seg(['ranking']) },
  { route: 'PATCH /v1/segments/{segment}', why: 'another team\'s segment', method: 'PATCH', path: '/v1/segments/ranking-1', body: { displayName: 'mine now' } },
  { route: 'PATCH /v1/segments/{segment}', why: 'retag own segment into another family', method: 'PATCH', path: '/v1/segments/search-1', body: seg(['search', 'ranking']) },
  { route: 'POST /v1/segments/{segment}:allocate', why: 'another team\'s segment', method: 'POST', path: '/v1/segments/ranking-u:allocate', body: {} },
  { route: 'POST /v1/segments/{segment}:allocate', why: 'allocation into another family', method: 'POST', path: '/v1/segments/search-r:allocate', body: {} },
  { route: 'POST /v1/segments/{segment}:archive', why: 'another team\'s segment', method: 'POST', path: '/v1/segments/ranking-1:archive', body: {} },
  { route: 'POST /v1/flags', why: 'another team\'s id', method: 'POST', path: '/v1/flags?flagId=ranking-flag-2', body: { variants: [{ name: 'on', value: { on: true } }] } },
  { route: 'POST /v1/flags/{flag}:archive', why: 'another team\'s flag', method: 'POST', path: '/v1/flags/ranking-flag:archive', body: {} },
  { route: 'POST /v1/flags/{flag}/variants', why: 'another team\'s flag', method: 'POST', path: '/v1/flags/ranking-flag/variants?variantId=extra', body: { value: { on: false } } },
  { route: 'POST /v1/flags/{flag}/rules', why: 'another team\'s flag', method: 'POST', path: '/v1/flags/ranking-flag/rules?ruleId=r2', body: { kind: 'rollout', segment: 'segments/search-1', variant: 'on', reach: 1 } },
  { route: 'PATCH /v1/flags/{flag}/rules/{rule}', why: 'another team\'s rule', method: 'PATCH', path: '/v1/flags/ranking-flag/rules/r1', body: { variant: 'on' } },
  { route: 'POST /v1/flags/{flag}/rules/{rule}:enable', why: 'another team\'s rule', method: 'POST', path: '/v1/flags/ranking-flag/rules/r1:enable', body: {} },
  { route: 'POST /v1/flags/{flag}/rules/{rule}:disable', why: 'another team\'s rule', method: 'POST', path: '/v1/flags/ranking-flag/rules/r-on:disable', body: {} },
  { route: 'POST /v1/flags/{flag}/rules/{rule}:archive', why: 'another team\'s rule', method: 'POST', path: '/v1/flags/ranking-flag/rules/r1:archive', body: {} },
  { route: 'POST /v1/flags/{flag}/rules/{rule}:move', why: 'another team\'s rule', method: 'POST', path: '/v1/flags/ranking-flag/rules/r1:move', body: { position: 1 } },
  { route: 'POST /v1/groups', why: 'another team\'s id', method: 'POST', path: '/v1/groups?groupId=ranking-g2', body: {} },
  { route: 'POST /v1/groups', why: 'own group taking another team\'s segment', method: 'POST', path: '/v1/groups?groupId=search-g2', body: { members: ['segments/ranking-u'] } },
  { route: 'POST /v1/groups/{group}:addMember', why: 'another team\'s group', method: 'POST', path: '/v1/groups/ranking-g:addMember', body: { segment: 'segments/search-1' } },
  { route: 'POST /v1/groups/{group}:addMember', why: 'own group, another team\'s segment', method: 'POST', path: '/v1/groups/search-g:addMember', body: { segment: 'segments/ranking-u' } },
  { route: 'POST /v1/groups/{group}:removeMember', why: 'another team\'s group', method: 'POST', path: '/v1/groups/ranking-g:removeMember', body: { segment: 'segments/ranking-g-member' } },
  { route: 'POST /v1/groups/{group}:archive', why: 'another team\'s group', method: 'POST', path: '/v1/groups/ranking-g:archive', body: {} },
  { route: 'POST /v1/groups/{group}:unarchive', why: 'another team\'s group', method: 'POST', path: '/v1/groups/ranking-old:unarchive', body: {} },
];

describe('a team-scoped write token', () => {
  let t: TestServer;
  const admin = async (method: string, path: string, body: unknown = {}): Promise<void> => {
    const r = await t.call(method, path, body, WRITE_TOKEN);
    if (r.status !== 200) throw new Error(`setup ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  };

  beforeAll(async () => {
    t = await startTestServer({
      tokens: [
        { name: 'admin', token: WRITE_TOKEN, scope: 'write' },
        { token: READ_TOKEN, scope: 'read' },
        ...parseTokens(`search=${SEARCH_TOKEN}:${SCOPE}`, 'test'),
      ],
    });
    await admin('POST', '/v1/segments?segmentId=ranking-1', seg(['ranking']));
    await admin('POST', '/v1/segments/ranking-1:allocate');
    await admin('POST', '/v1/segments?segmentId=ranking-u', seg(['ranking']));
    await admin('POST', '/v1/segments?segmentId=search-1', seg(['search']));
    await admin('POST', '/v1/segments?segmentId=search-r', seg(['ranking']));
    await admin('POST', '/v1/segments?segmentId=ranking-g-member', seg([]));
    await admin('POST', '/v1/groups?groupId=ranking-g', { members: ['segments/ranking-g-member'] });
    await admin('POST', '/v1/groups?groupId=ranking-old');
    await admin('POST', '/v1/groups/ranking-old:archive');
    await admin('POST', '/v1/groups?groupId=search-g');
    await admin('POST', '/v1/flags?flagId=ranking-flag', { variants: [{ name: 'on', value: { on: true } }] });
    await admin('POST', '/v1/flags/ranking-flag/rules?ruleId=r1', { kind: 'rollout', segment: 'segments/ranking-1', variant: 'on', reach: 1 });
    await admin('POST', '/v1/flags/ranking-flag/rules?ruleId=r-on', { kind: 'rollout', segment: 'segments/ranking-1', variant: 'on', reach: 1, enabled: true });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('has an out-of-scope case for every write route the server answers, each reaching the route it names', () => {
    const writes = t.server.routes().filter((r) => r.scope === 'write');
    expect(writes.length).toBeGreaterThan(15);
    expect(new Set(CASES.map((c) => c.route))).toEqual(new Set(writes.map((r) => `${r.method} ${r.path}`)));
    const router = new Router().add(...writes);
    for (const c of CASES) {
      const { route } = router.match(c.method, c.path.split('?')[0]!);
      expect(`${route.method} ${route.path}`, c.path).toBe(c.route);
    }
  });

  /** The audit log as the server serves it (the file's or the table's), and on the file store the file's bytes. */
  const auditLog = async (): Promise<[string, string]> => {
    const served = await t.call('GET', '/v1/auditLog?pageSize=1000', undefined, READ_TOKEN);
    expect(served.status).toBe(200);
    return [JSON.stringify(served.body), testStoreKind() === 'file' ? await readFile(auditLogPath(t.workspace), 'utf8') : ''];
  };

  it.each(CASES)('$route ($why): 403 naming the scope, nothing changed, nothing logged', async (c) => {
    const workspace = await t.fileBytes();
    const log = await auditLog();
    // The setup's writes are there: an unchanged log is not an empty one.
    expect(log[0]).toContain('"actor":"admin"');
    const r = await t.call(c.method, c.path, c.body, SEARCH_TOKEN);
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    const error = r.body.error as { code: string; message: string };
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.message).toContain(`the token search has the scope ${SCOPE}`);
    expect(error.message).not.toContain(SEARCH_TOKEN);
    expect(await t.fileBytes()).toBe(workspace);
    expect(await auditLog()).toEqual(log);
  });

  it('may create, change, allocate and archive its own segments and flags within its family, and read everything', async () => {
    const ok = async (method: string, path: string, body: unknown = {}): Promise<void> => {
      const r = await t.call(method, path, body, SEARCH_TOKEN);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(200);
    };
    await ok('POST', '/v1/segments?segmentId=search-own', seg(['search', 'search-web']));
    await ok('PATCH', '/v1/segments/search-own', { displayName: 'Search own' });
    await ok('POST', '/v1/segments/search-own:allocate');
    await ok('POST', '/v1/flags?flagId=search-flag', { variants: [{ name: 'on', value: { on: true } }] });
    await ok('POST', '/v1/flags/search-flag/rules?ruleId=r1', { kind: 'rollout', segment: 'segments/search-own', variant: 'on', reach: 1, enabled: true });
    await ok('POST', '/v1/groups/search-g:addMember', { segment: 'segments/search-1' });
    await ok('POST', '/v1/segments/search-1:allocate');
    await ok('POST', '/v1/segments/search-1:archive');
    expect((await t.call('GET', '/v1/segments/ranking-1', undefined, SEARCH_TOKEN)).status).toBe(200);
    expect((await t.call('GET', '/v1/flags/ranking-flag', undefined, SEARCH_TOKEN)).status).toBe(200);
    // Previews change nothing, so they stay account-wide like reads.
    expect((await t.call('POST', '/v1/segments/ranking-u:allocate?validateOnly=true', {}, SEARCH_TOKEN)).status).toBe(200);
  });
});

describe('the tokens configuration', () => {
  it('reads names and limits, and keeps unnamed entries as they were', () => {
    expect(parseTokens(`search=s3cret:${SCOPE},ci=r3ad:read,plain:write,a=b=c:write`, 'ALLOT_TOKENS')).toEqual([
      { name: 'search', token: 's3cret', scope: 'write', limits: { prefixes: ['search-'], families: ['search'] } },
      { name: 'ci', token: 'r3ad', scope: 'read' },
      { token: 'plain', scope: 'write' },
      { name: 'a', token: 'b=c', scope: 'write' },
    ]);
    expect(parseTokens('Base64Token==:write', 'x')).toEqual([{ token: 'Base64Token==', scope: 'write' }]);
  });

  it('refuses limits on a read token, and unknown or empty limits, without echoing the token', () => {
    for (const [text, message] of [
      ['t=hunter2:read(prefix=a-)', /limits only apply to write tokens/],
      ['t=hunter2:write(owner=me)', /prefix=ID-PREFIX .* or family=TAG/],
      ['t=hunter2:write()', /prefix=ID-PREFIX/],
      ['t=hunter2:write(prefix=Bad)', /prefix=ID-PREFIX/],
    ] as const) {
      let error: unknown;
      try {
        parseTokens(text, 'ALLOT_TOKENS');
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(TokenConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
