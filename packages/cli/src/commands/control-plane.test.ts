/**
 * The seeds' coordination patterns end to end: built with `allot segments|flags|groups`,
 * compiled with `allot compile`, loaded and resolved by @allot/core for many units.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadState, resolveFlags, type ResolverState } from '@allot/core';
import { beforeEach, describe, expect, it } from 'vitest';

import { runCli, runCliOk, type CliRun } from '../testing-io.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'allot-cli-'));
});

const allot = (...argv: string[]): Promise<CliRun> => runCli(dir, argv);

/** Runs a command that must succeed. */
const ok = (...argv: string[]): Promise<string> => runCliOk(dir, argv);

const W = ['--workspace', 'ws.yaml'];

/** Creates and allocates a segment, and a flag `<id>-flag` with an enabled A/B test on it. */
async function experiment(id: string, proportion: number, tags: string, exclusiveTo: string): Promise<void> {
  await ok('segments', 'create', id, ...W, '--proportion', String(proportion), '--tags', tags, '--exclusive-to', exclusiveTo);
  await ok('segments', 'allocate', id, ...W);
  await ok('flags', 'create', `${id}-flag`, ...W, '--variant', 'control=false', '--variant', 'treatment=true');
  await ok('flags', 'add-rule', `${id}-flag`, ...W, '--kind', 'ab-test', '--segment', id, '--weights', 'control=1,treatment=1', '--enabled');
}

async function compiled(): Promise<{ state: ResolverState; secret: string }> {
  await ok('compile', ...W, '--out', 'state.json');
  const state = loadState(readFileSync(join(dir, 'state.json'), 'utf8'));
  return { state, secret: [...state.clients.keys()][0]! };
}

/** For each of `units` users, the experiments (segment ids) whose flag served them a variant. */
function servedExperiments(state: ResolverState, secret: string, units: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < units; i++) {
    const { resolvedFlags } = resolveFlags(state, { evaluationContext: { targeting_key: `user-${i}` }, clientSecret: secret });
    out.push(resolvedFlags.filter((f) => f.reason === 'RESOLVE_REASON_MATCH').map((f) => f.flag.replace(/^flags\//, '').replace(/-flag$/, '')));
  }
  return out;
}

const UNITS = 20_000;

function share(served: string[][], id: string): number {
  return served.filter((s) => s.includes(id)).length / served.length;
}

describe('seed patterns through the CLI and core', () => {
  it('mutual exclusion: ranking experiments never share a user', async () => {
    await experiment('ranking-exp-1', 0.3, 'ranking', 'ranking');
    await experiment('ranking-exp-2', 0.3, 'ranking', 'ranking');
    await experiment('ranking-exp-3', 0.3, 'ranking', 'ranking');
    const { state, secret } = await compiled();
    const served = servedExperiments(state, secret, UNITS);
    expect(served.filter((s) => s.length > 1)).toEqual([]);
    for (const id of ['ranking-exp-1', 'ranking-exp-2', 'ranking-exp-3']) expect(share(served, id)).toBeCloseTo(0.3, 1);
  });

  it('cross-group: mixed-experiment excludes search, ranking and mixer, but not others', async () => {
    await experiment('ranking-exp-1', 0.4, 'ranking', 'ranking');
    await experiment('search-exp', 0.3, 'search', 'search');
    await experiment('mixer-exp', 0.2, 'mixer', 'mixer');
    await experiment('homepage-exp', 0.5, 'homepage', 'homepage');
    await experiment('mixed-experiment', 0.05, 'search', 'search,ranking,mixer');
    const { state, secret } = await compiled();
    const served = servedExperiments(state, secret, UNITS);
    const mixed = served.filter((s) => s.includes('mixed-experiment'));
    expect(mixed.length / UNITS).toBeCloseTo(0.05, 1);
    expect(mixed.filter((s) => s.some((x) => x === 'ranking-exp-1' || x === 'search-exp' || x === 'mixer-exp'))).toEqual([]);
    // Not coordinated with homepage: overlaps by chance, about half of it.
    expect(mixed.filter((s) => s.includes('homepage-exp')).length / mixed.length).toBeCloseTo(0.5, 1);
    // ranking, search and mixer do not exclude each other.
    expect(served.some((s) => s.includes('ranking-exp-1') && s.includes('search-exp'))).toBe(true);
  });

  it('hierarchical: ranking-v2 experiments exclude each other and the broad all-experiments ones', async () => {
    await experiment('broad', 0.5, 'all-experiments', 'all-experiments');
    await experiment('rv2-a', 0.2, 'ranking-v2', 'ranking-v2,all-experiments');
    await experiment('rv2-b', 0.2, 'ranking-v2', 'ranking-v2,all-experiments');
    const { state, secret } = await compiled();
    const served = servedExperiments(state, secret, UNITS);
    expect(served.filter((s) => s.length > 1)).toEqual([]);
    // The broad segment took half; the specific ones fit in the other half only.
    const space = JSON.parse(await ok('segments', 'space', ...W, '--tags', 'ranking-v2', '--exclusive-to', 'ranking-v2,all-experiments', '--json')) as { free: number };
    expect(space.free).toBeCloseTo(0.1, 6);
    const refused = await allot('segments', 'create', 'rv2-c', ...W, '--proportion', '0.2', '--tags', 'ranking-v2', '--exclusive-to', 'ranking-v2,all-experiments');
    expect(refused.code).toBe(0);
    const before = readFileSync(join(dir, 'ws.yaml'), 'utf8');
    const r = await allot('segments', 'allocate', 'rv2-c', ...W);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/INSUFFICIENT_SPACE: segments\.rv2-c\.allocation\.proportion: needs 200000 buckets \(20%\) but only 100000 \(10%\) are free/);
    expect(r.err).toContain('broad, rv2-a, rv2-b');
    expect(readFileSync(join(dir, 'ws.yaml'), 'utf8')).toBe(before);
  });

  it('cross-feature: search and ui-changes exclude each other both ways', async () => {
    await experiment('search-a', 0.4, 'search', 'search,ui-changes');
    await experiment('ui-a', 0.4, 'ui-changes', 'search,ui-changes');
    await experiment('ui-b', 0.2, 'ui-changes', 'search,ui-changes');
    const { state, secret } = await compiled();
    const served = servedExperiments(state, secret, UNITS);
    expect(served.filter((s) => s.length > 1)).toEqual([]);
    expect(served.filter((s) => s.length === 0).length / UNITS).toBeLessThan(0.01); // the space is full
  });

  it('an exclusion group of three experiments: members never share a user', async () => {
    for (const id of ['checkout-a', 'checkout-b', 'checkout-c']) {
      await ok('segments', 'create', id, ...W, '--proportion', '0.3');
      await ok('segments', 'allocate', id, ...W);
    }
    // Allocated without coordination, they overlap; joining the group moves the shared buckets.
    const created = JSON.parse(await ok('groups', 'create', 'checkout-tests', ...W, '--members', 'checkout-a,checkout-b,checkout-c', '--json')) as {
      members: { segment: string; buckets: number }[];
      reallocations: Record<string, { removed: number }>;
    };
    expect(created.members.map((m) => m.buckets)).toEqual([300_000, 300_000, 300_000]);
    expect(created.reallocations['checkout-b']!.removed).toBeGreaterThan(0);
    for (const id of ['checkout-a', 'checkout-b', 'checkout-c']) {
      await ok('flags', 'create', `${id}-flag`, ...W, '--variant', 'on=true');
      await ok('flags', 'add-rule', `${id}-flag`, ...W, '--kind', 'rollout', '--segment', id, '--reach', '1', '--variant', 'on', '--enabled');
    }
    const { state, secret } = await compiled();
    const served = servedExperiments(state, secret, UNITS);
    expect(served.filter((s) => s.length > 1)).toEqual([]);
    for (const id of ['checkout-a', 'checkout-b', 'checkout-c']) expect(share(served, id)).toBeCloseTo(0.3, 1);

    // Changing the members of a running group warns.
    await ok('segments', 'create', 'checkout-d', ...W, '--proportion', '0.05');
    const added = await allot('groups', 'add', 'checkout-tests', 'checkout-d', ...W);
    expect(added.code).toBe(0);
    expect(added.err).toMatch(/warning: adding a member to exclusion group checkout-tests while its members serve enabled rules/);
    const list = JSON.parse(await ok('groups', 'list', ...W, '--json')) as { id: string; members: unknown[] }[];
    expect(list.map((g) => [g.id, g.members.length])).toEqual([['checkout-tests', 4]]);
  });
});

describe('allot segments', () => {
  it('creates the workspace file with a fresh account and seed, lists with the contract fields', async () => {
    const out = await ok('segments', 'create', 'beta', ...W, '--proportion', '25%', '--tags', 'b,a', '--targeting', 'country in [SE, NO] and app_version >= 2.1.0');
    expect(out).toMatch(/created workspace .*ws\.yaml \(account allot-[0-9a-f]{12}\)/);
    await ok('segments', 'allocate', 'beta', ...W);
    const list = JSON.parse(await ok('segments', 'list', ...W, '--json')) as Record<string, unknown>[];
    expect(list).toEqual([
      expect.objectContaining({ id: 'beta', state: 'ALLOCATED', proportion: 0.25, exclusivityTags: ['a', 'b'], exclusiveTo: [], buckets: 250_000 }),
    ]);
    const text = readFileSync(join(dir, 'ws.yaml'), 'utf8');
    expect(text).toMatch(/^allot: 1\naccount: allot-[0-9a-f]{12}\nseed: [0-9a-f]{32}\n/);
  });

  it('update raises keeping buckets, refuses to lower a live segment unless forced, and reports moved units on retag', async () => {
    await experiment('exp', 0.1, 'ranking', 'ranking');
    await experiment('other', 0.1, 'search', 'search');
    const raised = JSON.parse(await ok('segments', 'update', 'exp', ...W, '--update-mask', 'allocation.proportion', '--proportion', '0.2', '--json')) as {
      reallocation: { kept: number; added: number; removed: number };
    };
    expect(raised.reallocation).toEqual({ kept: 100_000, added: 100_000, removed: 0 });
    const lowered = await allot('segments', 'update', 'exp', ...W, '--update-mask', 'proportion', '--proportion', '0.1');
    expect(lowered.code).toBe(1);
    expect(lowered.err).toContain('FAILED_PRECONDITION: segments.exp.allocation.proportion: lowering the proportion from 0.2 to 0.1');
    expect(lowered.err).toContain('disable those rules first, or lower it anyway: "allot segments update exp --update-mask proportion --proportion 0.1 --force"');
    expect(lowered.err).toContain('(over HTTP: PATCH /v1/segments/exp?updateMask=allocation.proportion&force=true)');
    await ok('segments', 'update', 'exp', ...W, '--update-mask', 'proportion', '--proportion', '0.1', '--force');
    const retag = await ok('segments', 'update', 'exp', ...W, '--update-mask', 'allocation.exclusivityTags,allocation.exclusiveTo', '--tags', 'ranking', '--exclusive-to', 'ranking,search');
    expect(retag).toMatch(/kept \d+, added \d+, removed \d+; units moved: /);
    const { state, secret } = await compiled();
    expect(servedExperiments(state, secret, 5_000).filter((s) => s.length > 1)).toEqual([]);
  });

  it('refuses with a clear message and a non-zero exit', async () => {
    await ok('segments', 'create', 'a', ...W);
    const cases: [string[], RegExp][] = [
      [['segments', 'create', 'a', ...W], /ALREADY_EXISTS: segments\.a: a segment with this id exists already/],
      [['segments', 'allocate', 'nope', ...W], /NOT_FOUND: segments\.nope: no segment "nope"/],
      [['segments', 'create', 'b', ...W, '--proportion', '1.5'], /INVALID_ARGUMENT: segments\.b\.allocation\.proportion: must be in \(0, 1\], got 1\.5/],
      [['segments', 'create', 'c', ...W, '--targeting', 'age >= 18 and'], /column 14: expected an attribute name/],
      [['segments', 'create', 'Bad_Id', ...W], /not a valid id/],
      [['segments', 'create', 'd', ...W, '--tags', 'group:x'], /belong to exclusion groups/],
      [['segments', 'update', 'a', ...W, '--update-mask', 'colour'], /unknown field "colour"/],
      [['segments', 'update', 'a', ...W, '--update-mask', 'proportoin'], /unknown field "proportoin" \(did you mean proportion\?\)/],
      [['segments', 'update', 'a', ...W, '--update-mask', 'allocation.exclusivTags'], /unknown field "allocation\.exclusivTags" \(did you mean allocation\.exclusivityTags\?\)/],
      [['segments', 'frobnicate', ...W], /unknown subcommand "frobnicate"/],
      [['segments', 'list'], /missing --workspace/],
      [['segments', 'list', '--workspace', 'missing.yaml'], /NOT_FOUND: .*missing\.yaml does not exist/],
    ];
    for (const [argv, message] of cases) {
      const r = await allot(...argv);
      expect(r.code, argv.join(' ')).not.toBe(0);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
  });
});

describe('allot flags', () => {
  it('builds rules of every kind, orders them, and compiles what core resolves', async () => {
    await ok('segments', 'create', 'se-users', ...W, '--targeting', 'country == SE');
    await ok('segments', 'allocate', 'se-users', ...W);
    await ok('flags', 'create', 'checkout', ...W, '--variant', 'old="v1"', '--variant', 'new="v2"', '--variant', 'beta="v3-beta"');
    await ok('flags', 'add-rule', 'checkout', ...W, '--kind', 'rollout', '--segment', 'se-users', '--reach', '100%', '--variant', 'new', '--enabled');
    await ok('flags', 'add-rule', 'checkout', ...W, '--kind', 'conditional', '--targeting', 'app_version >= 2.0.0', '--percentage', '1', '--variant', 'old', '--enabled');
    await ok('flags', 'add-rule', 'checkout', ...W, '--kind', 'individual', '--attribute', 'user_id', '--values', 'ada,bo', '--variant', 'beta', '--top', '--enabled', '--id', 'testers');
    const refused = await allot('flags', 'add-rule', 'checkout', ...W, '--kind', 'rollout', '--reach', '0.5', '--variant', 'new', '--top');
    expect(refused.err).toMatch(/only individual targeting rules can be added at the top/);
    const flag = JSON.parse(await ok('flags', 'get', 'checkout', ...W, '--json')) as { rules: { id: string }[] };
    expect(flag.rules.map((r) => r.id)).toEqual(['testers', 'rule-1', 'rule-2']);

    const { state, secret } = await compiled();
    const variant = (context: Record<string, unknown>): string =>
      resolveFlags(state, { flags: ['checkout'], evaluationContext: { targeting_key: 'u', ...context }, clientSecret: secret }).resolvedFlags[0]!.variant;
    expect(variant({ user_id: 'ada', country: 'SE' })).toBe('beta');
    expect(variant({ country: 'SE' })).toBe('new');
    expect(variant({ country: 'NO', app_version: '2.1.0' })).toBe('old');
    expect(variant({ country: 'NO', app_version: '1.9.9' })).toBe('');

    await ok('flags', 'move-rule', 'checkout', 'rule-2', ...W, '--top');
    await ok('flags', 'disable-rule', 'checkout', 'testers', ...W);
    const after = await compiled();
    const v2 = resolveFlags(after.state, { flags: ['checkout'], evaluationContext: { targeting_key: 'u', user_id: 'ada', country: 'SE', app_version: '3.0.0' }, clientSecret: after.secret });
    expect(v2.resolvedFlags[0]!.variant).toBe('old');
  });

  it('only allocated segments can serve an enabled rule', async () => {
    await ok('segments', 'create', 'later', ...W, '--proportion', '0.1');
    await ok('flags', 'create', 'f', ...W, '--variant', 'on=true');
    const r = await allot('flags', 'add-rule', 'f', ...W, '--kind', 'rollout', '--segment', 'later', '--reach', '1', '--variant', 'on', '--enabled');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FAILED_PRECONDITION: flags\.f\.rules\.rule-1\.segment: only an ALLOCATED segment can serve an enabled rule, and later is UNALLOCATED/);
    await ok('flags', 'add-rule', 'f', ...W, '--kind', 'rollout', '--segment', 'later', '--reach', '1', '--variant', 'on', '--sticky', '--paused-intake');
    await ok('segments', 'allocate', 'later', ...W);
    await ok('flags', 'enable-rule', 'f', 'rule-1', ...W);
    const { state } = await compiled();
    const rule = state.flag('f')!.rules[0]!;
    expect(rule.materialization).toEqual({ read: 'materializations/f.rule-1', write: '', mustMatch: true, ignoreTargeting: false });
  });
});
