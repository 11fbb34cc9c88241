/**
 * Specialized flags (specialize.ts) against the generic walk (resolve.ts): on generated states
 * of both shapes and generated contexts, with sticky records, the two give the same results
 * and make the same sticky-store calls in the same order.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { loadState, SPECIALIZE_AFTER } from '../state/load.js';
import type { ResolverState } from '../state/resolver-state.js';
import { arbContext, arbState } from '../testing/arbitraries.js';
import { context as protoContext, MATERIALIZATIONS, protoState, SECRETS, ACCOUNT } from '../testing/proto-states.js';
import { buildState, only, rollout, SECRET, str, attr, num, type Json } from '../testing/states.js';
import type { MaterializationAccess, MaterializationRecord } from '../types.js';
import { resolveFlag, resolveFlags } from './resolve.js';

/** Every string in `raw` that `pattern` matches (rule names, variant names). */
function stringsOf(raw: Json, pattern: RegExp, into = new Set<string>()): Set<string> {
  if (typeof raw === 'string' && pattern.test(raw)) into.add(raw);
  else if (Array.isArray(raw)) for (const x of raw) stringsOf(x, pattern, into);
  else if (raw !== null && typeof raw === 'object') for (const x of Object.values(raw)) stringsOf(x, pattern, into);
  return into;
}

interface Pick {
  readonly unit: number;
  readonly materialization: number;
  readonly rule: number;
  readonly variant: number;
  readonly inMaterialization: boolean;
}

/** A sticky store over `picks` that logs every call, so that two walks' calls can be compared. */
function store(picks: readonly Pick[], units: readonly string[], rules: readonly string[], variants: readonly string[], log: string[]): MaterializationAccess {
  const records = picks.map((p) => ({
    unit: units[p.unit % Math.max(units.length, 1)] ?? '',
    materialization: MATERIALIZATIONS[p.materialization % MATERIALIZATIONS.length]!,
    rule: rules[p.rule % Math.max(rules.length, 1)] ?? '',
    variant: variants[p.variant % Math.max(variants.length, 1)] ?? '',
    inMaterialization: p.inMaterialization,
  }));
  return {
    read(unit, materialization): MaterializationRecord | null | undefined {
      log.push(`read ${unit} ${materialization}`);
      const mine = records.filter((r) => r.unit === unit && r.materialization === materialization);
      if (mine.length === 0) return unit.length % 5 === 0 ? undefined : null; // sometimes "not fetched"
      const ruleToVariant: Record<string, string> = {};
      for (const r of mine) if (r.rule !== '') ruleToVariant[r.rule] = r.variant;
      return { isUnitInMaterialization: mine[0]!.inMaterialization, ruleToVariant };
    },
    write(w) {
      log.push(`write ${JSON.stringify(w)}`);
    },
    missing(key) {
      log.push(`missing ${JSON.stringify(key)}`);
    },
  };
}

const pick: fc.Arbitrary<Pick> = fc.record({
  unit: fc.nat(3),
  materialization: fc.nat(3),
  rule: fc.nat(64),
  variant: fc.nat(64),
  inMaterialization: fc.boolean(),
});

/** The values a state's criteria compare with (and their neighbours), to put into contexts. */
function poolOf(raw: Json, into: Json[] = []): Json[] {
  if (Array.isArray(raw)) for (const x of raw) poolOf(x, into);
  else if (raw !== null && typeof raw === 'object') {
    for (const [key, x] of Object.entries(raw)) {
      if (key === 'numberValue' && typeof x === 'number') into.push(x, x + 1, x - 1, String(x), [x]);
      else if ((key === 'stringValue' || key === 'timestampValue' || key === 'version') && typeof x === 'string') into.push(x, `${x}a`, [x]);
      else poolOf(x, into);
    }
  }
  return into;
}

/** Contexts of `base` where, as often as not, an attribute holds a value of the pool. */
function near(base: fc.Arbitrary<Record<string, unknown>>, pool: readonly Json[]): fc.Arbitrary<Record<string, unknown>> {
  if (pool.length === 0) return base;
  const fields = ['country', 'age', 'version', 'created', 'tags', 'flag'];
  return fc
    .tuple(base, fc.array(fc.tuple(fc.constantFrom(...fields), fc.constantFrom(...pool)), { maxLength: 4 }))
    .map(([ctx, set]) => ({ ...ctx, ...Object.fromEntries(set) }));
}

/** Units a context carries, as the walk would read them. */
function unitsOf(ctx: Record<string, unknown>): string[] {
  const user = ctx.user as Record<string, unknown> | null | undefined;
  return [ctx.targeting_key, typeof user === 'object' && user !== null ? user.id : undefined, ctx.age]
    .map((u) => (typeof u === 'string' ? u : typeof u === 'number' && Number.isSafeInteger(u) ? String(u) : undefined))
    .filter((u): u is string => u !== undefined);
}

/** Resolves every flag for every secret in both states; the answers and store calls must be equal. */
function agree(raw: Record<string, Json>, options: { accountId?: string }, secrets: readonly string[], contexts: fc.Arbitrary<Record<string, unknown>>, seed: number, runs: number): void {
  const specialized = loadState(raw, { ...options, specialize: 'all' });
  const generic = loadState(raw, { ...options, specialize: 'none' });
  // Every flag served is written as code (a bug in the writer would otherwise fall back silently).
  expect([...specialized.flags.values()].filter((f) => !f.archived && f.program === null).map((f) => f.name)).toEqual([]);
  expect([...generic.flags.values()].every((f) => f.program === null)).toBe(true);
  const rules = [...stringsOf(raw, /\/rules\//)];
  const variants = [...stringsOf(raw, /\/variants\//), 'on', '', 'gone'];
  fc.assert(
    fc.property(near(contexts, poolOf(raw)), fc.array(pick, { maxLength: 4 }), fc.constantFrom(...secrets), (ctx, picks, secret) => {
      const answer = (state: ResolverState): { out: unknown; log: string[] } => {
        const log: string[] = [];
        const access = store(picks, unitsOf(ctx), rules, variants, log);
        try {
          return { out: resolveFlags(state, { evaluationContext: ctx, clientSecret: secret }, access), log };
        } catch (error) {
          return { out: (error as Error).message, log };
        }
      };
      expect(answer(specialized)).toEqual(answer(generic));
    }),
    { seed, numRuns: runs },
  );
}

describe('specialized flags', () => {
  it('answer as the generic walk on generated proto-JSON states (every criterion kind, bitsets, blooms, references, sticky reads and writes)', () => {
    const states = fc.sample(protoState, { seed: 7, numRuns: 40 });
    states.forEach((raw, i) => {
      agree(raw, { accountId: ACCOUNT }, [...SECRETS, 'unknown'], protoContext, 100 + i, 300);
    });
  }, 120_000);

  it('answer as the generic walk on generated conformance-shape states and awkward contexts', () => {
    const states = fc.sample(arbState, { seed: 11, numRuns: 24 });
    states.forEach((raw, i) => {
      agree(raw, {}, [SECRET], arbContext, 200 + i, 300);
    });
  }, 120_000);

  it('test text and number criteria inline exactly as their test functions do, at every bound', () => {
    const bounds = [-1, -0, 0, 0.5, 18, 1e21];
    const segments: Record<string, { targeting: ReturnType<typeof only> }> = {};
    let n = 0;
    const add = (rule: Record<string, Json>): void => {
      segments[`s${n++}`] = { targeting: only(attr('age', rule)) };
    };
    for (const lo of [null, ...bounds]) {
      for (const hi of [null, ...bounds]) {
        for (const [startKey, endKey] of [['startInclusive', 'endInclusive'], ['startExclusive', 'endExclusive'], ['startInclusive', 'endExclusive'], ['startExclusive', 'endInclusive']] as const) {
          const rule: Record<string, Json> = {};
          if (lo !== null) rule[startKey] = num(lo);
          if (hi !== null) rule[endKey] = num(hi);
          add({ rangeRule: rule });
        }
      }
    }
    for (const size of [1, 2, 8, 9, 12]) {
      add({ setRule: { values: bounds.concat([2, 3, 4, 5, 6, 7]).slice(0, size).map(num) } });
      add({ setRule: { values: ['18', 'SE', '', 'é', '-0', '0.5', 'a', 'b', 'c', 'd', 'e', 'f'].slice(0, size).map(str) } });
    }
    for (const b of bounds) add({ eqRule: { value: num(b) } });
    add({ eqRule: { value: str('18') } });
    const raw = buildState({
      segments,
      flags: Object.fromEntries(Object.keys(segments).map((id) => [id, { variants: { on: true }, rules: [rollout(id, 'on')] }])),
    });
    const specialized = loadState(raw, { specialize: 'all' });
    const generic = loadState(raw, { specialize: 'none' });
    const values: unknown[] = [...bounds, 17, 19, 1e21 + 1, -1e21, NaN, Infinity, -Infinity, '18', '-0', '0.5', 'SE', '', [18], [], null, undefined, true, { n: 18 }];
    let matched = 0;
    for (const flag of specialized.flags.values()) {
      for (const age of values) {
        const context = { targeting_key: 'u', age };
        const mine = resolveFlag(specialized, specialized.client(SECRET)!, flag, context);
        const theirs = resolveFlag(generic, generic.client(SECRET)!, generic.flag(flag.name)!, context);
        expect({ flag: flag.name, age, reason: mine.reason }).toEqual({ flag: flag.name, age, reason: theirs.reason });
        if (mine.reason === 'RESOLVE_REASON_MATCH') matched++;
      }
    }
    expect(matched).toBeGreaterThan(500); // the comparison is not between two "no match"es
  });

  it('write names and strings from the state into code only as literals', () => {
    // No dot: a dotted name is a path into the context, and this one must be read as a key.
    const hostile = '"); globalThis["__allotInjected"] = true; ("\u2028\\';
    const raw = buildState({
      segments: {
        odd: { targeting: only(attr(hostile, { eqRule: { value: str(hostile) } })) },
        num: { targeting: only(attr('age', { rangeRule: { startExclusive: num(-0), endInclusive: num(1e21) } })) },
      },
      flags: {
        [hostile.replace(/\W/g, '')]: { variants: { on: true }, rules: [rollout('odd', 'on', { selector: hostile })] },
        ages: { variants: { on: true }, rules: [rollout('num', 'on')] },
      },
    });
    const state = loadState(raw, { specialize: 'all' });
    const client = state.client(SECRET)!;
    const flags = [...state.flags.values()];
    expect(flags.every((f) => f.program !== null)).toBe(true);
    const served = flags.map((f) => resolveFlag(state, client, f, { [hostile]: hostile, age: 30 }).variant);
    expect((globalThis as Record<string, unknown>).__allotInjected).toBeUndefined();
    expect(served.map((v) => v.split('/').pop())).toEqual(['on', 'on']);
    const generic = loadState(raw, { specialize: 'none' });
    expect(resolveFlag(generic, generic.client(SECRET)!, generic.flag(flags[0]!.name)!, { [hostile]: hostile }).variant).toBe(served[0]);
    expect(resolveFlag(state, client, flags[1]!, { targeting_key: 'u', age: 0 }).reason).toBe('RESOLVE_REASON_NO_SEGMENT_MATCH');
    expect(resolveFlag(state, client, flags[1]!, { targeting_key: 'u', age: -0 }).reason).toBe('RESOLVE_REASON_NO_SEGMENT_MATCH');
    expect(resolveFlag(state, client, flags[1]!, { targeting_key: 'u', age: 1e21 }).reason).toBe('RESOLVE_REASON_MATCH');
  });

  it('are written for a flag once it is hot (by default), and never with "none"', () => {
    const raw = buildState({ segments: { all: {} }, flags: { f: { variants: { on: true }, rules: [rollout('all', 'on')] }, g: { variants: { on: true }, rules: [rollout('all', 'on')] } } });
    const hot = loadState(raw);
    const never = loadState(raw, { specialize: 'none' });
    const [f, g] = [hot.flag('f')!, hot.flag('g')!];
    const answers = new Set<string>();
    for (let i = 0; i < SPECIALIZE_AFTER; i++) {
      expect(f.program).toBeNull();
      answers.add(JSON.stringify(resolveFlag(hot, hot.client(SECRET)!, f, { targeting_key: `u${i}` })));
    }
    expect(f.program).not.toBeNull();
    expect(g.program).toBeNull(); // a flag never resolved is never written
    answers.add(JSON.stringify(resolveFlag(hot, hot.client(SECRET)!, f, { targeting_key: 'u0' })));
    expect(answers.size).toBe(1);
    for (let i = 0; i < 2 * SPECIALIZE_AFTER; i++) resolveFlag(never, never.client(SECRET)!, never.flag('f')!, { targeting_key: `u${i}` });
    expect(never.flag('f')!.program).toBeNull();
  });

  it('are written for a flag of 3,000 rules, and answer as the generic walk', () => {
    const segments = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`s${i}`, { targeting: only(attr('n', { eqRule: { value: num(i) } })) }]));
    const rules = Array.from({ length: 3_000 }, (_, i) => rollout(`s${i}`, i % 2 === 0 ? 'on' : 'off'));
    const raw = buildState({ segments, flags: { big: { variants: { on: true, off: false }, rules } } });
    const specialized = loadState(raw, { specialize: 'all' });
    const generic = loadState(raw, { specialize: 'none' });
    expect(specialized.flag('big')!.program).not.toBeNull();
    for (const n of [0, 1, 1_499, 2_999, 3_000, '7']) {
      const context = { targeting_key: 'u', n };
      expect(resolveFlag(specialized, specialized.client(SECRET)!, specialized.flag('big')!, context)).toEqual(
        resolveFlag(generic, generic.client(SECRET)!, generic.flag('big')!, context),
      );
    }
  });

  describe('where generated code is forbidden', () => {
    afterEach(() => {
      vi.unstubAllGlobals();
    });

    it('keep the generic walk and still resolve', () => {
      vi.stubGlobal('Function', function forbidden(): never {
        throw new EvalError('Code generation from strings disallowed for this context');
      });
      const raw = buildState({ segments: { all: {} }, flags: { f: { variants: { on: true }, rules: [rollout('all', 'on')] } } });
      const state = loadState(raw, { specialize: 'all' });
      vi.unstubAllGlobals();
      const flag = state.flag('f')!;
      expect(flag.program).toBeNull();
      expect(resolveFlag(state, state.client(SECRET)!, flag, { targeting_key: 'u' }).reason).toBe('RESOLVE_REASON_MATCH');
    });
  });
});
