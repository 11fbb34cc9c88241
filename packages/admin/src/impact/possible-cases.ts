/**
 * Which combinations of audience matches some context can have. The preview lists results per
 * combination; one no context can be in (matches `country in [SE, NO] and app_version >= 2.1.0`
 * but not `country in [SE, NO, GB]`) must not widen the bounds.
 *
 * Each condition is split into attribute criteria (`country in [...]`, `app_version >= 2.1.0`).
 * For each attribute, the truth patterns a single value can give its criteria are found by
 * evaluating representative values (attribute-values.ts) with @allot/core itself, so types,
 * parsing and missing values follow the resolver exactly. Core compares a list attribute
 * element by element (a criterion holds when some element meets it; a scalar is a one-element
 * list, a null or missing value meets only `is null`), so the patterns an attribute can have
 * are the unions of element patterns, the missing value's, and none at all (the empty list).
 * Attributes that one context field can change together (`user` and `user.country`) are
 * not reasoned about: every pattern is kept. Pruning is sound: a combination is dropped only
 * when no context has it.
 */
import type { ResolverState } from '@allot/core';

import type { Expr } from '../targeting/ast.js';
import { printExpr } from './audience.js';
import { representatives, type Criterion } from './attribute-values.js';
import { TargetingProbe } from './targeting-probe.js';
import type { AudienceCondition } from './types.js';

/** One criterion over one attribute, as a positive expression (negation stays in the condition). */
interface Atom {
  readonly attribute: string;
  readonly criterion: Criterion;
  readonly expr: Expr;
}

/** Enumerating more attribute patterns than this (per flag or segment) keeps every combination. */
const MAX_PATTERNS = 1 << 16;


export class AudienceSpace {
  private readonly atoms: Atom[] = [];
  private readonly atomIndex = new Map<string, number>();
  /** Per condition: its truth over the atoms' truth values (indexed as `atoms`). */
  private readonly tests: ((truth: Uint8Array) => boolean)[];
  /** Per condition: the atoms it reads. */
  private readonly reads: number[][];
  private probe: { state: ResolverState; truth: (atom: number, context: Record<string, unknown>) => boolean } | null = null;

  constructor(conditions: readonly AudienceCondition[]) {
    this.reads = conditions.map(() => []);
    this.tests = conditions.map((c, i) => this.compile(c.targeting.expr, this.reads[i]!));
  }

  /**
   * Whether some context has combination `t` of `conditions` (bit j: matches `conditions[j]`);
   * null when the conditions are too many to reason about (every combination is kept).
   */
  possible(conditions: readonly number[]): ((t: number) => boolean) | null {
    const used = [...new Set(conditions.flatMap((c) => this.reads[c]!))];
    if (used.length === 0) return null;
    const patterns: { atoms: number[]; masks: number[] }[] = [];
    let product = 1;
    for (const group of this.groups(used)) {
      const masks = this.patternsOf(group);
      if (masks === null) return null;
      product *= masks.length;
      if (product > MAX_PATTERNS) return null;
      patterns.push({ atoms: group, masks });
    }
    const truth = new Uint8Array(this.atoms.length);
    const seen = new Set<number>();
    const walk = (g: number): void => {
      if (g === patterns.length) {
        let t = 0;
        conditions.forEach((c, j) => {
          if (this.tests[c]!(truth)) t |= 1 << j;
        });
        seen.add(t);
        return;
      }
      const { atoms, masks } = patterns[g]!;
      for (const m of masks) {
        atoms.forEach((a, i) => (truth[a] = (m >> i) & 1));
        walk(g + 1);
      }
    };
    walk(0);
    return (t) => seen.has(t);
  }

  /** Atoms grouped by attribute; attributes one context field can change together form one group. */
  private groups(used: readonly number[]): number[][] {
    const byAttribute = new Map<string, number[]>();
    for (const a of used) {
      const name = this.atoms[a]!.attribute;
      byAttribute.set(name, [...(byAttribute.get(name) ?? []), a]);
    }
    const names = [...byAttribute.keys()];
    const root = names.map((_, i) => i);
    const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i]!)));
    names.forEach((x, i) => {
      names.forEach((y, j) => {
        if (i !== j && linked(x, y)) root[find(i)] = find(j);
      });
    });
    const groups = new Map<number, number[]>();
    names.forEach((name, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), ...byAttribute.get(name)!]));
    return [...groups.values()];
  }

  /** Truth patterns (bit i: atom `group[i]`) the group's attribute can have; null: too many. */
  private patternsOf(group: readonly number[]): number[] | null {
    const attribute = this.atoms[group[0]!]!.attribute;
    const single = group.every((a) => this.atoms[a]!.attribute === attribute);
    const reps = single ? representatives(group.map((a) => this.atoms[a]!.criterion)) : null;
    if (reps === null) {
      // Not reasoned about: every pattern.
      if (group.length > 16) return null;
      return Array.from({ length: 1 << group.length }, (_, m) => m);
    }
    const probe = this.probeState();
    const patternOf = (context: Record<string, unknown>): number => group.reduce((m, a, i) => (probe.truth(a, context) ? m | (1 << i) : m), 0);
    const elements = new Set<number>([patternOf({})]);
    for (const r of reps) elements.add(patternOf(contextWith(attribute, r)));
    // Unions of element patterns (a list of those elements), from the empty list's none.
    const all = [0];
    const seen = new Set(all);
    for (const e of elements) {
      for (let i = 0, n = all.length; i < n; i++) {
        const m = all[i]! | e;
        if (seen.has(m)) continue;
        if (all.length >= MAX_PATTERNS) return null;
        seen.add(m);
        all.push(m);
      }
    }
    return all;
  }

  /** Splits a condition into atoms; returns its truth over theirs. */
  private compile(e: Expr, reads: number[]): (truth: Uint8Array) => boolean {
    switch (e.kind) {
      case 'and': {
        const parts = e.operands.map((o) => this.compile(o, reads));
        return (t) => parts.every((p) => p(t));
      }
      case 'or': {
        const parts = e.operands.map((o) => this.compile(o, reads));
        return (t) => parts.some((p) => p(t));
      }
      case 'not': {
        const inner = this.compile(e.operand, reads);
        return (t) => !inner(t);
      }
      case 'segment':
        throw new Error('unreachable: an audience condition refers to no segment');
      default: {
        const { atom, negated } = positive(e);
        const key = printExpr(atom.expr);
        let index = this.atomIndex.get(key);
        if (index === undefined) {
          index = this.atoms.length;
          this.atoms.push(atom);
          this.atomIndex.set(key, index);
        }
        reads.push(index);
        const i = index;
        return negated ? (t) => t[i] === 0 : (t) => t[i] === 1;
      }
    }
  }

  /** One flag per atom, serving `match` to the contexts that meet it, compiled by core. */
  private probeState(): NonNullable<AudienceSpace['probe']> {
    if (this.probe !== null) return this.probe;
    const probe = new TargetingProbe(this.atoms.map((a) => ({ source: printExpr(a.expr), expr: a.expr })));
    this.probe = { state: probe.state, truth: (atom, context) => probe.matches(atom, context) };
    return this.probe;
  }
}

/** The positive criterion of a leaf, and whether the leaf negates it (`!=`, `not in`, `is not null`). */
function positive(e: Exclude<Expr, { kind: 'and' | 'or' | 'not' | 'segment' }>): { atom: Atom; negated: boolean } {
  switch (e.kind) {
    case 'compare': {
      const equality = e.op === '==' || e.op === '!=';
      const expr: Expr = e.op === '!=' ? { ...e, op: '==' } : e;
      return { atom: { attribute: e.attribute, criterion: { kind: equality ? 'eq' : 'range', value: e.value }, expr }, negated: e.op === '!=' };
    }
    case 'in':
      return { atom: { attribute: e.attribute, criterion: { kind: 'set', values: e.values }, expr: { ...e, negated: false } }, negated: e.negated };
    case 'null':
      return { atom: { attribute: e.attribute, criterion: { kind: 'null' }, expr: { ...e, negated: false } }, negated: e.negated };
    case 'text':
      return { atom: { attribute: e.attribute, criterion: { kind: 'text', op: e.op, value: e.value }, expr: e }, negated: false };
  }
}

/**
 * Whether one context field can set both attributes: a dotted path and its prefix (`user`,
 * `user.country`), or the targeting key under both of its names.
 */
function linked(x: string, y: string): boolean {
  if (x.startsWith(`${y}.`) || y.startsWith(`${x}.`)) return true;
  const key = new Set(['targeting_key', 'targetingKey']);
  return key.has(x) && key.has(y);
}

/** A context whose attribute (a dotted path) holds `value`. */
function contextWith(attribute: string, value: unknown): Record<string, unknown> {
  const keys = attribute.split('.');
  let inner: unknown = value;
  for (let i = keys.length - 1; i >= 0; i--) inner = { [keys[i]!]: inner };
  return inner as Record<string, unknown>;
}

