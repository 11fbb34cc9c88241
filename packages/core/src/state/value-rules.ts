/**
 * Attribute rules compiled to predicates over one context value: `eqRule`, `setRule`,
 * `rangeRule`, `startsWithRule`, `endsWithRule`, `containsRule`. A rule's type comes from its
 * configured value (`stringValue`, `numberValue`, `boolValue`, `timestampValue`,
 * `versionValue`, or `{}` for null); a context value of another type does not match.
 */
import {
  describe,
  indexPath,
  isObject,
  keyPath,
  own,
  readArray,
  type IssueList,
  type JsonObject,
} from './json-input.js';
import { compareVersions, parseTimestamp, parseVersion, toTimestamp, type Version } from './values.js';

/** A predicate over one scalar context value. */
export type ValuePredicate = (value: unknown) => boolean;

export const never: ValuePredicate = () => false;

/** A configured rule value, parsed. */
type RuleValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'timestamp'; value: number }
  | { kind: 'version'; value: Version }
  | { kind: 'null' };

/** Parses a proto `Value` (`{stringValue: "SE"}`, `{}` for null, ...). */
function parseRuleValue(raw: unknown, path: string, issues: IssueList): RuleValue | undefined {
  if (!isObject(raw)) {
    issues.add(path, `expected a value object such as {"stringValue": "SE"}, got ${describe(raw)}`);
    return undefined;
  }
  const keys = Object.keys(raw);
  if (keys.length === 0) return { kind: 'null' };
  if (keys.length > 1) {
    issues.add(path, `expected one of stringValue, numberValue, boolValue, timestampValue, versionValue; got ${keys.join(', ')}`);
    return undefined;
  }
  const key = keys[0]!;
  const v = raw[key];
  const p = keyPath(path, key);
  switch (key) {
    case 'stringValue':
      if (typeof v === 'string') return { kind: 'string', value: v };
      break;
    case 'numberValue':
      if (typeof v === 'number' && Number.isFinite(v)) return { kind: 'number', value: v };
      break;
    case 'boolValue':
      if (typeof v === 'boolean') return { kind: 'bool', value: v };
      break;
    case 'nullValue':
      return { kind: 'null' };
    case 'timestampValue': {
      const t = typeof v === 'string' ? parseTimestamp(v) : NaN;
      if (!Number.isNaN(t)) return { kind: 'timestamp', value: t };
      issues.add(p, `expected an ISO 8601 timestamp such as "2026-01-01T00:00:00Z", got ${describe(v)}`);
      return undefined;
    }
    case 'versionValue': {
      const text = isObject(v) ? own(v, 'version') : v;
      const version = typeof text === 'string' ? parseVersion(text) : null;
      if (version) return { kind: 'version', value: version };
      issues.add(p, `expected {"version": "MAJOR.MINOR.PATCH"}, got ${describe(text)}`);
      return undefined;
    }
    default:
      issues.add(p, 'unknown value kind; expected stringValue, numberValue, boolValue, timestampValue or versionValue');
      return undefined;
  }
  issues.add(p, `expected a ${key.replace('Value', '')}, got ${describe(v)}`);
  return undefined;
}

function equalsPredicate(rv: RuleValue): ValuePredicate {
  switch (rv.kind) {
    case 'string': {
      const s = rv.value;
      return (v) => v === s;
    }
    case 'number': {
      const n = rv.value;
      return (v) => v === n;
    }
    case 'bool': {
      const b = rv.value;
      return (v) => v === b;
    }
    case 'null':
      return (v) => v === null || v === undefined;
    case 'timestamp': {
      const t = rv.value;
      return (v) => toTimestamp(v) === t;
    }
    case 'version': {
      const ver = rv.value;
      return (v) => {
        const parsed = typeof v === 'string' ? parseVersion(v) : null;
        return parsed !== null && compareVersions(parsed, ver) === 0;
      };
    }
  }
}

function compileSet(raw: JsonObject, path: string, issues: IssueList): ValuePredicate {
  const values = readArray(own(raw, 'values') ?? [], keyPath(path, 'values'), issues, 100_000);
  if (!values || values.length === 0) return never;
  const parsed: RuleValue[] = [];
  values.forEach((item, i) => {
    const rv = parseRuleValue(item, indexPath(keyPath(path, 'values'), i), issues);
    if (rv) parsed.push(rv);
  });
  if (parsed.every((rv) => rv.kind === 'string')) {
    const set = new Set(parsed.map((rv) => (rv as { value: string }).value));
    return (v) => typeof v === 'string' && set.has(v);
  }
  if (parsed.every((rv) => rv.kind === 'number')) {
    const set = new Set(parsed.map((rv) => (rv as { value: number }).value));
    return (v) => typeof v === 'number' && set.has(v);
  }
  const preds = parsed.map(equalsPredicate);
  return (v) => preds.some((p) => p(v));
}

const BOUNDS = ['startInclusive', 'startExclusive', 'endInclusive', 'endExclusive'] as const;

/** Converts a context value to a number comparable with the range's bounds, or NaN. */
type Projection = (value: unknown) => number;

function compileRange(raw: JsonObject, path: string, issues: IssueList): ValuePredicate {
  const bounds: Partial<Record<(typeof BOUNDS)[number], RuleValue>> = {};
  let kind: RuleValue['kind'] | undefined;
  for (const name of BOUNDS) {
    const b = own(raw, name);
    if (b === undefined || b === null) continue;
    const rv = parseRuleValue(b, keyPath(path, name), issues);
    if (!rv) continue;
    if (rv.kind === 'null' || rv.kind === 'bool') {
      issues.add(keyPath(path, name), `a range bound must be a number, timestamp, version or string, got ${rv.kind}`);
      continue;
    }
    if (kind !== undefined && kind !== rv.kind) {
      issues.add(keyPath(path, name), `range bounds mix ${kind} and ${rv.kind}; use one type`);
      continue;
    }
    kind = rv.kind;
    bounds[name] = rv;
  }
  if (kind === undefined) return never; // an unbounded range has no type: matches nothing
  if (kind === 'version') return orderedRange(bounds, projectVersion, compareVersions);
  if (kind === 'string') return orderedRange(bounds, projectString, compareStrings);
  const project: Projection =
    kind === 'number' ? (v) => (typeof v === 'number' ? v : NaN) : toTimestamp;
  const num = (rv: RuleValue | undefined): number =>
    rv === undefined ? NaN : (rv as { value: number }).value;
  const lo = num(bounds.startInclusive ?? bounds.startExclusive);
  const loInclusive = bounds.startInclusive !== undefined;
  const hi = num(bounds.endInclusive ?? bounds.endExclusive);
  const hiInclusive = bounds.endInclusive !== undefined;
  const hasLo = !Number.isNaN(lo);
  const hasHi = !Number.isNaN(hi);
  return (v) => {
    const x = project(v);
    if (Number.isNaN(x)) return false;
    if (hasLo && (loInclusive ? x < lo : x <= lo)) return false;
    if (hasHi && (hiInclusive ? x > hi : x >= hi)) return false;
    return true;
  };
}

type Bounds = Partial<Record<(typeof BOUNDS)[number], RuleValue>>;

/**
 * A range over values that are not plain numbers (versions, strings): the context value is
 * projected to the bounds' type (null when it has another type) and compared with `compare`.
 */
function orderedRange<T>(
  bounds: Bounds,
  project: (value: unknown) => T | null,
  compare: (a: T, b: T) => number,
): ValuePredicate {
  const get = (rv: RuleValue | undefined): T | null => (rv ? (rv as unknown as { value: T }).value : null);
  const lo = get(bounds.startInclusive ?? bounds.startExclusive);
  const loInclusive = bounds.startInclusive !== undefined;
  const hi = get(bounds.endInclusive ?? bounds.endExclusive);
  const hiInclusive = bounds.endInclusive !== undefined;
  return (v) => {
    const x = project(v);
    if (x === null) return false;
    if (lo !== null) {
      const c = compare(x, lo);
      if (loInclusive ? c < 0 : c <= 0) return false;
    }
    if (hi !== null) {
      const c = compare(x, hi);
      if (hiInclusive ? c > 0 : c >= 0) return false;
    }
    return true;
  };
}

const projectVersion = (v: unknown): Version | null => (typeof v === 'string' ? parseVersion(v) : null);
const projectString = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function compileText(
  raw: JsonObject,
  path: string,
  issues: IssueList,
  test: (value: string, operand: string) => boolean,
): ValuePredicate {
  const operand = own(raw, 'value');
  if (typeof operand !== 'string') {
    issues.add(keyPath(path, 'value'), `expected a string, got ${describe(operand)}`);
    return never;
  }
  return (v) => typeof v === 'string' && test(v, operand);
}

/** The scalar rule kinds, by their proto field name. */
const SCALAR_RULES: Readonly<
  Record<string, (raw: JsonObject, path: string, issues: IssueList) => ValuePredicate>
> = {
  eqRule: (raw, path, issues) => {
    const rv = parseRuleValue(own(raw, 'value') ?? {}, keyPath(path, 'value'), issues);
    return rv ? equalsPredicate(rv) : never;
  },
  setRule: compileSet,
  rangeRule: compileRange,
  startsWithRule: (raw, path, issues) => compileText(raw, path, issues, (v, o) => v.startsWith(o)),
  endsWithRule: (raw, path, issues) => compileText(raw, path, issues, (v, o) => v.endsWith(o)),
  containsRule: (raw, path, issues) => compileText(raw, path, issues, (v, o) => v.includes(o)),
};

/**
 * The scalar rule carried by `holder` (an attribute criterion, or the `rule` of an
 * `anyRule` / `allRule`), or null when it carries none that this resolver knows: such a
 * criterion matches nothing, as Confidence's resolvers do.
 */
export function compileScalarRule(
  holder: JsonObject,
  path: string,
  issues: IssueList,
): ValuePredicate | null {
  for (const name of Object.keys(SCALAR_RULES)) {
    const raw = own(holder, name);
    if (raw === undefined || raw === null) continue;
    const p = keyPath(path, name);
    if (!isObject(raw)) {
      issues.add(p, `expected an object, got ${describe(raw)}`);
      return never;
    }
    return SCALAR_RULES[name]!(raw, p, issues);
  }
  return null;
}
