/**
 * The reference evaluator's audiences: a plain interpreter of Confidence targeting
 * (criteria combined by `ref`/`and`/`or`/`not`), written apart from core's compiled closures
 * so that the two can be held against each other. It reads the state JSON as a person would.
 */
import { compareVersions, parseTimestamp, parseVersion } from '@allot/core';

/** Thrown for targeting the reference does not model (bloom filters, reference cycles). */
export class UnsupportedTargeting extends Error {
  override readonly name = 'UnsupportedTargeting';
}

export type Value = { kind: 'string'; s: string } | { kind: 'number'; n: number } | { kind: 'bool'; b: boolean } | { kind: 'null' } | { kind: 'version'; s: string } | { kind: 'timestamp'; t: number };

export type Test =
  | { op: 'eq'; value: Value }
  | { op: 'set'; values: Value[] }
  | { op: 'range'; lo: Value | null; loInclusive: boolean; hi: Value | null; hiInclusive: boolean }
  | { op: 'startsWith' | 'endsWith' | 'contains'; text: string }
  | { op: 'none' };

export type Expr =
  | { op: 'and' | 'or'; parts: Expr[] }
  | { op: 'not'; inner: Expr }
  | { op: 'attribute'; path: string[]; list: 'any' | 'all' | 'scalar'; test: Test }
  | { op: 'segment'; name: string }
  | { op: 'materialization'; name: string }
  | { op: 'never' };

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null);

function parseValue(raw: unknown): Value {
  const o = obj(raw) ?? {};
  if (typeof o.stringValue === 'string') return { kind: 'string', s: o.stringValue };
  if (typeof o.numberValue === 'number') return { kind: 'number', n: o.numberValue };
  if (typeof o.boolValue === 'boolean') return { kind: 'bool', b: o.boolValue };
  if (typeof o.timestampValue === 'string') return { kind: 'timestamp', t: parseTimestamp(o.timestampValue) };
  if (o.versionValue !== undefined) {
    const v = obj(o.versionValue);
    return { kind: 'version', s: typeof v?.version === 'string' ? v.version : typeof o.versionValue === 'string' ? o.versionValue : '' };
  }
  return { kind: 'null' };
}

function parseTest(holder: Json): Test {
  const eq = obj(holder.eqRule);
  if (eq) return { op: 'eq', value: parseValue(eq.value) };
  const set = obj(holder.setRule);
  if (set) return { op: 'set', values: (Array.isArray(set.values) ? set.values : []).map(parseValue) };
  const range = obj(holder.rangeRule);
  if (range) {
    const lo = range.startInclusive ?? range.startExclusive;
    const hi = range.endInclusive ?? range.endExclusive;
    return {
      op: 'range',
      lo: lo === undefined ? null : parseValue(lo),
      loInclusive: range.startInclusive !== undefined,
      hi: hi === undefined ? null : parseValue(hi),
      hiInclusive: range.endInclusive !== undefined,
    };
  }
  for (const op of ['startsWith', 'endsWith', 'contains'] as const) {
    const r = obj(holder[`${op}Rule`]);
    if (r && typeof r.value === 'string') return { op, text: r.value };
  }
  return { op: 'none' };
}

/** Parses a segment's `targeting` into an expression; null means everyone. */
export function parseTargeting(raw: unknown, bloomFilters: ReadonlySet<string>): Expr | null {
  const t = obj(raw);
  if (!t || t.expression === undefined || t.expression === null) return null;
  const criteria = obj(t.criteria) ?? {};
  const criterion = (name: string): Expr => {
    const c = obj(criteria[name]);
    if (!c) return { op: 'never' };
    const attr = obj(c.attribute);
    if (attr) {
      const path = String(attr.attributeName).split('.');
      const any = obj(attr.anyRule);
      if (any) return { op: 'attribute', path, list: 'any', test: parseTest(obj(any.rule) ?? {}) };
      const all = obj(attr.allRule);
      if (all) return { op: 'attribute', path, list: 'all', test: parseTest(obj(all.rule) ?? {}) };
      return { op: 'attribute', path, list: 'scalar', test: parseTest(attr) };
    }
    const seg = obj(c.segment);
    if (seg && typeof seg.segment === 'string') return { op: 'segment', name: seg.segment };
    const mat = obj(c.materializedSegment);
    if (mat && typeof mat.materializedSegment === 'string') {
      if (bloomFilters.has(mat.materializedSegment)) throw new UnsupportedTargeting('bloom-filter materialized segments');
      return { op: 'materialization', name: mat.materializedSegment };
    }
    return { op: 'never' };
  };
  const expr = (e: unknown): Expr => {
    const o = obj(e) ?? {};
    if (typeof o.ref === 'string') return criterion(o.ref);
    if (o.not !== undefined) return { op: 'not', inner: expr(o.not) };
    for (const op of ['and', 'or'] as const) {
      const g = obj(o[op]);
      if (g) return { op, parts: (Array.isArray(g.operands) ? g.operands : []).map(expr) };
    }
    return { op: 'never' };
  };
  return expr(t.expression);
}

/** A context value as epoch milliseconds, or NaN (numbers below 1e11 are seconds). */
function timestampOf(v: unknown): number {
  if (typeof v === 'string') return parseTimestamp(v);
  if (typeof v === 'number' && Number.isFinite(v)) return Math.abs(v) >= 1e11 ? v : v * 1000;
  return NaN;
}

function equals(v: unknown, c: Value): boolean {
  switch (c.kind) {
    case 'string':
      return v === c.s;
    case 'number':
      return v === c.n;
    case 'bool':
      return v === c.b;
    case 'null':
      return v === null || v === undefined;
    case 'timestamp':
      return timestampOf(v) === c.t;
    case 'version': {
      const a = typeof v === 'string' ? parseVersion(v) : null;
      const b = parseVersion(c.s);
      return a !== null && b !== null && compareVersions(a, b) === 0;
    }
  }
}

/** -1, 0, 1, or NaN when the value cannot be compared with the bound. */
function compare(v: unknown, c: Value): number {
  switch (c.kind) {
    case 'number':
      return typeof v === 'number' ? Math.sign(v - c.n) : NaN;
    case 'string':
      return typeof v === 'string' ? (v < c.s ? -1 : v > c.s ? 1 : 0) : NaN;
    case 'timestamp': {
      const t = timestampOf(v);
      return Number.isNaN(t) ? NaN : Math.sign(t - c.t);
    }
    case 'version': {
      const a = typeof v === 'string' ? parseVersion(v) : null;
      const b = parseVersion(c.s);
      return a === null || b === null ? NaN : Math.sign(compareVersions(a, b));
    }
    default:
      return NaN;
  }
}

export function testValue(t: Test, v: unknown): boolean {
  switch (t.op) {
    case 'eq':
      return equals(v, t.value);
    case 'set':
      return t.values.some((c) => equals(v, c));
    case 'range': {
      if (t.lo === null && t.hi === null) return false;
      if (t.lo !== null) {
        const c = compare(v, t.lo);
        if (Number.isNaN(c) || c < 0 || (c === 0 && !t.loInclusive)) return false;
      }
      if (t.hi !== null) {
        const c = compare(v, t.hi);
        if (Number.isNaN(c) || c > 0 || (c === 0 && !t.hiInclusive)) return false;
      }
      return true;
    }
    case 'startsWith':
      return typeof v === 'string' && v.startsWith(t.text);
    case 'endsWith':
      return typeof v === 'string' && v.endsWith(t.text);
    case 'contains':
      return typeof v === 'string' && v.includes(t.text);
    case 'none':
      return false;
  }
}

export function readPath(context: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let cur: unknown = context;
  for (const key of path) {
    const o = obj(cur);
    if (!o || !Object.prototype.hasOwnProperty.call(o, key)) return undefined;
    cur = o[key];
  }
  return cur;
}

/** Attribute criteria: lists match a scalar rule when any element does; any/all over lists. */
export function testAttribute(e: { list: 'any' | 'all' | 'scalar'; test: Test }, v: unknown): boolean {
  if (e.list === 'all') return Array.isArray(v) ? v.every((x) => testValue(e.test, x)) : v === null || v === undefined || testValue(e.test, v);
  if (Array.isArray(v)) return v.some((x) => testValue(e.test, x));
  if (e.list === 'any' && (v === null || v === undefined)) return false;
  return testValue(e.test, v);
}
