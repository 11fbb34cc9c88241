/**
 * Attribute criteria (`eqRule`, `setRule`, `rangeRule`, `startsWithRule`, `endsWithRule`,
 * `containsRule`, `anyRule`, `allRule`) compiled once, at load, into tests over one context
 * value, following Confidence's resolver:
 *
 * - A criterion has a type: that of its value (`eqRule`), of its first value (`setRule`), of
 *   its start bound, else its end bound (`rangeRule`); text for the text operators.
 * - Every attribute value is a list; a scalar is a one-element list. A scalar criterion
 *   matches when some element does; `anyRule` / `allRule` apply their rule to some / every
 *   element.
 * - Each element is read as the criterion's type: a number as text for a text criterion
 *   (`18` is `"18"`), text as a number for a number criterion (`"18"` meets `>= 18`), an epoch
 *   number or timestamp text for a timestamp criterion, `"true"`/`"TRUE"` as true for a
 *   boolean one. What cannot be read so (a boolean or an object against a text criterion, ...)
 *   is the text `"null"`, as Confidence does. The text operators read text only. Text is
 *   read as UTF-8, as it reaches Confidence: a lone surrogate is U+FFFD.
 *
 * Two of the deliberate deviations (1 and 2 in the README) are here: a null or missing attribute is no value at
 * all — the empty list to `anyRule` / `allRule`, equal only to a null criterion value, and a
 * range without bounds matches nothing (the conformance suite's general expectations); and
 * text that is not a number, compared with a number criterion, does not match (Confidence
 * fails the whole request).
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
import {
  compareUtf8,
  compareVersionText,
  epochInto,
  numberFromText,
  numberText,
  parseTimestampInto,
  parseVersion,
  wellFormed,
  TS,
  type Version,
} from './values.js';

/** A test over one attribute value as read from the context (any JSON value, or undefined). */
export type AttributeTest = (value: unknown) => boolean;

/** A criterion this resolver cannot evaluate: Confidence skips the rule that reaches it. */
export const UNRECOGNIZED = 'unrecognized' as const;

/** Element kinds, as passed to an element test. */
const NUM = 0;
const STR = 1;
const BOOL = 2;
const TIME = 3;
const VER = 4;
/** An element no criterion matches: a nested list, a non-text element of a text operator. */
const NONE = 5;

/**
 * A test over one element, already read as the criterion's type: its kind, a number (a
 * number, a boolean as 0/1, a timestamp's seconds), a text (text, a version's text) and a
 * timestamp's nanoseconds. Four plain arguments: no object per element.
 */
type ElementTest = (kind: number, n: number, s: string, nanos: number) => boolean;

type ValueType = 'string' | 'number' | 'bool' | 'timestamp' | 'version' | 'null' | 'list';

/** A configured rule value, parsed. */
type RuleValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'timestamp'; seconds: number; nanos: number }
  | { kind: 'version'; text: string; value: Version }
  | { kind: 'null' }
  /** A `listValue`: no element ever equals one. */
  | { kind: 'list' };

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
      if (typeof v === 'string') return { kind: 'string', value: wellFormed(v) };
      break;
    case 'numberValue':
      if (typeof v === 'number' && Number.isFinite(v)) return { kind: 'number', value: v };
      break;
    case 'boolValue':
      if (typeof v === 'boolean') return { kind: 'bool', value: v };
      break;
    case 'nullValue':
      return { kind: 'null' };
    case 'listValue':
      if (isObject(v)) return { kind: 'list' };
      break;
    case 'timestampValue': {
      if (typeof v === 'string' && parseTimestampInto(v)) return { kind: 'timestamp', seconds: TS[0]!, nanos: TS[1]! };
      issues.add(p, `expected an RFC 3339 timestamp such as "2026-01-01T00:00:00Z", got ${describe(v)}`);
      return undefined;
    }
    case 'versionValue': {
      const text = isObject(v) ? own(v, 'version') : v;
      const version = typeof text === 'string' ? parseVersion(text) : null;
      if (version !== null) return { kind: 'version', text: text as string, value: version };
      issues.add(p, `expected {"version": "MAJOR.MINOR[.PATCH[.TAG]]"} with digits only, got ${describe(text)}`);
      return undefined;
    }
    default:
      issues.add(p, 'unknown value kind; expected stringValue, numberValue, boolValue, timestampValue or versionValue');
      return undefined;
  }
  issues.add(p, `expected a ${key.replace('Value', '')}, got ${describe(v)}`);
  return undefined;
}

/** Whether an element (kind, n, s, nanos) equals a rule value. */
function equalsValue(rv: RuleValue): ElementTest {
  switch (rv.kind) {
    case 'string': {
      const text = rv.value;
      return (k, _n, s) => k === STR && s === text;
    }
    case 'number': {
      const x = rv.value;
      return (k, n) => k === NUM && n === x;
    }
    case 'bool': {
      const b = rv.value ? 1 : 0;
      return (k, n) => k === BOOL && n === b;
    }
    case 'timestamp': {
      const { seconds, nanos } = rv;
      return (k, n, _s, ns) => k === TIME && n === seconds && ns === nanos;
    }
    case 'version': {
      // Versions are equal as written ("1.2.3" is not "1.2.3.0"); only ranges order them.
      const text = rv.text;
      return (k, _n, s) => k === VER && s === text;
    }
    case 'null':
    case 'list':
      return () => false;
  }
}

/** A rule over elements, with the type its elements are read as. */
interface ElementRule {
  readonly type: ValueType;
  /** Text operators read text only: anything else matches nothing. */
  readonly strictText: boolean;
  readonly test: ElementTest;
  /** Whether the rule holds for a null element (a null criterion value). */
  readonly acceptsNull: boolean;
  /** The test on an element of the rule's own type, as data (see `ScalarShape`); null: none. */
  readonly shape?: ScalarShape | null;
}

/**
 * What a scalar criterion does with a value of its own type, as data, so that a specialized
 * flag (resolve/specialize.ts) can write the test inline: a text or number equal to one of
 * `oneOf`, or a number within bounds. Values of other types go through the test function.
 */
export type ScalarShape =
  | { readonly of: 'string'; readonly oneOf: readonly string[] }
  | { readonly of: 'number'; readonly oneOf: readonly number[] }
  | {
      readonly of: 'number';
      readonly range: {
        readonly start: number | null;
        readonly startInclusive: boolean;
        readonly end: number | null;
        readonly endInclusive: boolean;
      };
    };

/** A compiled attribute criterion: its test over a context value, and its shape when it has one. */
export interface CompiledAttributeTest {
  readonly test: AttributeTest;
  /** Set for a scalar text or number criterion: `test(v)` for a `typeof v === shape.of` value. */
  readonly shape: ScalarShape | null;
}

function compileEq(raw: JsonObject, path: string, issues: IssueList): ElementRule | typeof UNRECOGNIZED {
  const value = own(raw, 'value');
  if (value === undefined || value === null) return UNRECOGNIZED;
  const rv = parseRuleValue(value, keyPath(path, 'value'), issues);
  if (!rv) return UNRECOGNIZED;
  const shape: ScalarShape | null =
    rv.kind === 'string' ? textShape([rv.value]) : rv.kind === 'number' ? { of: 'number', oneOf: [rv.value] } : null;
  return { type: rv.kind, strictText: false, test: equalsValue(rv), acceptsNull: rv.kind === 'null', shape };
}

/**
 * The shape of equality with one of `values`, compared inline with the raw context text. A
 * context text with a lone surrogate equals only a value with U+FFFD in it (the surrogate
 * read as U+FFFD), so such values are compared through the test function, which reads it so.
 */
function textShape(values: readonly string[]): ScalarShape | null {
  return values.some((v) => v.includes('\uFFFD')) ? null : { of: 'string', oneOf: values };
}

function compileSet(raw: JsonObject, path: string, issues: IssueList): ElementRule {
  const values = readArray(own(raw, 'values') ?? [], keyPath(path, 'values'), issues, 100_000) ?? [];
  const parsed: RuleValue[] = [];
  values.forEach((item, i) => {
    const rv = parseRuleValue(item, indexPath(keyPath(path, 'values'), i), issues);
    if (rv) parsed.push(rv);
  });
  const type: ValueType = parsed[0]?.kind ?? 'null';
  const acceptsNull = parsed.some((rv) => rv.kind === 'null');
  if (parsed.length > 0 && parsed.every((rv) => rv.kind === 'string')) {
    const set = new Set(parsed.map((rv) => (rv as { value: string }).value));
    const shape = textShape([...set]);
    return { type, strictText: false, test: (k, _n, s) => k === STR && set.has(s), acceptsNull, shape };
  }
  if (parsed.length > 0 && parsed.every((rv) => rv.kind === 'number')) {
    const set = new Set(parsed.map((rv) => (rv as { value: number }).value));
    // A Set tells -0 from 0 only by SameValueZero, which already equates them, as == does.
    const shape: ScalarShape = { of: 'number', oneOf: [...set] };
    return { type, strictText: false, test: (k, n) => k === NUM && set.has(n), acceptsNull, shape };
  }
  const tests = parsed.map(equalsValue);
  return {
    type,
    strictText: false,
    test: (k, n, s, ns) => {
      for (const t of tests) if (t(k, n, s, ns)) return true;
      return false;
    },
    acceptsNull,
  };
}

const BOUNDS = ['startInclusive', 'startExclusive', 'endInclusive', 'endExclusive'] as const;

function compileRange(raw: JsonObject, path: string, issues: IssueList): ElementRule {
  let start: RuleValue | undefined;
  let end: RuleValue | undefined;
  let startInclusive = false;
  let endInclusive = false;
  let kind: RuleValue['kind'] | undefined;
  for (const name of BOUNDS) {
    const b = own(raw, name);
    if (b === undefined || b === null) continue;
    const rv = parseRuleValue(b, keyPath(path, name), issues);
    if (!rv) continue;
    if (rv.kind === 'null' || rv.kind === 'bool' || rv.kind === 'list') {
      issues.add(keyPath(path, name), `a range bound must be a number, timestamp, version or string, got ${rv.kind}`);
      continue;
    }
    if (kind !== undefined && kind !== rv.kind) {
      issues.add(keyPath(path, name), `range bounds mix ${kind} and ${rv.kind}; use one type`);
      continue;
    }
    kind = rv.kind;
    if (name.startsWith('start')) {
      if (start !== undefined) issues.add(keyPath(path, name), 'a range has one start bound: startInclusive or startExclusive');
      start = rv;
      startInclusive = name === 'startInclusive';
    } else {
      if (end !== undefined) issues.add(keyPath(path, name), 'a range has one end bound: endInclusive or endExclusive');
      end = rv;
      endInclusive = name === 'endInclusive';
    }
  }
  // A range without bounds matches nothing (the suite's general expectation; deviation 1).
  if (kind === undefined) return { type: 'null', strictText: false, test: () => false, acceptsNull: false };
  const within = (c: number, inclusive: boolean): boolean => (inclusive ? c >= 0 : c > 0);
  const hasStart = start !== undefined;
  const hasEnd = end !== undefined;
  let test: ElementTest = () => false;
  let shape: ScalarShape | null = null;
  switch (kind) {
    case 'number': {
      const lo = hasStart ? (start as { value: number }).value : 0;
      const hi = hasEnd ? (end as { value: number }).value : 0;
      test = (k, n) =>
        k === NUM &&
        (!hasStart || (startInclusive ? n >= lo : n > lo)) &&
        (!hasEnd || (endInclusive ? n <= hi : n < hi));
      shape = { of: 'number', range: { start: hasStart ? lo : null, startInclusive, end: hasEnd ? hi : null, endInclusive } };
      break;
    }
    case 'string': {
      const lo = hasStart ? (start as { value: string }).value : '';
      const hi = hasEnd ? (end as { value: string }).value : '';
      test = (k, _n, s) =>
        k === STR && (!hasStart || within(compareUtf8(s, lo), startInclusive)) && (!hasEnd || within(compareUtf8(hi, s), endInclusive));
      break;
    }
    case 'timestamp': {
      const lo = start as { seconds: number; nanos: number } | undefined;
      const hi = end as { seconds: number; nanos: number } | undefined;
      const cmp = (s1: number, n1: number, s2: number, n2: number): number => s1 - s2 || n1 - n2;
      test = (k, n, _s, ns) =>
        k === TIME &&
        (lo === undefined || within(cmp(n, ns, lo.seconds, lo.nanos), startInclusive)) &&
        (hi === undefined || within(cmp(hi.seconds, hi.nanos, n, ns), endInclusive));
      break;
    }
    case 'version': {
      const lo = hasStart ? (start as { value: Version }).value : null;
      const hi = hasEnd ? (end as { value: Version }).value : null;
      test = (k, _n, s) =>
        k === VER &&
        (lo === null || within(compareVersionText(s, lo), startInclusive)) &&
        (hi === null || within(-compareVersionText(s, hi), endInclusive));
      break;
    }
  }
  return { type: kind, strictText: false, test, acceptsNull: false, shape };
}

function compileText(
  raw: JsonObject,
  path: string,
  issues: IssueList,
  op: (value: string, operand: string) => boolean,
): ElementRule {
  const operand = own(raw, 'value');
  if (typeof operand !== 'string') {
    issues.add(keyPath(path, 'value'), `expected a string, got ${describe(operand)}`);
    return { type: 'string', strictText: true, test: () => false, acceptsNull: false };
  }
  const text = wellFormed(operand);
  return { type: 'string', strictText: true, test: (k, _n, s) => k === STR && op(s, text), acceptsNull: false };
}

const SCALAR_RULES: Readonly<
  Record<string, (raw: JsonObject, path: string, issues: IssueList) => ElementRule | typeof UNRECOGNIZED>
> = {
  eqRule: compileEq,
  setRule: compileSet,
  rangeRule: compileRange,
  startsWithRule: (raw, path, issues) => compileText(raw, path, issues, (v, o) => v.startsWith(o)),
  endsWithRule: (raw, path, issues) => compileText(raw, path, issues, (v, o) => v.endsWith(o)),
  containsRule: (raw, path, issues) => compileText(raw, path, issues, (v, o) => v.includes(o)),
};

/** The scalar rule `holder` carries, UNRECOGNIZED when it carries none, or undefined when it is malformed. */
function compileElementRule(holder: JsonObject, path: string, issues: IssueList): ElementRule | typeof UNRECOGNIZED {
  for (const name of Object.keys(SCALAR_RULES)) {
    const raw = own(holder, name);
    if (raw === undefined || raw === null) continue;
    const p = keyPath(path, name);
    if (!isObject(raw)) {
      issues.add(p, `expected an object, got ${describe(raw)}`);
      return UNRECOGNIZED;
    }
    return SCALAR_RULES[name]!(raw, p, issues);
  }
  return UNRECOGNIZED;
}

/** The text a value that the criterion's type cannot read is compared as. */
const NULL_TEXT = 'null';

/**
 * Reads one element as the rule's type and tests it. `value` is a JSON scalar, an object or a
 * nested list; null elements are handled by the caller.
 */
function testElement(rule: ElementRule, value: unknown): boolean {
  const test = rule.test;
  if (rule.strictText) return typeof value === 'string' ? test(STR, 0, wellFormed(value), 0) : false;
  switch (rule.type) {
    case 'string':
      if (typeof value === 'string') return test(STR, 0, wellFormed(value), 0);
      if (typeof value === 'number') return test(STR, 0, numberText(value), 0);
      break;
    case 'number':
      if (typeof value === 'number') return test(NUM, value, '', 0);
      if (typeof value === 'string') {
        const n = numberFromText(value);
        // Text that is no number: the criterion does not match (deviation 2).
        return n !== undefined && test(NUM, n, '', 0);
      }
      break;
    case 'bool':
      if (typeof value === 'boolean') return test(BOOL, value ? 1 : 0, '', 0);
      if (typeof value === 'string') return test(BOOL, value === 'true' || value === 'TRUE' ? 1 : 0, '', 0);
      break;
    case 'timestamp':
      if (typeof value === 'number') {
        if (epochInto(value)) return test(TIME, TS[0]!, '', TS[1]!);
      } else if (typeof value === 'string') {
        if (parseTimestampInto(value)) return test(TIME, TS[0]!, '', TS[1]!);
      }
      break;
    case 'version':
      if (typeof value === 'string') return test(VER, 0, value, 0);
      break;
    case 'null':
    case 'list':
      break;
  }
  if (Array.isArray(value)) return test(NONE, 0, '', 0);
  return test(STR, 0, NULL_TEXT, 0);
}

/** An attribute test for a scalar rule: some element matches. */
function scalarTest(rule: ElementRule): AttributeTest {
  const acceptsNull = rule.acceptsNull;
  const test = rule.test;
  // The common shapes, one call shorter: a text set or equality over a text attribute, a number
  // range over a number attribute.
  if (rule.type === 'string' && !rule.strictText) {
    return (v) => {
      if (typeof v === 'string') return test(STR, 0, wellFormed(v), 0);
      if (v === null || v === undefined) return acceptsNull;
      if (Array.isArray(v)) return someElement(rule, v);
      return testElement(rule, v);
    };
  }
  if (rule.type === 'number') {
    return (v) => {
      if (typeof v === 'number') return test(NUM, v, '', 0);
      if (v === null || v === undefined) return acceptsNull;
      if (Array.isArray(v)) return someElement(rule, v);
      return testElement(rule, v);
    };
  }
  return (v) => {
    if (v === null || v === undefined) return acceptsNull;
    if (Array.isArray(v)) return someElement(rule, v);
    return testElement(rule, v);
  };
}

function someElement(rule: ElementRule, list: readonly unknown[]): boolean {
  for (const x of list) {
    if (x === null || x === undefined ? rule.acceptsNull : testElement(rule, x)) return true;
  }
  return false;
}

function everyElement(rule: ElementRule, list: readonly unknown[]): boolean {
  for (const x of list) {
    if (!(x === null || x === undefined ? rule.acceptsNull : testElement(rule, x))) return false;
  }
  return true;
}

/**
 * Compiles an attribute criterion (without its `attributeName`) into a test over the
 * attribute's value, or UNRECOGNIZED when it carries no rule this resolver knows.
 */
export function compileAttributeTest(raw: JsonObject, path: string, issues: IssueList): CompiledAttributeTest | typeof UNRECOGNIZED {
  for (const kind of ['anyRule', 'allRule'] as const) {
    const listRule = own(raw, kind);
    if (listRule === undefined || listRule === null) continue;
    const p = keyPath(path, kind);
    const innerHolder = isObject(listRule) ? own(listRule, 'rule') : undefined;
    if (!isObject(innerHolder)) return UNRECOGNIZED;
    const inner = compileElementRule(innerHolder, keyPath(p, 'rule'), issues);
    if (inner === UNRECOGNIZED) return UNRECOGNIZED;
    if (kind === 'anyRule') {
      // A null or missing attribute is the empty list: no element matches (deviation 1).
      const test: AttributeTest = (v) => {
        if (v === null || v === undefined) return false;
        if (Array.isArray(v)) return someElement(inner, v);
        return testElement(inner, v);
      };
      return { test, shape: null };
    }
    // allRule: true for the empty list, and so for a null or missing attribute (deviation 1).
    const test: AttributeTest = (v) => {
      if (v === null || v === undefined) return true;
      if (Array.isArray(v)) return everyElement(inner, v);
      return testElement(inner, v);
    };
    return { test, shape: null };
  }
  const rule = compileElementRule(raw, path, issues);
  if (rule === UNRECOGNIZED) return UNRECOGNIZED;
  // A shape holds for values of its type only where scalarTest hands them straight to the rule.
  const direct = (rule.type === 'string' && !rule.strictText) || rule.type === 'number';
  return { test: scalarTest(rule), shape: direct ? (rule.shape ?? null) : null };
}
