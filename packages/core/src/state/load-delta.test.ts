import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { resolveFlags } from '../resolve/resolve.js';
import { arbContext, arbState } from '../testing/arbitraries.js';
import { buildState, CLIENT, rollout, SECRET, type FlagSpec, type Json, type SegmentSpec } from '../testing/states.js';
import type { MaterializationAccess } from '../types.js';
import { DeltaAssembler, loadDelta, tryDelta, validateDelta, type StateChanges } from './load-delta.js';
import { loadState, validateState, type LoadOptions } from './load.js';
import { assembleState, prepareState } from './prepare.js';
import type { ResolverState } from './resolver-state.js';
import type { TargetingNode } from './segments.js';

type State = Record<string, Json>;
type Entries = Record<string, Json>;

const sticky: MaterializationAccess = {
  read: (unit: string) => ({ isUnitInMaterialization: unit.length % 2 === 0, ruleToVariant: { 'flags/f0/rules/r1': 'v1' } }),
};

/** What the state watch's delta does to JSON: entries set in place or appended, removed ones dropped. */
function applyChanges(state: State, set: Record<string, Entries>, remove: Record<string, string[]>, replace: Record<string, Json>): { json: State; changes: StateChanges } {
  const json: State = { ...state, ...replace };
  const changes: Record<string, string[] | 'whole'> = {};
  for (const key of Object.keys(replace)) changes[key] = 'whole';
  for (const key of new Set([...Object.keys(set), ...Object.keys(remove)])) {
    const before = json[key] as Entries;
    const removed = new Set(remove[key] ?? []);
    const out: Entries = {};
    for (const name of Object.keys(before)) if (!removed.has(name)) out[name] = before[name]!;
    Object.assign(out, set[key] ?? {});
    json[key] = out;
    changes[key] = [...Object.keys(set[key] ?? {}), ...(remove[key] ?? [])];
  }
  return { json, changes };
}

/** Entries that break a state, each in a place a delta can put it. */
const BAD: readonly (readonly [string, string, Json])[] = [
  ['flags', 'flags/f1', { name: 'flags/f1', variants: [], rules: [{ segment: 'segments/s0', assignmentSpec: { bucketCount: 'ten' } }] }],
  ['flags', 'flags/fx', { name: 'flags/other', variants: [], rules: [] }],
  ['flags', 'nope', { variants: [], rules: [] }],
  ['segments', 'segments/s2', { targeting: { criteria: {}, expression: { ref: 'missing' } } }],
  ['segments', 'segments/s9', 'not an object'],
  ['bitsets', 'segments/s1', 42],
  ['bitsets', 'segments/unused', 'not base64 gzip!'],
  ['clients', 'other', { client: {} }],
];

/**
 * A delta from one state to another: each entry of `flags`, `segments`, `bitsets` that
 * differs is taken or not, a second client may come or go, and bad entries may be added.
 */
const arbDelta = fc
  .tuple(
    arbState,
    arbState,
    fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    fc.subarray([...BAD], { maxLength: 2 }),
    fc.constantFrom('none', 'add', 'replace'),
  )
  .map(([a, b, picks, bad, clients]) => {
    const set: Record<string, Entries> = {};
    const remove: Record<string, string[]> = {};
    let pick = 0;
    for (const key of ['flags', 'segments', 'bitsets']) {
      const before = a[key] as Entries;
      // Some entries of the target state are gone, some renamed: removals and additions.
      const dropFirst = picks[pick++] === true;
      const after = Object.fromEntries(Object.entries(b[key] as Entries).slice(dropFirst ? 1 : 0));
      if (picks[pick++]) after[`${Object.keys(after)[1] ?? 'x'}-new`] = Object.values(after)[1] ?? null;
      for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
        if (!picks[pick++ % picks.length]) continue;
        if (!(name in after)) (remove[key] ??= []).push(name);
        else if (JSON.stringify(before[name]) !== JSON.stringify(after[name])) (set[key] ??= {})[name] = after[name]!;
      }
    }
    const second = { client: { name: 'clients/other' }, clientCredential: { name: 'clients/other/credentials/c1', clientSecret: { secret: 'other' }, environments: ['staging'] } };
    if (clients === 'add') set.clients = { other: second };
    for (const [key, name, entry] of bad) (set[key] ??= {})[name] = entry;
    const replace: Record<string, Json> = clients === 'replace' ? { clients: { other: second } } : {};
    return { before: a, ...applyChanges(a, set, remove, replace) };
  });

/** Every compiled reference of `state` (rules to segments, targeting to segments) points into its own maps. */
function expectLinked(state: ResolverState): void {
  const visit = (node: TargetingNode | null): void => {
    if (node === null) return;
    if (node.kind === 'segment') expect(state.segments.get(node.target.name)).toBe(node.target);
    else if (node.kind === 'not') visit(node.inner);
    else if (node.kind === 'and' || node.kind === 'or') node.parts.forEach(visit);
  };
  for (const seg of state.segments.values()) visit(seg.targetingTree);
  for (const flag of state.flags.values()) for (const rule of flag.rules) expect(rule.segment).toBe(state.segments.get(rule.segmentName) ?? null);
}

function expectSameAnswers(a: ResolverState, b: ResolverState, contexts: readonly Record<string, unknown>[]): void {
  expectLinked(b);
  expect(b.summary()).toEqual(a.summary());
  expect([...b.flags.keys()]).toEqual([...a.flags.keys()]);
  expect([...b.segments.keys()].sort()).toEqual([...a.segments.keys()].sort());
  for (const seg of a.segments.values()) {
    const other = b.segments.get(seg.name)!;
    expect([other.inCycle, other.allSet, other.materializations]).toEqual([seg.inCycle, seg.allSet, seg.materializations]);
  }
  for (const secret of [SECRET, 'other']) {
    if (a.client(secret) === undefined) continue;
    for (const evaluationContext of contexts) {
      for (const access of [null, sticky]) {
        const request = { evaluationContext, clientSecret: secret };
        expect(resolveFlags(b, request, access)).toEqual(resolveFlags(a, request, access));
      }
    }
  }
}

/** `json` loaded as the provider loads it: prepared, then assembled (its flags deferred). */
function assembledState(json: unknown, options: LoadOptions): ResolverState {
  const result = prepareState(json, options);
  if (!result.ok) throw new Error(`not valid: ${JSON.stringify(result.issues)}`);
  return assembleState(result.prepared);
}

describe('validateDelta', () => {
  test.prop([arbDelta, fc.array(arbContext, { minLength: 1, maxLength: 4 }), fc.constantFrom<LoadOptions>({}, { targetingKeyAlias: 'targetingKey', specialize: 'all' }), fc.boolean()], { numRuns: 300 })(
    'loads what validateState loads from the whole resulting state: same answers, same problems',
    ({ before, json, changes }, contexts, options, assembled) => {
      // An assembled previous state has its flags deferred: those the change cannot reach stay so.
      const previous = assembled ? assembledState(before, options) : loadState(before, options);
      const whole = validateState(json, options);
      const incremental = validateDelta(previous, json, changes, options);
      // tryDelta gives up on every state with a problem (and on what it cannot follow), else
      // answers as the whole load does.
      const tried = tryDelta(previous, json, changes, options);
      if (!whole.ok) expect(tried).toBeNull();
      else if (tried !== null) expectSameAnswers(whole.state, tried.state, contexts);
      if (!whole.ok || !incremental.ok) {
        expect(incremental).toEqual(whole);
        return;
      }
      expectSameAnswers(whole.state, incremental.state, contexts);
      // The previous state is untouched: it still answers as its own JSON does.
      expectSameAnswers(loadState(before, options), previous, contexts);
    },
  );

  const base = (): State =>
    buildState({
      segments: { a: {}, b: { targeting: { criteria: { c: { segment: { segment: 'segments/a' } } }, expression: { ref: 'c' } } }, c: {} },
      flags: { one: { variants: { on: true }, rules: [rollout('a', 'on')] }, two: { variants: { on: true }, rules: [rollout('b', 'on')] }, three: { variants: { on: true }, rules: [rollout('c', 'on')] } },
    });

  it('shares every compiled flag and segment the change cannot reach', () => {
    const before = base();
    const previous = loadState(before);
    const added = { name: 'flags/four', clients: [CLIENT], variants: [{ name: 'on', value: true }], rules: [] };
    const { json, changes } = applyChanges(before, { flags: { 'flags/four': added } }, {}, {});
    const next = loadDelta(previous, json, changes);
    expect(tryDelta(previous, json, changes)?.state.flags.get('flags/one')).toBe(previous.flags.get('flags/one'));
    expect([...next.flags.keys()]).toEqual(['flags/one', 'flags/two', 'flags/three', 'flags/four']);
    for (const name of ['flags/one', 'flags/two', 'flags/three']) expect(next.flags.get(name)).toBe(previous.flags.get(name));
    expect(next.segments).toBe(previous.segments);
    expect(next.clients).toBe(previous.clients);
  });

  it('compiles again the segments that refer to a changed one and the flags that use them', () => {
    const before = base();
    const previous = loadState(before);
    const { json, changes } = applyChanges(before, { bitsets: { 'segments/a': [1, 2, 3] } }, {}, {});
    const next = loadDelta(previous, json, changes);
    expect(next.segments.get('segments/c')).toBe(previous.segments.get('segments/c'));
    expect(next.segments.get('segments/a')).not.toBe(previous.segments.get('segments/a'));
    expect(next.segments.get('segments/b')).not.toBe(previous.segments.get('segments/b'));
    expect(next.flags.get('flags/three')).toBe(previous.flags.get('flags/three'));
    expect(next.flags.get('flags/two')!.rules[0]!.segment).toBe(next.segments.get('segments/b'));
    expect(previous.segments.get('segments/a')!.bitset).toBeNull();
  });

  it('finds the flags a change reaches without compiling the deferred ones it does not, and recompiles those it does', () => {
    const before = base();
    const previous = assembledState(before, {});
    expect([...previous.flags.values()].map((f) => f.compiled)).toEqual([false, false, false]);
    const { json, changes } = applyChanges(before, { bitsets: { 'segments/a': [1, 2, 3] } }, {}, {});
    const next = loadDelta(previous, json, changes);
    // a changed, and b refers to it: flags one and two are compiled again; three is shared, still deferred.
    expect(next.flags.get('flags/three')).toBe(previous.flags.get('flags/three'));
    expect(next.flags.get('flags/three')!.compiled).toBe(false);
    for (const name of ['flags/one', 'flags/two']) expect(next.flags.get(name)).not.toBe(previous.flags.get(name));
    expect(next.flags.get('flags/two')!.rules[0]!.segment).toBe(next.segments.get('segments/b'));
    expect(next.flags.get('flags/three')!.rules[0]!.segment).toBe(next.segments.get('segments/c'));
    // The previous state's deferred flags compile against its own segments.
    expect(previous.flags.get('flags/one')!.rules[0]!.segment).toBe(previous.segments.get('segments/a'));
    expect(previous.flags.get('flags/one')!.rules[0]!.segment).not.toBe(next.segments.get('segments/a'));
  });

  it('a removed segment leaves its rules skipped and its referrers never matching, as a whole load does', () => {
    const before = base();
    const { json, changes } = applyChanges(before, {}, { segments: ['segments/a'] }, {});
    const next = loadDelta(loadState(before), json, changes);
    expect(next.flags.get('flags/one')!.rules[0]!.segment).toBeNull();
    const request = { evaluationContext: { targeting_key: 'u' }, clientSecret: SECRET };
    expect(resolveFlags(next, request)).toEqual(resolveFlags(loadState(json), request));
  });

  it('reports the problems of a bad delta with their paths, and throws them from loadDelta', () => {
    const before = base();
    const { json, changes } = applyChanges(before, { flags: { 'flags/one': { name: 'flags/one', rules: [{ name: 'r', segment: 'segments/a', assignmentSpec: { bucketCount: 0 } }] } } }, {}, {});
    const result = validateDelta(loadState(before), json, changes);
    expect(result.ok ? [] : result.issues).toEqual([{ path: 'flags["flags/one"].rules[0].assignmentSpec.bucketCount', message: 'expected a positive integer, got 0' }]);
    expect(() => loadDelta(loadState(before), json, changes)).toThrow('bucketCount');
  });
});

describe('DeltaAssembler', () => {
  /** Drives `assembler` one item of work per step; how many steps it took. */
  function stepsToEnd(assembler: DeltaAssembler): number {
    let steps = 1;
    while (!assembler.step(0)) steps++;
    return steps;
  }

  /** `b` holds `a`'s names in `a`'s order, each the previous state's own object exactly where `a`'s is. */
  function expectSameEntries<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>, previous: ReadonlyMap<string, T>): void {
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, entry] of a) expect(b.get(name) === previous.get(name)).toBe(entry === previous.get(name));
  }

  test.prop([arbDelta, fc.array(arbContext, { minLength: 1, maxLength: 3 }), fc.constantFrom<LoadOptions>({}, { targetingKeyAlias: 'targetingKey', specialize: 'all' })], { numRuns: 200 })(
    'one item per step makes what tryDelta makes: the same entries in order, the same shared, the same answers; null alike',
    ({ before, json, changes }, contexts, options) => {
      const previous = loadState(before, options);
      const tried = tryDelta(previous, json, changes, options);
      const assembler = new DeltaAssembler(previous, json, changes, options);
      stepsToEnd(assembler);
      const stepped = assembler.result();
      if (tried === null || stepped === null) {
        expect(stepped).toBe(tried);
        return;
      }
      expectSameEntries(tried.state.flags, stepped.state.flags, previous.flags);
      expectSameEntries(tried.state.segments, stepped.state.segments, previous.segments);
      expect(stepped.state.clients === previous.clients).toBe(tried.state.clients === previous.clients);
      expectSameAnswers(tried.state, stepped.state, contexts);
    },
  );

  /** `segmentCount` segments and `flagCount` flags, the first on segment s100 and the others on s1. */
  function wideState(segmentCount: number, flagCount: number): State {
    const segments: Record<string, SegmentSpec> = {};
    for (let i = 0; i < segmentCount; i++) segments[`s${i}`] = {};
    const flags: Record<string, FlagSpec> = {};
    for (let i = 0; i < flagCount; i++) flags[`f${i}`] = { variants: { on: true }, rules: [rollout(i === 0 ? 's100' : 's1', 'on')] };
    return buildState({ segments, flags });
  }

  /** A new bitset for segment s100, loaded one item per step: how many steps (what they made is what tryDelta makes). */
  function bitsetDeltaSteps(before: State): number {
    const previous = loadState(before);
    const { json, changes } = applyChanges(before, { bitsets: { 'segments/s100': [1, 2, 3] } }, {}, {});
    const assembler = new DeltaAssembler(previous, json, changes);
    const steps = stepsToEnd(assembler);
    const stepped = assembler.result()!.state;
    expect(stepped.segments.get('segments/s100')!.bitset!.count).toBe(3);
    expect(stepped.flags.get('flags/f0')!.rules[0]!.segment).toBe(stepped.segments.get('segments/s100'));
    const tried = tryDelta(previous, json, changes)!.state;
    expectSameEntries(tried.segments, stepped.segments, previous.segments);
    expectSameEntries(tried.flags, stepped.flags, previous.flags);
    expect(new DeltaAssembler(previous, json, changes).step(Infinity)).toBe(true);
    return steps;
  }

  it('pauses within each pass over every segment or flag, at least every 1,024 segments or 512 flags scanned', () => {
    const base = bitsetDeltaSteps(wideState(4096, 1024));
    // 4,096 more segments: the index of referrers and the copy of the segments pause 4 more times each.
    expect(bitsetDeltaSteps(wideState(8192, 1024)) - base).toBeGreaterThanOrEqual(8);
    // 1,024 more flags: the scan for flags on a changed segment pauses 2 more times, the copy 1.
    expect(bitsetDeltaSteps(wideState(4096, 2048)) - base).toBeGreaterThanOrEqual(3);
  });
});
