/**
 * The reference evaluator's audiences: a plain interpreter of Confidence targeting
 * (criteria combined by `ref`/`and`/`or`/`not`), written apart from core's compiled closures
 * so that the two can be held against each other. It reads the state JSON as a person would.
 *
 * The rules it follows (DESIGN.md "Targeting", core's README "Compatibility with Confidence"):
 * a criterion has a type (its value's; a set's first value's; a range's start bound's, else
 * its end's; text for the text operators). Every attribute value is a list, a scalar being a
 * one-element list. Each element is read as the criterion's type: a number as its full
 * decimal text, text as a number, an epoch number (|n| ≥ 1e12 milliseconds, else seconds) or
 * text as a timestamp, `"true"`/`"TRUE"` as true; what the type cannot read is the text
 * `"null"`; a nested list matches nothing. Core's two deviations from Confidence are followed
 * too: null or missing is no value (the empty list to `anyRule`/`allRule`, equal only to a
 * null criterion value; a range without bounds matches nothing), and text that is no number
 * never meets a number criterion. A criterion carrying no rule this evaluator knows is
 * `unrecognized`: Confidence skips the rule that reaches it.
 */
import { compareVersions, parseVersion, type Version } from '@allot/core';

import {
  compareCodePoints,
  instant,
  numberOfText,
  readEpoch,
  readTimestampText,
  textOfNumber,
} from './values.js';

/** Thrown for targeting the reference does not model (bloom filters, reference cycles). */
export class UnsupportedTargeting extends Error {
  override readonly name = 'UnsupportedTargeting';
}

export type Value =
  | { kind: 'string'; s: string }
  | { kind: 'number'; n: number }
  | { kind: 'bool'; b: boolean }
  | { kind: 'null' }
  | { kind: 'list' }
  | { kind: 'version'; s: string; v: Version }
  | { kind: 'timestamp'; seconds: number; nanos: number };

export type ValueKind = Value['kind'];

export type Test =
  | { op: 'eq'; type: ValueKind; value: Value; acceptsNull: boolean }
  | { op: 'set'; type: ValueKind; values: Value[]; acceptsNull: boolean }
  | {
      op: 'range';
      type: ValueKind;
      lo: Value | null;
      loInclusive: boolean;
      hi: Value | null;
      hiInclusive: boolean;
      acceptsNull: false;
    }
  | {
      op: 'startsWith' | 'endsWith' | 'contains';
      type: 'string';
      text: string;
      acceptsNull: false;
    };

export type Expr =
  | { op: 'and' | 'or'; parts: Expr[] }
  | { op: 'not'; inner: Expr }
  | { op: 'attribute'; path: string[]; list: 'any' | 'all' | 'scalar'; test: Test }
  | { op: 'segment'; name: string }
  | { op: 'materialization'; name: string }
  | { op: 'unrecognized' }
  | { op: 'never' };

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
const present = (v: unknown): boolean => v !== undefined && v !== null;

function parseValue(raw: unknown): Value {
  const o = obj(raw) ?? {};
  if (typeof o.stringValue === 'string') return { kind: 'string', s: o.stringValue };
  if (typeof o.numberValue === 'number') return { kind: 'number', n: o.numberValue };
  if (typeof o.boolValue === 'boolean') return { kind: 'bool', b: o.boolValue };
  if (typeof o.timestampValue === 'string') {
    if (!readTimestampText(o.timestampValue)) return { kind: 'null' };
    return { kind: 'timestamp', seconds: instant.seconds, nanos: instant.nanos };
  }
  if (o.versionValue !== undefined) {
    const raw = obj(o.versionValue)?.version ?? o.versionValue;
    const s = typeof raw === 'string' ? raw : '';
    const v = parseVersion(s);
    return v === null ? { kind: 'null' } : { kind: 'version', s, v };
  }
  if (o.listValue !== undefined) return { kind: 'list' };
  return { kind: 'null' };
}

const TEXT_OPS = ['startsWith', 'endsWith', 'contains'] as const;

/** The scalar rule a holder carries, in the order Confidence looks for them, or null. */
function parseTest(holder: Json): Test | null {
  if (present(holder.eqRule)) {
    const eq = obj(holder.eqRule);
    if (!eq || !present(eq.value)) return null;
    const value = parseValue(eq.value);
    return { op: 'eq', type: value.kind, value, acceptsNull: value.kind === 'null' };
  }
  if (present(holder.setRule)) {
    const set = obj(holder.setRule);
    if (!set) return null;
    const values = (Array.isArray(set.values) ? set.values : []).map(parseValue);
    return {
      op: 'set',
      type: values[0]?.kind ?? 'null',
      values,
      acceptsNull: values.some((v) => v.kind === 'null'),
    };
  }
  if (present(holder.rangeRule)) {
    const range = obj(holder.rangeRule);
    if (!range) return null;
    const bound = (v: unknown): Value | null => (present(v) ? parseValue(v) : null);
    const lo = bound(range.startInclusive) ?? bound(range.startExclusive);
    const hi = bound(range.endInclusive) ?? bound(range.endExclusive);
    return {
      op: 'range',
      type: lo?.kind ?? hi?.kind ?? 'null',
      lo,
      loInclusive: present(range.startInclusive),
      hi,
      hiInclusive: present(range.endInclusive),
      acceptsNull: false,
    };
  }
  for (const op of TEXT_OPS) {
    const raw = holder[`${op}Rule`];
    if (!present(raw)) continue;
    const r = obj(raw);
    if (!r) return null;
    // A text operator without text text matches nothing (core refuses such a state).
    return {
      op,
      type: 'string',
      text: typeof r.value === 'string' ? r.value : '\u0000never',
      acceptsNull: false,
    };
  }
  return null;
}

/** An attribute criterion (without its name), or null when it carries no rule this evaluator knows. */
function parseAttribute(attr: Json): { list: 'any' | 'all' | 'scalar'; test: Test } | null {
  for (const [key, list] of [
    ['anyRule', 'any'],
    ['allRule', 'all'],
  ] as const) {
    if (!present(attr[key])) continue;
    const inner = obj(obj(attr[key])?.rule);
    const test = inner ? parseTest(inner) : null;
    return test === null ? null : { list, test };
  }
  const test = parseTest(attr);
  return test === null ? null : { list: 'scalar', test };
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
      const parsed = parseAttribute(attr);
      if (parsed === null) return { op: 'unrecognized' };
      return { op: 'attribute', path: String(attr.attributeName).split('.'), ...parsed };
    }
    const seg = obj(c.segment);
    if (seg && typeof seg.segment === 'string') return { op: 'segment', name: seg.segment };
    const mat = obj(c.materializedSegment);
    if (mat && typeof mat.materializedSegment === 'string') {
      if (bloomFilters.has(mat.materializedSegment))
        throw new UnsupportedTargeting('bloom-filter materialized segments');
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

/**
 * One element read as a criterion's type, in module scratch (no object per element): its
 * kind ('string' also for what the type cannot read, as the text "null"; 'none' for what
 * matches nothing) and its number, text or instant.
 */
const read = { kind: 'none' as ValueKind | 'none', n: 0, s: '' };

/** Reads `v` (not null, not undefined) as `type` into `read`. */
function readAs(type: ValueKind, v: unknown): void {
  read.kind = 'none';
  if (Array.isArray(v)) return;
  switch (type) {
    case 'string':
      if (typeof v === 'string') {
        setText(v);
        return;
      }
      if (typeof v === 'number') {
        setText(textOfNumber(v));
        return;
      }
      break;
    case 'number':
      if (typeof v === 'number') {
        setNumber(v);
        return;
      }
      if (typeof v === 'string') {
        const n = numberOfText(v);
        if (n !== undefined) setNumber(n);
        return; // text that is no number meets no number criterion
      }
      break;
    case 'bool':
      if (typeof v === 'boolean') {
        setBool(v);
        return;
      }
      if (typeof v === 'string') {
        setBool(v === 'true' || v === 'TRUE');
        return;
      }
      break;
    case 'timestamp':
      if (
        (typeof v === 'number' && readEpoch(v)) ||
        (typeof v === 'string' && readTimestampText(v))
      ) {
        read.kind = 'timestamp';
        return;
      }
      break;
    case 'version':
      if (typeof v === 'string') {
        read.kind = 'version';
        read.s = v;
        return;
      }
      break;
    case 'null':
    case 'list':
      break;
  }
  setText('null');
}

function setText(s: string): void {
  read.kind = 'string';
  read.s = s;
}
function setNumber(n: number): void {
  read.kind = 'number';
  read.n = n;
}
function setBool(b: boolean): void {
  read.kind = 'bool';
  read.n = b ? 1 : 0;
}

/** Whether the element in `read` equals `c`. */
function equals(c: Value): boolean {
  if (read.kind !== c.kind) return false;
  switch (c.kind) {
    case 'string':
      return read.s === c.s;
    case 'number':
      return read.n === c.n;
    case 'bool':
      return read.n === (c.b ? 1 : 0);
    case 'timestamp':
      return instant.seconds === c.seconds && instant.nanos === c.nanos;
    case 'version':
      return read.s === c.s; // equal as written: only ranges order versions
    case 'null':
    case 'list':
      return false;
  }
}

const ZERO_VERSION: Version = { major: 0, minor: 0, patch: 0, tag: 0 };

/** The element in `read` compared with bound `c`: sign, or NaN when they do not compare. */
function compare(c: Value): number {
  if (read.kind !== c.kind) return NaN;
  switch (c.kind) {
    case 'number':
      return read.n < c.n ? -1 : read.n > c.n ? 1 : read.n === c.n ? 0 : NaN;
    case 'string':
      return Math.sign(compareCodePoints(read.s, c.s));
    case 'timestamp':
      return Math.sign(instant.seconds - c.seconds || instant.nanos - c.nanos);
    case 'version':
      // Text that is no version orders as 0.0.0.
      return Math.sign(compareVersions(parseVersion(read.s) ?? ZERO_VERSION, c.v));
    default:
      return NaN;
  }
}

/** Whether the non-null element `v` meets test `t`. */
export function testValue(t: Test, v: unknown): boolean {
  if (t.op === 'startsWith' || t.op === 'endsWith' || t.op === 'contains') {
    if (typeof v !== 'string') return false; // text operators read text only
    return t.op === 'startsWith'
      ? v.startsWith(t.text)
      : t.op === 'endsWith'
        ? v.endsWith(t.text)
        : v.includes(t.text);
  }
  readAs(t.type, v);
  switch (t.op) {
    case 'eq':
      return equals(t.value);
    case 'set':
      for (const c of t.values) if (equals(c)) return true;
      return false;
    case 'range': {
      if (t.lo === null && t.hi === null) return false;
      if (t.lo !== null) {
        const c = compare(t.lo);
        if (!(c > 0 || (c === 0 && t.loInclusive))) return false;
      }
      if (t.hi !== null) {
        const c = compare(t.hi);
        if (!(c < 0 || (c === 0 && t.hiInclusive))) return false;
      }
      return true;
    }
  }
}

/** An element of an attribute's list: null or missing meets only a test accepting null. */
function testElement(t: Test, v: unknown): boolean {
  return v === null || v === undefined ? t.acceptsNull : testValue(t, v);
}

export function readPath(
  context: Readonly<Record<string, unknown>>,
  path: readonly string[],
): unknown {
  let cur: unknown = context;
  for (const key of path) {
    const o = obj(cur);
    if (!o || !Object.prototype.hasOwnProperty.call(o, key)) return undefined;
    cur = o[key];
  }
  return cur;
}

/**
 * Attribute criteria over the attribute's value as a list (a scalar is a one-element list):
 * a scalar rule or `anyRule` holds when some element meets it, `allRule` when every one does.
 * Null or missing is the empty list to `anyRule`/`allRule`, and a null element to a scalar rule.
 */
export function testAttribute(
  e: { list: 'any' | 'all' | 'scalar'; test: Test },
  v: unknown,
): boolean {
  if (v === null || v === undefined)
    return e.list === 'all' ? true : e.list === 'any' ? false : e.test.acceptsNull;
  if (!Array.isArray(v)) return testValue(e.test, v);
  if (e.list === 'all') {
    for (const x of v) if (!testElement(e.test, x)) return false;
    return true;
  }
  for (const x of v) if (testElement(e.test, x)) return true;
  return false;
}
