/**
 * Reading the parsed workspace document (plain YAML/JSON data) with paths: each accessor
 * returns a typed value or records an issue such as
 * `segments.exp-1.allocation.proportion: must be in (0, 1], got 1.5` and returns a default.
 */
import type { WorkspaceIssue } from '../errors.js';

export type Doc = Readonly<Record<string, unknown>>;

export class Issues {
  readonly items: WorkspaceIssue[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }
}

export function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

export function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function field(obj: Doc, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** A map (or nothing, read as an empty map). */
export function readMap(value: unknown, path: string, issues: Issues): Doc {
  if (value === undefined || value === null) return {};
  if (isDoc(value)) return value;
  issues.add(path, `expected a map, got ${describe(value)}`);
  return {};
}

export function readString(obj: Doc, key: string, path: string, issues: Issues, fallback: string): string {
  const v = field(obj, key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string') return v;
  issues.add(join(path, key), `expected text, got ${describe(v)}`);
  return fallback;
}

export function readRequiredString(obj: Doc, key: string, path: string, issues: Issues): string {
  const v = field(obj, key);
  if (typeof v === 'string' && v !== '') return v;
  issues.add(join(path, key), `expected non-empty text, got ${describe(v)}`);
  return '';
}

export function readBoolean(obj: Doc, key: string, path: string, issues: Issues, fallback: boolean): boolean {
  const v = field(obj, key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  issues.add(join(path, key), `expected true or false, got ${describe(v)}`);
  return fallback;
}

export function readStringList(obj: Doc, key: string, path: string, issues: Issues): string[] {
  const v = field(obj, key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    issues.add(join(path, key), `expected a list of text, got ${describe(v)}`);
    return [];
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else issues.add(join(join(path, key), i), `expected text, got ${describe(item)}`);
  });
  return out;
}

/** A fraction in (0, 1] (a proportion, a percentage, a reach). */
export function readFraction(obj: Doc, key: string, path: string, issues: Issues, fallback?: number): number {
  const v = field(obj, key);
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  const p = join(path, key);
  const problem = fractionProblem(v);
  if (problem === undefined) return v as number;
  issues.add(p, problem);
  return fallback ?? 1;
}

/**
 * The smallest fraction: one bucket of the 1,000,000 that segments and rules split. A
 * smaller one would round to no bucket at all, an allocation (or rollout) holding no one.
 */
export const MIN_FRACTION = 0.000_001;

/** Why `v` is not a fraction in [0.000001, 1], or undefined. */
export function fractionProblem(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `expected a number in (0, 1], got ${describe(v)}`;
  if (v <= 0 || v > 1) return `must be in (0, 1], got ${v}`;
  if (v < MIN_FRACTION) return `must be at least 0.000001 (one bucket of 1,000,000), got ${v}, which would hold no bucket at all`;
  return undefined;
}

export function oneOf<T extends string>(
  obj: Doc,
  key: string,
  path: string,
  issues: Issues,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = field(obj, key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  issues.add(join(path, key), `expected one of ${allowed.join(', ')}, got ${describe(v)}`);
  return fallback;
}

/** Reports keys of `obj` that are not in `known` (typos would otherwise be silently dropped). */
export function unknownKeys(obj: Doc, known: readonly string[], path: string, issues: Issues): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) issues.add(join(path, key), `unknown field; expected one of ${known.join(', ')}`);
  }
}
