/**
 * Segments: an audience (targeting criteria combined by an expression) and an allocation
 * (a bitset over the account's 1,000,000 buckets). Targeting is compiled into closures at
 * load; references between segments are resolved to the compiled segments, and a reference
 * that closes a cycle compiles to "no match".
 */
import { hasBit, type Bitset } from './bitset.js';
import type { BloomFilter } from './bloom.js';
import { compileContextPath } from './context-path.js';
import {
  describe,
  isObject,
  keyPath,
  own,
  readArray,
  indexPath,
  type IssueList,
} from './json-input.js';
import { compileAttributeTest, UNRECOGNIZED } from './value-rules.js';
import type { HashPrefix } from '../hash/bucket.js';
import type { EvaluationContext, MaterializationAccess } from '../types.js';

export const SEGMENT_BUCKET_COUNT = 1_000_000;
const MAX_EXPRESSION_DEPTH = 64;

/** What targeting sees during one evaluation. Reused across evaluations (no allocation). */
export interface SegmentFrame {
  context: EvaluationContext;
  unit: string | null;
  access: MaterializationAccess | null;
  /** Cache of the account-salt bucket of `saltUnit` (valid for the state's whole life). */
  saltUnit: string | null;
  saltBucket: number;
  /**
   * Set when targeting reached a criterion this resolver cannot evaluate (an attribute
   * criterion without a rule): Confidence then skips the flag rule, whatever the expression.
   */
  unrecognized: boolean;
}

export type Targeting = (frame: SegmentFrame) => boolean;

export class CompiledSegment {
  readonly name: string;
  bitset: Bitset = null;
  /**
   * Whether every bit the bitset holds is set (true for no bitset): with no unit to hash,
   * Confidence lets such a segment match.
   */
  allSet = true;
  /** null: no targeting, every unit is in the audience. */
  targeting: Targeting | null = null;
  /** Materializations (without bloom filter) this segment's targeting may read, transitively. */
  materializations: readonly string[] = [];
  /** Raw segment references, resolved after every segment exists. */
  readonly references: string[] = [];
  /** Whether the segment reaches itself through references (set at load). */
  inCycle = false;
  /** True while the segment is being matched: a reference back to it does not match. */
  private evaluating = false;
  readonly salt: HashPrefix;

  constructor(name: string, salt: HashPrefix) {
    this.name = name;
    this.salt = salt;
  }

  /**
   * Whether the frame's unit is in this segment: audience and allocation. A reference that
   * comes back to a segment already being matched on the way here does not match, so cycles
   * end (as in Confidence, the answer depends on where matching started).
   */
  matches(f: SegmentFrame): boolean {
    if (!this.inCycle) return this.matchesOnce(f);
    if (this.evaluating) return false;
    this.evaluating = true;
    const result = this.matchesOnce(f);
    this.evaluating = false;
    return result;
  }

  /** The audience only (no allocation): what a stored sticky assignment is re-checked against. */
  audience(f: SegmentFrame): boolean {
    return this.targeting === null || this.targeting(f);
  }

  private matchesOnce(f: SegmentFrame): boolean {
    if (this.targeting !== null && !this.targeting(f)) return false;
    const bits = this.bitset;
    if (bits === null) return true;
    const unit = f.unit;
    if (unit === null) return this.allSet;
    if (f.saltUnit !== unit) {
      f.saltBucket = this.salt.bucket(unit, SEGMENT_BUCKET_COUNT);
      f.saltUnit = unit;
    }
    return hasBit(bits, f.saltBucket);
  }
}

/** What compiling a segment's targeting can reach. */
export interface TargetingScope {
  readonly segments: ReadonlyMap<string, CompiledSegment>;
  readonly bloomFilters: ReadonlyMap<string, BloomFilter>;
  /** See `LoadOptions.targetingKeyAlias`; `""` for none. */
  readonly targetingKeyAlias: string;
}

/** Collects the names of segments `targeting` refers to (before compiling). */
export function collectReferences(targeting: unknown, into: string[]): void {
  if (!isObject(targeting)) return;
  const criteria = own(targeting, 'criteria');
  if (!isObject(criteria)) return;
  for (const key of Object.keys(criteria)) {
    const c = criteria[key];
    if (!isObject(c)) continue;
    const seg = own(c, 'segment');
    if (isObject(seg) && typeof own(seg, 'segment') === 'string') into.push(own(seg, 'segment') as string);
  }
}

/** Compiles a segment's `targeting` ({criteria, expression}); null means "everyone". */
export function compileTargeting(
  segment: CompiledSegment,
  raw: unknown,
  path: string,
  scope: TargetingScope,
  issues: IssueList,
  materializations: Set<string>,
): Targeting | null {
  if (raw === undefined || raw === null) return null;
  if (!isObject(raw)) {
    issues.add(path, `expected an object with criteria and expression, got ${describe(raw)}`);
    return null;
  }
  const criteriaRaw = own(raw, 'criteria') ?? {};
  const criteriaPath = keyPath(path, 'criteria');
  if (!isObject(criteriaRaw)) {
    issues.add(criteriaPath, `expected an object of named criteria, got ${describe(criteriaRaw)}`);
    return null;
  }
  const criteria = new Map<string, Targeting>();
  for (const name of Object.keys(criteriaRaw)) {
    criteria.set(
      name,
      compileCriterion(segment, criteriaRaw[name], keyPath(criteriaPath, name), scope, issues, materializations),
    );
  }
  const expression = own(raw, 'expression');
  if (expression === undefined || expression === null) return null;
  return compileExpression(expression, keyPath(path, 'expression'), criteria, issues, 0);
}

const alwaysFalse: Targeting = () => false;

function compileExpression(
  raw: unknown,
  path: string,
  criteria: ReadonlyMap<string, Targeting>,
  issues: IssueList,
  depth: number,
): Targeting {
  if (depth > MAX_EXPRESSION_DEPTH) {
    issues.add(path, `expression nested deeper than ${MAX_EXPRESSION_DEPTH} levels`);
    return alwaysFalse;
  }
  if (!isObject(raw)) {
    issues.add(path, `expected an expression ({ref}, {and}, {or} or {not}), got ${describe(raw)}`);
    return alwaysFalse;
  }
  const ref = own(raw, 'ref');
  if (ref !== undefined) {
    if (typeof ref !== 'string' || !criteria.has(ref)) {
      issues.add(keyPath(path, 'ref'), `expected the name of a criterion of this segment (${[...criteria.keys()].join(', ') || 'none defined'}), got ${describe(ref)}`);
      return alwaysFalse;
    }
    return criteria.get(ref)!;
  }
  const not = own(raw, 'not');
  if (not !== undefined) {
    const inner = compileExpression(not, keyPath(path, 'not'), criteria, issues, depth + 1);
    return (f) => !inner(f);
  }
  for (const op of ['and', 'or'] as const) {
    const group = own(raw, op);
    if (group === undefined) continue;
    const gp = keyPath(path, op);
    const operandsRaw = isObject(group) ? own(group, 'operands') : undefined;
    const list = readArray(operandsRaw ?? [], keyPath(gp, 'operands'), issues, 10_000) ?? [];
    const parts = list.map((o, i) =>
      compileExpression(o, indexPath(keyPath(gp, 'operands'), i), criteria, issues, depth + 1),
    );
    return op === 'and' ? allOf(parts) : anyOf(parts);
  }
  issues.add(path, 'expected one of ref, and, or, not');
  return alwaysFalse;
}

function allOf(parts: readonly Targeting[]): Targeting {
  if (parts.length === 0) return () => true;
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [a, b] = parts as [Targeting, Targeting];
    return (f) => a(f) && b(f);
  }
  return (f) => {
    for (const p of parts) if (!p(f)) return false;
    return true;
  };
}

function anyOf(parts: readonly Targeting[]): Targeting {
  if (parts.length === 0) return alwaysFalse;
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [a, b] = parts as [Targeting, Targeting];
    return (f) => a(f) || b(f);
  }
  return (f) => {
    for (const p of parts) if (p(f)) return true;
    return false;
  };
}

function compileCriterion(
  segment: CompiledSegment,
  raw: unknown,
  path: string,
  scope: TargetingScope,
  issues: IssueList,
  materializations: Set<string>,
): Targeting {
  if (!isObject(raw)) {
    issues.add(path, `expected a criterion object, got ${describe(raw)}`);
    return alwaysFalse;
  }
  const attribute = own(raw, 'attribute');
  if (attribute !== undefined) {
    return compileAttribute(attribute, keyPath(path, 'attribute'), issues, scope.targetingKeyAlias);
  }

  const segRef = own(raw, 'segment');
  if (segRef !== undefined) {
    const name = isObject(segRef) ? own(segRef, 'segment') : undefined;
    if (typeof name !== 'string') {
      issues.add(keyPath(path, 'segment'), `expected {"segment": "segments/<id>"}, got ${describe(segRef)}`);
      return alwaysFalse;
    }
    const target = scope.segments.get(name);
    // A missing segment never matches.
    if (target === undefined) return alwaysFalse;
    return (f) => target.matches(f);
  }

  const mat = own(raw, 'materializedSegment');
  if (mat !== undefined) {
    const name = isObject(mat) ? own(mat, 'materializedSegment') : undefined;
    if (typeof name !== 'string') {
      issues.add(keyPath(path, 'materializedSegment'), `expected {"materializedSegment": "materializations/<id>"}, got ${describe(mat)}`);
      return alwaysFalse;
    }
    const bloom = scope.bloomFilters.get(name);
    if (bloom !== undefined) return (f) => f.unit !== null && bloom.mightContain(f.unit);
    materializations.add(name);
    return (f) => inMaterialization(f, name);
  }
  // A criterion with no kind set matches nothing (conformance: criterion_not_set).
  return alwaysFalse;
}

function inMaterialization(f: SegmentFrame, materialization: string): boolean {
  const unit = f.unit;
  const access = f.access;
  if (unit === null || access === null) return false;
  const record = access.read(unit, materialization);
  if (record === undefined) {
    access.missing?.({ unit, materialization });
    return false;
  }
  return record !== null && record.isUnitInMaterialization;
}

function compileAttribute(raw: unknown, path: string, issues: IssueList, targetingKeyAlias: string): Targeting {
  if (!isObject(raw)) {
    issues.add(path, `expected an attribute criterion object, got ${describe(raw)}`);
    return alwaysFalse;
  }
  const name = own(raw, 'attributeName');
  if (typeof name !== 'string' || name === '') {
    issues.add(keyPath(path, 'attributeName'), `expected a non-empty attribute name, got ${describe(name)}`);
    return alwaysFalse;
  }
  const test = compileAttributeTest(raw, path, issues);
  if (test === UNRECOGNIZED) return unrecognized;
  const key = isPlainKey(name) && !(name === 'targeting_key' && targetingKeyAlias !== '') ? name : null;
  if (key !== null) {
    // The common case, one call shorter: a top-level attribute read in place.
    return (f) => test(f.context[key]);
  }
  const read = compileContextPath(name, targetingKeyAlias);
  return (f) => test(read(f.context));
}

/** A criterion Confidence cannot evaluate: the rule that reaches it is skipped. */
const unrecognized: Targeting = (f) => {
  f.unrecognized = true;
  return false;
};

/** A top-level context key that no object inherits, so it can be read without a guard. */
function isPlainKey(name: string): boolean {
  return !name.includes('.') && !(name in Object.prototype);
}
