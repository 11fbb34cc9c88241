/**
 * Runs a resolver conformance suite in the format of Confidence's resolver-spec
 * (`tests.json`: `[{name, resolveRequest, materializations?, expectedResult: {general}}]`)
 * against a loaded state. Pure: the caller reads the files.
 */
import { resolveFlags } from './resolve/resolve.js';
import type { ResolverState } from './state/resolver-state.js';
import type { MaterializationAccess, MaterializationRecord, ResolvedFlag, ResolveRequest } from './types.js';

export interface ConformanceCase {
  readonly name: string;
  readonly resolveRequest: ResolveRequest;
  readonly materializations?: Readonly<Record<string, Readonly<Record<string, MaterializationRecord>>>>;
  readonly expectedResult: {
    /** What every implementation should answer: what allot is held to. */
    readonly general: ConformanceExpectation;
    /** Where one implementation (Confidence's Rust build) answers otherwise. */
    readonly rust?: ConformanceExpectation;
  };
}

export interface ConformanceExpectation {
  readonly resolvedFlags: readonly Readonly<Record<string, unknown>>[];
  readonly expectError?: unknown;
}

export interface ConformanceResult {
  readonly name: string;
  readonly passed: boolean;
  /** What differed, one line each (empty when passed). */
  readonly differences: readonly string[];
  readonly expected: unknown;
  readonly actual: unknown;
}

/** Expected keys that name a differently-called field of `ResolvedFlag`. */
const ALIASES: Readonly<Record<string, keyof ResolvedFlag>> = { assignmentOrigin: 'rule' };

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function accessFor(c: ConformanceCase): MaterializationAccess {
  const data = c.materializations ?? {};
  return {
    read: (unit, materialization) => data[unit]?.[materialization] ?? null,
  };
}

export function runConformanceCase(state: ResolverState, c: ConformanceCase): ConformanceResult {
  const expected = c.expectedResult.general;
  const wantError = expected.expectError !== undefined && expected.expectError !== null;
  let actual: readonly ResolvedFlag[];
  try {
    actual = resolveFlags(state, c.resolveRequest, accessFor(c)).resolvedFlags;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      name: c.name,
      passed: wantError,
      differences: wantError ? [] : [`unexpected error: ${message}`],
      expected,
      actual: { error: message },
    };
  }
  const differences: string[] = [];
  if (wantError) differences.push(`expected an error (${JSON.stringify(expected.expectError)}), got a response`);
  const want = expected.resolvedFlags;
  if (want.length !== actual.length) {
    differences.push(`expected ${want.length} resolved flag(s), got ${actual.length}`);
  }
  for (let i = 0; i < Math.min(want.length, actual.length); i++) {
    const w = want[i]!;
    const a = actual[i]! as unknown as Record<string, unknown>;
    for (const key of Object.keys(w)) {
      const field = ALIASES[key] ?? key;
      if (!deepEqual(w[key], a[field])) {
        differences.push(`resolvedFlags[${i}].${key}: expected ${JSON.stringify(w[key])}, got ${JSON.stringify(a[field])}`);
      }
    }
  }
  return { name: c.name, passed: differences.length === 0, differences, expected, actual: { resolvedFlags: actual } };
}

export function runConformance(state: ResolverState, cases: readonly ConformanceCase[]): ConformanceResult[] {
  return cases.map((c) => runConformanceCase(state, c));
}
