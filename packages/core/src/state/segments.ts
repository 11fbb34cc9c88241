/**
 * Segments: an audience (targeting criteria combined by an expression) and an allocation
 * (a bitset over the account's 1,000,000 buckets). Targeting is compiled at load into a tree
 * (`TargetingNode`), and the tree into closures when first matched; specialized flags (resolve/specialize.ts)
 * write the same tree as code instead. References between segments are resolved to the
 * compiled segments, and a reference that closes a cycle compiles to "no match".
 */
import type { Bitset } from './bitset.js';
import type { BloomFilter } from './bloom.js';
import { compileContextPath, plainKeyOf, type ContextReader } from './context-path.js';
import {
  describe,
  isObject,
  keyPath,
  own,
  readArray,
  indexPath,
  type IssueList,
} from './json-input.js';
import { compileAttributeTest, UNRECOGNIZED, type AttributeTest, type ScalarShape } from './value-rules.js';
import type { HashPrefix } from '../hash/bucket.js';
import type { EvaluationContext, MaterializationAccess } from '../types.js';

export const SEGMENT_BUCKET_COUNT = 1_000_000;
/**
 * The empty list that segments without references or materializations share (most of them):
 * one array per segment would be 10,000 more objects for a large state's load to copy.
 */
export const NO_NAMES: readonly string[] = Object.freeze([]);
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

/**
 * Targeting as a tree: the one description of a segment's expression that both back ends
 * (closures here, code in resolve/specialize.ts) compile, so they cannot disagree on its
 * shape. Operands are evaluated left to right, short-circuiting.
 */
export type TargetingNode =
  | { readonly kind: 'and' | 'or'; readonly parts: readonly TargetingNode[] }
  | { readonly kind: 'not'; readonly inner: TargetingNode }
  | {
      readonly kind: 'attribute';
      /** A top-level context key read in place, or null when `read` is needed (dotted, aliased). */
      readonly key: string | null;
      readonly read: ContextReader;
      readonly test: AttributeTest;
      readonly shape: ScalarShape | null;
    }
  | { readonly kind: 'segment'; readonly target: CompiledSegment }
  | { readonly kind: 'bloom'; readonly filter: BloomFilter }
  | { readonly kind: 'materialization'; readonly name: string }
  /** A criterion Confidence cannot evaluate: the rule that reaches it is skipped. */
  | { readonly kind: 'unrecognized' }
  | { readonly kind: 'constant'; readonly value: boolean };

export class CompiledSegment {
  readonly name: string;
  bitset: Bitset = null;
  /**
   * Whether every bit the bitset holds is set (true for no bitset): with no unit to hash,
   * Confidence lets such a segment match.
   */
  allSet = true;
  /**
   * null: no targeting, every unit is in the audience. Called as `segment.targeting(f)`: until
   * its first use it is `compileOnFirstUse`, which needs the segment as `this`.
   */
  targeting: Targeting | null = null;
  /** The tree `targeting` is compiled from (null with it). */
  targetingTree: TargetingNode | null = null;
  /** Materializations (without bloom filter) this segment's targeting may read, transitively. */
  materializations: readonly string[] = NO_NAMES;
  /** Raw segment references (`collectReferences`), resolved after every segment exists. */
  references: readonly string[] = NO_NAMES;
  /** Whether the segment reaches itself through references (set at load). */
  inCycle = false;
  /** The frame this segment is being matched in: a reference back to it there does not match. */
  private evaluatingIn: SegmentFrame | null = null;
  readonly salt: HashPrefix;

  constructor(name: string, salt: HashPrefix) {
    this.name = name;
    this.salt = salt;
  }

  /**
   * Sets the compiled targeting; its closures are made the first time the segment is matched.
   * A large state holds 10,000 segments, most of which a specialized flag matches through code
   * of its own, and a closure made at load is two more objects each for the load to copy.
   */
  setTargeting(tree: TargetingNode | null): void {
    this.targetingTree = tree;
    this.targeting = tree === null ? null : compileOnFirstUse;
  }

  /**
   * Whether the frame's unit is in this segment: audience and allocation. A reference that
   * comes back to a segment already being matched on the way here does not match, so cycles
   * end (as in Confidence, the answer depends on where matching started).
   */
  matches(f: SegmentFrame): boolean {
    if (!this.inCycle) return this.matchesOnce(f);
    if (this.evaluatingIn === f) return false;
    // Marked per frame: a resolve that a store callback starts mid-match has a frame of its
    // own and is not refused; the mark is restored even if a store read throws.
    const outer = this.evaluatingIn;
    this.evaluatingIn = f;
    try {
      return this.matchesOnce(f);
    } finally {
      this.evaluatingIn = outer;
    }
  }

  /** The audience only (no allocation): what a stored sticky assignment is re-checked against. */
  audience(f: SegmentFrame): boolean {
    return this.targeting === null || this.targeting(f);
  }

  private matchesOnce(f: SegmentFrame): boolean {
    if (this.targeting !== null && !this.targeting(f)) return false;
    return this.bitset === null || inAllocation(this, f);
  }
}

/**
 * Whether the frame's unit falls in the segment's bitset (a segment with a bitset). Without
 * a unit, only a segment whose every bit is set matches.
 */
export function inAllocation(segment: CompiledSegment, f: SegmentFrame): boolean {
  const unit = f.unit;
  if (unit === null) return segment.allSet;
  if (f.saltUnit !== unit) {
    f.saltBucket = segment.salt.bucket(unit, SEGMENT_BUCKET_COUNT);
    f.saltUnit = unit;
  }
  return segment.bitset!.has(f.saltBucket);
}

/** What compiling a segment's targeting can reach. */
export interface TargetingScope {
  readonly segments: ReadonlyMap<string, CompiledSegment>;
  readonly bloomFilters: ReadonlyMap<string, BloomFilter>;
  /** See `LoadOptions.targetingKeyAlias`; `""` for none. */
  readonly targetingKeyAlias: string;
}

/** The names of segments `targeting` refers to (before compiling). */
export function collectReferences(targeting: unknown): readonly string[] {
  if (!isObject(targeting)) return NO_NAMES;
  const criteria = own(targeting, 'criteria');
  if (!isObject(criteria)) return NO_NAMES;
  let names: string[] | null = null;
  for (const key of Object.keys(criteria)) {
    const c = criteria[key];
    if (!isObject(c)) continue;
    const seg = own(c, 'segment');
    if (isObject(seg) && typeof own(seg, 'segment') === 'string') (names ??= []).push(own(seg, 'segment') as string);
  }
  return names ?? NO_NAMES;
}

/** Compiles a segment's `targeting` ({criteria, expression}) into a tree; null means "everyone". */
export function compileTargeting(
  segment: CompiledSegment,
  raw: unknown,
  path: string,
  scope: TargetingScope,
  issues: IssueList,
  materializations: Set<string>,
): TargetingNode | null {
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
  const criteria = new Map<string, TargetingNode>();
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

const NEVER: TargetingNode = { kind: 'constant', value: false };
const ALWAYS: TargetingNode = { kind: 'constant', value: true };

function compileExpression(
  raw: unknown,
  path: string,
  criteria: ReadonlyMap<string, TargetingNode>,
  issues: IssueList,
  depth: number,
): TargetingNode {
  if (depth > MAX_EXPRESSION_DEPTH) {
    issues.add(path, `expression nested deeper than ${MAX_EXPRESSION_DEPTH} levels`);
    return NEVER;
  }
  if (!isObject(raw)) {
    issues.add(path, `expected an expression ({ref}, {and}, {or} or {not}), got ${describe(raw)}`);
    return NEVER;
  }
  const ref = own(raw, 'ref');
  if (ref !== undefined) {
    if (typeof ref !== 'string' || !criteria.has(ref)) {
      issues.add(keyPath(path, 'ref'), `expected the name of a criterion of this segment (${[...criteria.keys()].join(', ') || 'none defined'}), got ${describe(ref)}`);
      return NEVER;
    }
    return criteria.get(ref)!;
  }
  const not = own(raw, 'not');
  if (not !== undefined) {
    return { kind: 'not', inner: compileExpression(not, keyPath(path, 'not'), criteria, issues, depth + 1) };
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
    if (parts.length === 0) return op === 'and' ? ALWAYS : NEVER;
    return parts.length === 1 ? parts[0]! : { kind: op, parts };
  }
  issues.add(path, 'expected one of ref, and, or, not');
  return NEVER;
}

/** Closures by tree: segments that share a tree (prepare.ts) share them too. */
const closures = new WeakMap<TargetingNode, Targeting>();

/**
 * A segment's targeting until its first use: compiles its tree (microseconds), takes the
 * closure's place, and answers. Called as `segment.targeting(f)`, so `this` is the segment.
 */
function compileOnFirstUse(this: CompiledSegment, f: SegmentFrame): boolean {
  const tree = this.targetingTree!;
  let targeting = closures.get(tree);
  if (targeting === undefined) closures.set(tree, (targeting = targetingClosure(tree)));
  this.targeting = targeting;
  return targeting(f);
}

/** The closure back end: a tree as a function of the frame, evaluated as the tree reads. */
export function targetingClosure(node: TargetingNode): Targeting {
  switch (node.kind) {
    case 'constant':
      return node.value ? () => true : () => false;
    case 'not': {
      const inner = targetingClosure(node.inner);
      return (f) => !inner(f);
    }
    case 'and':
    case 'or':
      return node.kind === 'and' ? allOf(node.parts.map(targetingClosure)) : anyOf(node.parts.map(targetingClosure));
    case 'attribute': {
      const { key, read, test } = node;
      // The common case, one call shorter: a top-level attribute read in place.
      if (key !== null) return (f) => test(f.context[key]);
      return (f) => test(read(f.context));
    }
    case 'segment': {
      const target = node.target;
      return (f) => target.matches(f);
    }
    case 'bloom': {
      const bloom = node.filter;
      return (f) => f.unit !== null && bloom.mightContain(f.unit);
    }
    case 'materialization': {
      const name = node.name;
      return (f) => inMaterialization(f, name);
    }
    case 'unrecognized':
      return unrecognized;
  }
}

function allOf(parts: readonly Targeting[]): Targeting {
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
): TargetingNode {
  if (!isObject(raw)) {
    issues.add(path, `expected a criterion object, got ${describe(raw)}`);
    return NEVER;
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
      return NEVER;
    }
    const target = scope.segments.get(name);
    // A missing segment never matches.
    if (target === undefined) return NEVER;
    return { kind: 'segment', target };
  }

  const mat = own(raw, 'materializedSegment');
  if (mat !== undefined) {
    const name = isObject(mat) ? own(mat, 'materializedSegment') : undefined;
    if (typeof name !== 'string') {
      issues.add(keyPath(path, 'materializedSegment'), `expected {"materializedSegment": "materializations/<id>"}, got ${describe(mat)}`);
      return NEVER;
    }
    const bloom = scope.bloomFilters.get(name);
    if (bloom !== undefined) return { kind: 'bloom', filter: bloom };
    materializations.add(name);
    return { kind: 'materialization', name };
  }
  // A criterion with no kind set matches nothing (conformance: criterion_not_set).
  return NEVER;
}

/** Whether the frame's unit is in a materialization (read through the caller's access). */
export function inMaterialization(f: SegmentFrame, materialization: string): boolean {
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

function compileAttribute(raw: unknown, path: string, issues: IssueList, targetingKeyAlias: string): TargetingNode {
  if (!isObject(raw)) {
    issues.add(path, `expected an attribute criterion object, got ${describe(raw)}`);
    return NEVER;
  }
  const name = own(raw, 'attributeName');
  if (typeof name !== 'string' || name === '') {
    issues.add(keyPath(path, 'attributeName'), `expected a non-empty attribute name, got ${describe(name)}`);
    return NEVER;
  }
  const compiled = compileAttributeTest(raw, path, issues);
  if (compiled === UNRECOGNIZED) return UNRECOGNIZED_NODE;
  return { kind: 'attribute', key: plainKeyOf(name, targetingKeyAlias), read: compileContextPath(name, targetingKeyAlias), test: compiled.test, shape: compiled.shape };
}

const UNRECOGNIZED_NODE: TargetingNode = { kind: 'unrecognized' };

/** A criterion Confidence cannot evaluate: the rule that reaches it is skipped. */
const unrecognized: Targeting = (f) => {
  f.unrecognized = true;
  return false;
};
