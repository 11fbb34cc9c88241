/**
 * Reading untrusted JSON with paths: every accessor either returns a typed value or records
 * an issue such as `flags["flags/x"].rules[1].assignmentSpec.bucketCount: expected a
 * positive integer, got "ten"` and returns undefined. Only own properties are read, so
 * `__proto__` or `constructor` keys in the input are plain data.
 */
import type { StateIssue } from '../types.js';

/** Past this many issues, loading stops collecting and reports what it has. */
const MAX_ISSUES = 200;

export class IssueList {
  readonly items: StateIssue[] = [];

  add(path: string, message: string): void {
    if (this.items.length < MAX_ISSUES) this.items.push({ path, message });
  }

  get full(): boolean {
    return this.items.length >= MAX_ISSUES;
  }
}

export type JsonObject = Readonly<Record<string, unknown>>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function keyPath(base: string, key: string): string {
  if (IDENTIFIER.test(key)) return base === '' ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

export function indexPath(base: string, index: number): string {
  return `${base}[${index}]`;
}

/** A short rendering of a bad value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return typeof value;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property of `obj`, or undefined. */
export function own(obj: JsonObject, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

export function readObject(value: unknown, path: string, issues: IssueList): JsonObject | undefined {
  if (isObject(value)) return value;
  issues.add(path, `expected an object, got ${describe(value)}`);
  return undefined;
}

export function readArray(
  value: unknown,
  path: string,
  issues: IssueList,
  maxLength = 1_000_000,
): readonly unknown[] | undefined {
  if (!Array.isArray(value)) {
    issues.add(path, `expected a list, got ${describe(value)}`);
    return undefined;
  }
  if (value.length > maxLength) {
    issues.add(path, `expected at most ${maxLength} items, got ${value.length}`);
    return undefined;
  }
  return value as readonly unknown[];
}

export function readString(value: unknown, path: string, issues: IssueList): string | undefined {
  if (typeof value === 'string') return value;
  issues.add(path, `expected a string, got ${describe(value)}`);
  return undefined;
}

/** A string field of `obj` at `path`; the field's path is built only for an issue. */
export function requiredString(obj: JsonObject, key: string, path: string, issues: IssueList): string | undefined {
  const v = own(obj, key);
  return typeof v === 'string' ? v : readString(v, keyPath(path, key), issues);
}

/** A string field that may be absent (undefined or null → `fallback`). */
export function optionalString(
  obj: JsonObject,
  key: string,
  path: string,
  issues: IssueList,
  fallback: string,
): string {
  const v = own(obj, key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') return v; // the path is built only for an issue
  return readString(v, keyPath(path, key), issues) ?? fallback;
}

export function optionalBoolean(
  obj: JsonObject,
  key: string,
  path: string,
  issues: IssueList,
  fallback: boolean,
): boolean {
  const v = own(obj, key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  issues.add(keyPath(path, key), `expected true or false, got ${describe(v)}`);
  return fallback;
}

/** Whether `value` is a number that is an integer in [min, max] (a string is not: `readInteger` reads those). */
export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * An integer in [min, max]; `what` names the expectation in the message. A decimal string is
 * read too: proto-JSON writes 64-bit integers (`bitCount`) as strings and lets parsers take
 * any integer field either way.
 */
export function readInteger(
  value: unknown,
  path: string,
  issues: IssueList,
  min: number,
  max: number,
  what: string,
): number | undefined {
  const n = typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  if (isIntegerIn(n, min, max)) return n;
  issues.add(path, `expected ${what}, got ${describe(value)}`);
  return undefined;
}

/** A list of strings (absent → empty). */
export function optionalStringList(
  obj: JsonObject,
  key: string,
  path: string,
  issues: IssueList,
): string[] {
  const v = own(obj, key);
  if (v === undefined || v === null) return [];
  // Paths are built only for an issue: this runs for every list of every flag of a state.
  if (!Array.isArray(v) || v.length > 100_000) {
    readArray(v, keyPath(path, key), issues, 100_000);
    return [];
  }
  const list = v as readonly unknown[];
  const result: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item === 'string') result.push(item);
    else readString(item, indexPath(keyPath(path, key), i), issues);
  }
  return result;
}

/** Entries of a JSON object used as a map (keys are data, `__proto__` included). */
export function entriesOf(obj: JsonObject): [string, unknown][] {
  return Object.keys(obj).map((k): [string, unknown] => [k, obj[k]]);
}
