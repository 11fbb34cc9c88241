/**
 * Flags, rules, exclusion groups and resolve over HTTP, and the error mapping of admin's
 * refusals (404, 409, field names relative to the request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { READ_TOKEN, startTestServer, type TestServer } from '../testing/test-server.js';

describe('flags, rules, groups and resolve', () => {
  let s: TestServer;
  let secret: string;
  beforeAll(async () => {
    s = await startTestServer();
    secret = (await s.readWorkspace()).clients[0]!.secret;
  });
  afterAll(async () => {
    await s.stop();
  });

  const resolve = async (targetingKey: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, unknown> }> =>
    s.call('POST', '/v1/flags:resolve', { flags: ['flags/checkout'], evaluationContext: { targeting_key: targetingKey, ...extra }, clientSecret: secret, apply: true }, READ_TOKEN);

  it('creates segments with Confidence targeting and an exclusion group over them', async () => {
    const a = await s.call('POST', '/v1/segments?segmentId=checkout-a', {
      displayName: 'Checkout A',
      targeting: { criteria: { se: { attribute: { attributeName: 'country', setRule: { values: [{ stringValue: 'SE' }] } } } }, expression: { ref: 'se' } },
      allocation: { proportion: { value: '0.5' } },
    });
    expect(a.status).toBe(200);
    expect(a.body.targetingExpression).toBe('country in ["SE"]');
    expect(a.body.targeting).toEqual({ criteria: { c1: { attribute: { attributeName: 'country', setRule: { values: [{ stringValue: 'SE' }] } } } }, expression: { ref: 'c1' } });
    expect((await s.call('POST', '/v1/segments?segmentId=checkout-b', { targeting: 'country == SE', allocation: { proportion: { value: '0.5' } } })).status).toBe(200);

    const group = await s.call('POST', '/v1/groups?groupId=checkout-tests', { displayName: 'Checkout tests', members: ['segments/checkout-a', 'checkout-b'] });
    expect(group.status).toBe(200);
    expect(group.body).toMatchObject({ name: 'groups/checkout-tests', state: 'ACTIVE', members: ['segments/checkout-a', 'segments/checkout-b'] });
    const member = await s.call('GET', '/v1/segments/checkout-a');
    expect(member.body.allocation).toMatchObject({ exclusivityTags: ['group:checkout-tests'], exclusiveTo: ['group:checkout-tests'] });

    for (const id of ['checkout-a', 'checkout-b']) expect((await s.call('POST', `/v1/segments/${id}:allocate`)).status).toBe(200);
    const third = await s.call('POST', '/v1/segments?segmentId=checkout-c', { allocation: { proportion: { value: '0.1' } } });
    expect(third.status).toBe(200);
    const full = await s.call('POST', '/v1/groups/checkout-tests:addMember', { segment: 'segments/checkout-c' });
    expect(full.status).toBe(200);
    const refused = await s.call('POST', '/v1/segments/checkout-c:allocate');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'INSUFFICIENT_SPACE', space: { freeBuckets: 0, neededBuckets: 100_000, conflictingSegments: ['segments/checkout-a', 'segments/checkout-b'] } });
    expect((await s.call('GET', '/v1/groups')).body.groups).toHaveLength(1);
  });

  it('creates a flag with variants and rules, enables them, and resolves', async () => {
    const flag = await s.call('POST', '/v1/flags?flagId=checkout', {
      displayName: 'Checkout',
      variants: [
        { name: 'control', value: { layout: 'old' } },
        { name: 'flags/checkout/variants/treatment', value: { layout: 'new' } },
      ],
    });
    expect(flag.status).toBe(200);
    expect(flag.body.variants).toEqual([
      { name: 'flags/checkout/variants/control', value: { layout: 'old' } },
      { name: 'flags/checkout/variants/treatment', value: { layout: 'new' } },
    ]);
    expect((await s.call('POST', '/v1/flags/checkout/variants?variantId=beta', { value: { layout: 'beta' } })).status).toBe(200);

    const ab = await s.call('POST', '/v1/flags/checkout/rules?ruleId=ab', { kind: 'ab-test', segment: 'segments/checkout-a', weights: { control: 1, treatment: 1 } });
    expect(ab.status).toBe(200);
    expect(ab.body).toMatchObject({ name: 'flags/checkout/rules/ab', kind: 'ab-test', state: 'DISABLED', segment: 'segments/checkout-a', weights: { control: 1, treatment: 1 } });
    const testers = await s.call('POST', '/v1/flags/checkout/rules?ruleId=testers&position=top', { kind: 'individual', attribute: 'user_id', values: ['ada'], variant: 'beta', enabled: true });
    expect(testers.status).toBe(200);
    expect((await s.call('POST', '/v1/flags/checkout/rules/ab:enable')).status).toBe(200);

    const ada = await resolve('u-1', { user_id: 'ada' });
    expect(ada.status).toBe(200);
    expect(ada.body.resolvedFlags).toMatchObject([{ flag: 'flags/checkout', variant: 'beta', value: { layout: 'beta' }, reason: 'RESOLVE_REASON_MATCH' }]);

    // Swedes in checkout-a's half of the buckets get a variant of the A/B test; others no match.
    const outcomes = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = await resolve(`user-${i}`, { country: 'SE' });
      outcomes.add(((r.body.resolvedFlags as { variant: string }[])[0]!).variant);
    }
    expect([...outcomes].sort()).toEqual(['', 'control', 'treatment']);
    const norway = await resolve('user-1', { country: 'NO' });
    expect(norway.body.resolvedFlags).toMatchObject([{ reason: 'RESOLVE_REASON_NO_SEGMENT_MATCH', variant: '' }]);
  });

  it('resolves without clientSecret when the workspace has one client (the read token authenticates), as allot resolve does; a wrong secret is still refused', async () => {
    const without = await s.call('POST', '/v1/flags:resolve', { flags: ['flags/checkout'], evaluationContext: { targeting_key: 'u-1', user_id: 'ada' } }, READ_TOKEN);
    expect(without.status, JSON.stringify(without.body)).toBe(200);
    expect(without.body.resolvedFlags).toMatchObject([{ flag: 'flags/checkout', variant: 'beta' }]);
    const wrong = await s.call('POST', '/v1/flags:resolve', { evaluationContext: {}, clientSecret: 'not-a-secret' }, READ_TOKEN);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ code: 'CLIENT_NOT_FOUND', field: 'clientSecret' });
    expect(await s.fileBytes()).not.toContain(secret); // the secret is in the secrets file, not the workspace
  });

  it('updates, moves, disables and archives rules', async () => {
    const patched = await s.call('PATCH', '/v1/flags/checkout/rules/ab', { weights: { control: 1, treatment: 3 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ weights: { control: 1, treatment: 3 }, state: 'ENABLED', segment: 'segments/checkout-a' });
    const moved = await s.call('POST', '/v1/flags/checkout/rules/ab:move', { position: 0 });
    expect(moved.status).toBe(200);
    expect(moved.body.warnings).toEqual([expect.stringMatching(/reordering the rules of checkout/)]);
    expect(((await s.call('GET', '/v1/flags/checkout')).body.rules as { name: string }[]).map((r) => r.name)).toEqual(['flags/checkout/rules/ab', 'flags/checkout/rules/testers']);

    // An allocated segment serving an enabled rule cannot be archived.
    const busy = await s.call('POST', '/v1/segments/checkout-a:archive');
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'state' });

    expect((await s.call('POST', '/v1/flags/checkout/rules/ab:disable')).body.state).toBe('DISABLED');
    expect((await s.call('POST', '/v1/flags/checkout/rules/ab:archive')).body.state).toBe('ARCHIVED');
    expect((await s.call('POST', '/v1/segments/checkout-a:archive')).body.state).toBe('ARCHIVED');
  });

  it("maps admin's refusals to status codes and request fields", async () => {
    const unallocated = await s.call('POST', '/v1/segments?segmentId=later', {});
    expect(unallocated.status).toBe(200);
    const rule = await s.call('POST', '/v1/flags/checkout/rules?ruleId=later', { kind: 'rollout', segment: 'later', reach: { value: '0.5' }, variant: 'treatment', enabled: true });
    expect(rule.status).toBe(409);
    expect(rule.body.error).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'segment' });
    const unknownVariant = await s.call('POST', '/v1/flags/checkout/rules', { kind: 'rollout', reach: '0.5', variant: 'purple' });
    expect(unknownVariant.status).toBe(404);
    expect(unknownVariant.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'variant' });
    expect((await s.call('POST', '/v1/segments?segmentId=later', {})).status).toBe(409);
    expect((await s.call('GET', '/v1/flags/nope')).status).toBe(404);
    expect((await s.call('GET', '/v1/flags/checkout/rules/nope')).body.error).toMatchObject({ code: 'NOT_FOUND', field: 'rule' });
    const badKind = await s.call('POST', '/v1/flags/checkout/rules', { kind: 'experiment' });
    expect(badKind.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'kind' });
    const wrongSecret = await s.call('POST', '/v1/flags:resolve', { evaluationContext: {}, clientSecret: 'nope' }, READ_TOKEN);
    expect(wrongSecret.status).toBe(400);
    expect(wrongSecret.body.error).toMatchObject({ code: 'CLIENT_NOT_FOUND', field: 'clientSecret' });
    const noSecret = await s.call('POST', '/v1/flags:resolve', { evaluationContext: {} }, READ_TOKEN);
    expect(noSecret.status).toBe(200); // one client: the secret may be left out
  });

  it('lists segments by tag and state, and reports the available space for a segment', async () => {
    const byTag = await s.call('GET', '/v1/segments?tag=group:checkout-tests&state=ALLOCATED');
    expect((byTag.body.segments as { name: string }[]).map((x) => x.name)).toEqual(['segments/checkout-b']);
    const space = await s.call('GET', '/v1/segments:availableSpace?exclusivityTags=group:checkout-tests&exclusiveTo=group:checkout-tests&segment=checkout-b');
    expect(space.body).toMatchObject({ segment: 'segments/checkout-b', availableBuckets: 1_000_000, conflictingSegments: [] });
    expect((await s.call('GET', '/v1/segments?state=LIVE')).body.error).toMatchObject({ field: 'state' });
  });
});
