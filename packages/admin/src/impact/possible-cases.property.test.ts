/**
 * The combinations the preview keeps are exactly those some context has: pairs of generated
 * targeting expressions over a small domain, every combination of their matches decided by
 * brute force (core's compiled targeting over every context of the domain: each attribute
 * missing, an empty list, one of its edge values or null, or a list of them) and compared with
 * `AudienceSpace.possible`. A pruned combination no context has; a kept one some context has.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { parseTargeting } from '../targeting/parser.js';
import type { Expr, Literal } from '../targeting/ast.js';
import { conditionLabel, printExpr } from './audience.js';
import { AudienceSpace } from './possible-cases.js';
import { TargetingProbe } from './targeting-probe.js';
import type { AudienceCondition } from './types.js';

const str = (value: string): Literal => ({ type: 'string', value });
const num = (value: number): Literal => ({ type: 'number', value });
const ver = (value: string): Literal => ({ type: 'version', value });
const time = (value: string): Literal => ({ type: 'timestamp', value });
const bool = (value: boolean): Literal => ({ type: 'bool', value });

/**
 * Per attribute: the literals expressions use, the operators they may take, its edge values
 * (each literal, values between and beyond them, values core reads another way), and how many
 * elements a list in the domain may hold (at least the criteria one pair can put on it).
 */
const ATTRIBUTES = {
  age: {
    literals: [num(1), num(2), num(3)],
    ranges: true,
    text: false,
    elements: [0, 1, 1.5, 2, 2.5, 3, 4, '2', 'abc'],
    list: 3,
  },
  app_version: {
    literals: [ver('1.0.0'), ver('2.1.0'), ver('2.1.1')],
    ranges: true,
    text: false,
    elements: ['0.9', '1.0.0', '1.5.0', '2.1.0', '2.1.0-beta', '2.1.0.1', '2.1.1', '3.0.0', 'v5'],
    list: 3,
  },
  country: {
    literals: [str('GB'), str('NO'), str('SE')],
    ranges: true,
    text: false,
    elements: ['A', 'DK', 'GB', 'GBA', 'NO', 'NOA', 'SE', 'Z'],
    list: 3,
  },
  email: {
    literals: [str('a'), str('b'), str('ab')],
    ranges: false,
    text: true,
    elements: ['', 'a', 'b', 'aa', 'ab', 'ba', 'bb', 'aab', 'aba', 'abb', 'baa', 'bab', 'bba', 'abab', 'baba', 'c', 7],
    list: 2,
  },
  signup: {
    literals: [time('2026-01-01T00:00:00Z'), time('2026-01-01T00:00:00.5Z'), time('2026-06-01')],
    ranges: true,
    text: false,
    elements: [
      '2025-12-31T23:59:59Z',
      '2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00.25Z',
      '2026-01-01T00:00:00.5Z',
      '2026-01-01T00:00:00.75Z',
      '2026-03-01',
      '2026-06-01',
      '2027-01-01',
      1_767_225_600,
      'x',
    ],
    list: 3,
  },
  beta: {
    literals: [bool(true), bool(false)],
    ranges: false,
    text: false,
    elements: [true, false, 'true', 'TRUE', 'false', 'x', 1, {}],
    list: 3,
  },
  /** Criteria of several kinds on one attribute: not reasoned about, so only soundness is checked. */
  mixed: {
    literals: [num(2), num(18), str('18'), str('a'), ver('2.1.0')],
    ranges: true,
    text: true,
    elements: [0, 2, 18, '18', '2', 'a', 'ab', '2.1.0', 'v5', true, {}],
    list: 3,
  },
} as const satisfies Record<string, { literals: Literal[]; ranges: boolean; text: boolean; elements: unknown[]; list: number }>;

type Attribute = keyof typeof ATTRIBUTES;
const NAMES = (Object.keys(ATTRIBUTES) as Attribute[]).filter((n) => n !== 'mixed');

/** Every value the attribute takes in the domain; undefined: missing. */
function domainOf(name: Attribute): unknown[] {
  const { list } = ATTRIBUTES[name];
  // A null element of a list meets `is null` as a null value does.
  const elements = [...ATTRIBUTES[name].elements, null];
  const values: unknown[] = [undefined, []];
  const pick = (from: number, chosen: unknown[]): void => {
    if (chosen.length > 0) values.push(chosen.length === 1 ? chosen[0] : [...chosen]);
    if (chosen.length === list) return;
    for (let i = from; i < elements.length; i++) pick(i + 1, [...chosen, elements[i]]);
  };
  pick(0, []);
  return values;
}

function leaf(name: Attribute): fc.Arbitrary<Expr> {
  const { literals, ranges, text } = ATTRIBUTES[name];
  const literal = fc.constantFrom(...literals);
  const ops = ranges ? (['==', '!=', '<', '<=', '>', '>='] as const) : (['==', '!='] as const);
  const choices: fc.Arbitrary<Expr>[] = [
    fc.record({ op: fc.constantFrom(...ops), value: literal }).map(({ op, value }): Expr => ({ kind: 'compare', attribute: name, op, value })),
    fc
      .record({ negated: fc.boolean(), values: fc.uniqueArray(literal, { minLength: 1, maxLength: 3, selector: (l) => l.value }) })
      .map(({ negated, values }): Expr => ({ kind: 'in', attribute: name, negated, values })),
    fc.boolean().map((negated): Expr => ({ kind: 'null', attribute: name, negated })),
  ];
  if (text) {
    choices.push(
      fc
        .record({ op: fc.constantFrom('starts with', 'ends with', 'contains'), value: fc.constantFrom('a', 'b', 'ab') })
        .map(({ op, value }): Expr => ({ kind: 'text', attribute: name, op, value })),
    );
  }
  return fc.oneof(...choices);
}

/** An expression of one or two leaves over `names`. */
function expression(names: readonly Attribute[]): fc.Arbitrary<Expr> {
  const one = fc.constantFrom(...names).chain(leaf);
  const maybeNot = (e: fc.Arbitrary<Expr>): fc.Arbitrary<Expr> => fc.tuple(fc.boolean(), e).map(([n, x]): Expr => (n ? { kind: 'not', operand: x } : x));
  return fc.oneof(
    maybeNot(one),
    fc.tuple(fc.constantFrom('and' as const, 'or' as const), maybeNot(one), maybeNot(one)).map(([kind, a, b]): Expr => ({ kind, operands: [a, b] })),
  );
}

/** Pairs over one attribute (where criteria interact) three times in four, else over two. */
function pairsOver(pool: readonly Attribute[]): fc.Arbitrary<[Attribute[], Expr, Expr]> {
  const names = fc.oneof(
    { arbitrary: fc.constantFrom(...pool).map((n) => [n]), weight: 3 },
    { arbitrary: fc.uniqueArray(fc.constantFrom(...pool), { minLength: 2, maxLength: 2 }), weight: 1 },
  );
  return names.chain((chosen) => fc.tuple(fc.constant(chosen), expression(chosen), expression(chosen)));
}

function leaves(e: Expr): Expr[] {
  return e.kind === 'and' || e.kind === 'or' ? e.operands.flatMap(leaves) : e.kind === 'not' ? leaves(e.operand) : [e];
}

function condition(expr: Expr, index: number): AudienceCondition {
  const text = printExpr(expr);
  return { label: conditionLabel(index), text, targeting: { source: text, expr } };
}

/** The combinations of matches some context of the domain has, by core's targeting. */
function bruteForce(conditions: readonly AudienceCondition[], names: readonly Attribute[]): Set<number> {
  const probe = new TargetingProbe(conditions.map((c) => c.targeting));
  const found = new Set<number>();
  const domains = names.map(domainOf);
  const context: Record<string, unknown> = {};
  const visit = (i: number): void => {
    if (i === names.length) {
      let t = 0;
      for (let j = 0; j < conditions.length; j++) if (probe.matches(j, context)) t |= 1 << j;
      found.add(t);
      return;
    }
    for (const v of domains[i]!) {
      // Missing is an absent key, not a key holding undefined.
      if (v === undefined) Reflect.deleteProperty(context, names[i]!);
      else context[names[i]!] = v;
      visit(i + 1);
    }
  };
  visit(0);
  return found;
}

/** The criteria a pair puts on each of its attributes fit the domain's lists. */
function fitsDomain(names: readonly Attribute[], a: Expr, b: Expr): boolean {
  const all = [...leaves(a), ...leaves(b)];
  return names.every((name) => all.filter((l) => 'attribute' in l && l.attribute === name).length <= ATTRIBUTES[name].list);
}

/**
 * Shapes every run checks besides the generated ones: the retarget, and the gaps a
 * missing representative would fall into (between two numbers, versions, instants, texts).
 */
const EXAMPLES: [[Attribute[], Expr, Expr]][] = (
  [
    [['country', 'app_version'], 'country in [SE, NO] and app_version >= 2.1.0', 'country in [SE, NO, GB]'],
    [['country'], 'country == "SE"', 'country in [SE, NO]'],
    [['age'], 'age > 1', 'age >= 2'],
    [['age'], 'age <= 2 and age > 1', 'age in [1, 2]'],
    [['app_version'], 'app_version > 2.1.0', 'app_version >= 2.1.1'],
    [['app_version'], 'app_version >= 2.1.0', 'app_version == 2.1.0'],
    [['signup'], 'signup > timestamp("2026-01-01T00:00:00Z")', 'signup >= timestamp("2026-01-01T00:00:00.5Z")'],
    [['country'], 'country > "GB"', 'country >= "NO"'],
    [['email'], 'email starts with "ab"', 'email ends with "ab"'],
    [['beta'], 'beta == true', 'beta in [true, false]'],
  ] as const
).map(([names, a, b]) => [[[...names], parseTargeting(a, 'a')!.expr, parseTargeting(b, 'b')!.expr]]);

const label = (a: Expr, b: Expr): string => `A: ${printExpr(a)}\nB: ${printExpr(b)}`;

describe('AudienceSpace.possible against brute force', () => {
  let runs = 0;
  let pruning = 0;

  test.prop([pairsOver(NAMES)], { numRuns: 250, examples: EXAMPLES })('prunes exactly the combinations no context has', ([names, a, b]) => {
    fc.pre(fitsDomain(names, a, b));
    const conditions = [condition(a, 0), condition(b, 1)];
    const possible = new AudienceSpace(conditions).possible([0, 1]);
    expect(possible).not.toBeNull();
    const truth = bruteForce(conditions, names);
    const kept = [0, 1, 2, 3].filter((t) => possible!(t));
    expect(kept, label(a, b)).toEqual([...truth].sort((x, y) => x - y));
    runs++;
    if (kept.length < 4) pruning++;
  });

  it('pruned something in a fair share of the runs (the property is not vacuous)', () => {
    expect(runs).toBeGreaterThan(150);
    expect(pruning / runs).toBeGreaterThan(0.2);
  });

  test.prop([pairsOver(['mixed', 'age'])], { numRuns: 40 })('keeps every combination some context has, with criteria of several kinds on one attribute', ([names, a, b]) => {
    fc.pre(fitsDomain(names, a, b));
    const conditions = [condition(a, 0), condition(b, 1)];
    const possible = new AudienceSpace(conditions).possible([0, 1]);
    const truth = bruteForce(conditions, names);
    for (const t of truth) expect(possible === null || possible(t), `${label(a, b)}\ncombination ${t}`).toBe(true);
  });
});
