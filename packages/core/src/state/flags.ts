/**
 * Flags, variants and rules compiled for the rule walk. Everything a match returns is built
 * here, once: a resolve that serves a variant returns a frozen, shared result object.
 */
import { StateError } from '../errors.js';
import { HashPrefix } from '../hash/bucket.js';
import type {
  AssignmentKind,
  EvaluationContext,
  FallthroughRecord,
  JsonValue,
  MaterializationAccess,
  ResolveReason,
  ResolvedFlag,
} from '../types.js';
import { compileContextPath, type ContextReader } from './context-path.js';
import {
  describe,
  indexPath,
  isIntegerIn,
  isObject,
  keyPath,
  optionalBoolean,
  optionalString,
  optionalStringList,
  own,
  readArray,
  readInteger,
  readObject,
  readString,
  requiredString,
  IssueList,
  type JsonObject,
} from './json-input.js';
import { packedInt32 } from './packed-int32.js';
import type { CompiledClient } from './resolver-state.js';
import type { CompiledSegment, SegmentFrame } from './segments.js';

export const DEFAULT_TARGETING_KEY = 'targeting_key';
const MAX_BUCKET_COUNT = 0x7fffffff;
const MAX_VALUE_DEPTH = 64;
const NO_FALLTHROUGHS: readonly FallthroughRecord[] = Object.freeze([]);

export interface CompiledVariant {
  readonly name: string;
  readonly value: JsonValue;
}

/** What an assignment does when the unit's bucket falls in it. */
export type AssignmentType = 'variant' | 'clientDefault' | 'fallthrough';

export interface CompiledAssignment {
  readonly id: string;
  readonly type: AssignmentType;
  /** The variant served (`variant` type only). */
  readonly variant: CompiledVariant | null;
  /**
   * The result returned when this assignment decides (`variant` and `clientDefault`): made
   * the first time it is asked for (`resultOf`), like `stickyResult`. Made at load, 20,000 of
   * them in a state of 10,000 rules were a fifth of what the application's thread built, all
   * of it copied by the garbage collector while the state loads.
   */
  result: ResolvedFlag | null;
  /**
   * The result when a stored (sticky) variant picks this assignment: made on first use
   * (`stickyResultOf`), as most assignments never serve one.
   */
  stickyResult: ResolvedFlag | null;
  /** What the resolve records when this assignment falls through (`fallthrough` type only). */
  readonly fallthrough: FallthroughRecord | null;
}

export interface MaterializationSpec {
  /** `""` when the rule reads none. */
  readonly read: string;
  /** `""` when the rule writes none. */
  readonly write: string;
  /** Paused intake: only units already in the read materialization enter the rule. */
  readonly mustMatch: boolean;
  /** Units already in the read materialization skip the segment check. */
  readonly ignoreTargeting: boolean;
}

export interface CompiledRule {
  readonly name: string;
  readonly segmentName: string;
  /** null when the state has no such segment: the rule is skipped. */
  readonly segment: CompiledSegment | null;
  readonly enabled: boolean;
  /** null: every environment. */
  readonly environments: readonly string[] | null;
  /** The field randomized on (`targeting_key` when the selector is blank). */
  readonly selector: string;
  readonly readUnit: ContextReader;
  readonly blankSelector: boolean;
  readonly bucketCount: number;
  /** Hashes `segmentId + "|" + unit`. */
  readonly prefix: HashPrefix;
  readonly assignments: readonly CompiledAssignment[];
  /** Flat [lower, upper, assignment index] triples in assignment order. */
  readonly ranges: Int32Array;
  /**
   * The rule's only assignment when it has one range covering every bucket: no hash is
   * needed (Confidence's "full rollout"; a rule that covers every bucket otherwise still hashes).
   */
  readonly fullRollout: CompiledAssignment | null;
  readonly materialization: MaterializationSpec | null;
}

/**
 * Where flags not yet compiled are compiled from (`deferFlag`): the UTF-8 JSON of a prepared
 * state (prepare.ts), shared by every flag assembled from it, and how that state was loaded.
 */
export interface DeferredFlags {
  readonly utf8: Uint8Array;
  readonly targetingKeyAlias: string;
  /** Whether a flag without `state` is active (the conformance shape) or not (the proto shape). */
  readonly absentIsActive: boolean;
}

/**
 * A flag of a state, compiled for the rule walk. Its variants and rules are compiled at load
 * (`compileFlag`), or on first use (`deferFlag`): a state assembled on the application's
 * thread (prepare.ts) keeps each flag's JSON, already validated on the loader's thread, and
 * compiles it the first time something reads its rules. At 10,000 rules, compiling every flag
 * at assembly built 8 MB the state keeps, which the garbage collector copied in pauses of up to
 * 20 ms on the application's thread; an application that evaluates a flag compiles that one.
 */
export class CompiledFlag {
  /** Set once compiled; null while deferred. */
  private compiledRules: readonly CompiledRule[] | null;
  private compiledVariants: ReadonlyMap<string, CompiledVariant> | null;
  /** While deferred: where the JSON is, and the segments its rules name (see `segmentRefs`). */
  private deferred: DeferredFlags | null;
  private readonly start: number;
  private readonly end: number;
  private refs: readonly (CompiledSegment | string)[] | null;
  /** What the compile threw, thrown again by every later read (only a prepared form core did not make fails). */
  private failure: StateError | null = null;
  /** The flag's results when no rule decides, the unit is bad, or it is archived: made on first use (`noMatchOf`, `targetingKeyErrorOf`, `archivedResultOf`). */
  noMatch: ResolvedFlag | null = null;
  targetingKeyError: ResolvedFlag | null = null;
  archivedResult: ResolvedFlag | null = null;
  /**
   * The flag's rule walk written as code for this flag alone (resolve/specialize.ts), set at
   * load; null: resolved by the generic walk (LoadOptions.specialize false, or a platform
   * that forbids generated code).
   */
  program: FlagProgram | null = null;
  /**
   * Generic resolves left before the walk is specialized (`LoadOptions.specialize` "hot");
   * 0: never (already specialized, or not to be).
   */
  resolvesUntilSpecialized = 0;

  /** Use `compileFlag` or `deferFlag`. */
  constructor(
    readonly name: string,
    /** Not served: `ARCHIVED`, or no state at all (the proto's `STATE_UNSPECIFIED`), as in Confidence. */
    readonly archived: boolean,
    readonly clients: ReadonlySet<string>,
    /**
     * Whether an enabled rule reads or writes sticky assignments, or its segment's targeting
     * reads them: a resolve of this flag may need the store (known without compiling the rules).
     */
    readonly usesStore: boolean,
    variants: ReadonlyMap<string, CompiledVariant> | null,
    rules: readonly CompiledRule[] | null,
    deferred: DeferredFlags | null,
    start: number,
    end: number,
    refs: readonly (CompiledSegment | string)[] | null,
  ) {
    this.compiledVariants = variants;
    this.compiledRules = rules;
    this.deferred = deferred;
    this.start = start;
    this.end = end;
    this.refs = refs;
  }

  get variants(): ReadonlyMap<string, CompiledVariant> {
    return this.compiledVariants ?? this.compiledNow().compiledVariants!;
  }

  get rules(): readonly CompiledRule[] {
    const rules = this.compiledRules;
    return rules !== null ? rules : this.compiledNow().compiledRules!;
  }

  /** Whether the variants and rules are compiled (false: deferred until first read). */
  get compiled(): boolean {
    return this.compiledRules !== null;
  }

  /** Whether a rule names one of `segments` (by name; a segment the state lacks too), compiling nothing. */
  namesSegmentIn(segments: ReadonlySet<string>): boolean {
    const refs = this.refs;
    if (refs !== null) {
      for (const ref of refs) if (segments.has(typeof ref === 'string' ? ref : ref.name)) return true;
      return false;
    }
    for (const rule of this.rules) if (segments.has(rule.segmentName)) return true;
    return false;
  }

  /**
   * This deferred flag, deferred again from another copy of its JSON (`deferred.utf8`, from
   * `start` to `end`), its rules naming the same segments: a new state whose JSON for it is
   * the same takes it this way without parsing it, and keeps no older state's JSON alive.
   * Null once compiled (a compiled flag is taken as it is).
   */
  redeferred(deferred: DeferredFlags, start: number, end: number): CompiledFlag | null {
    if (this.refs === null) return null;
    const flag = new CompiledFlag(this.name, this.archived, this.clients, this.usesStore, null, null, deferred, start, end, this.refs);
    flag.resolvesUntilSpecialized = this.resolvesUntilSpecialized;
    return flag;
  }

  /**
   * The segments a deferred flag's rules name, in rule order: the segment where its state has
   * it, else its name (the rule is skipped). Null once compiled (read its rules).
   */
  get segmentRefs(): readonly (CompiledSegment | string)[] | null {
    return this.refs;
  }

  /** Compiles the variants and rules now, if they are deferred (throws `StateError` as reading `rules` would). */
  compile(): void {
    if (this.compiledRules === null) this.compiledNow();
  }

  /** This flag, its variants and rules compiled from its JSON (validated before it was deferred). */
  private compiledNow(): this {
    if (this.failure !== null) throw this.failure; // every read after a failed compile: parsed once
    const deferred = this.deferred!;
    const segments = new Map<string, CompiledSegment>();
    for (const ref of this.refs!) if (typeof ref !== 'string') segments.set(ref.name, ref);
    const issues = new IssueList();
    const path = keyPath('flags', this.name);
    // Parsed once already, as the flag was deferred: these bytes are JSON.
    const raw: unknown = JSON.parse(decoder.decode(deferred.utf8.subarray(this.start, this.end)));
    const flag = compileFlag(this.name, raw, path, segments, issues, deferred.targetingKeyAlias, deferred.absentIsActive);
    // The JSON was validated with these segments before it was deferred: only a prepared form
    // that `prepareState` did not make can have problems here.
    if (flag === undefined || issues.items.length > 0) throw (this.failure = new StateError(issues.items));
    this.compiledVariants = flag.compiledVariants;
    this.compiledRules = flag.compiledRules;
    this.deferred = null;
    this.refs = null;
    return this;
  }
}

const decoder = new TextDecoder();

/** A specialized rule walk: what `walk` in resolve/resolve.ts answers, for one flag. */
export type FlagProgram = (
  client: CompiledClient,
  context: EvaluationContext,
  access: MaterializationAccess | null,
  frame: SegmentFrame,
) => ResolvedFlag;

/** The result of `a`, an assignment of `rule` of `flag`, made the first time it is asked for. */
export function resultOf(flag: CompiledFlag, rule: CompiledRule, a: CompiledAssignment): ResolvedFlag {
  return (a.result ??= result(flag.name, 'RESOLVE_REASON_MATCH', a.variant, true, rule.name, rule.segmentName, a.id, a === rule.fullRollout ? 'rollout' : 'split'));
}

/** `a`'s result when a stored variant picks it (`a` an assignment of `rule` of `flag`), made the first time it is asked for. */
export function stickyResultOf(flag: CompiledFlag, rule: CompiledRule, a: CompiledAssignment): ResolvedFlag {
  return (a.stickyResult ??= result(flag.name, 'RESOLVE_REASON_MATCH', a.variant, true, rule.name, rule.segmentName, a.id, 'sticky'));
}

/** `flag`'s result when no rule decides. */
export function noMatchOf(flag: CompiledFlag): ResolvedFlag {
  return (flag.noMatch ??= result(flag.name, 'RESOLVE_REASON_NO_SEGMENT_MATCH', null, false, '', '', '', 'none'));
}

/** `flag`'s result when the unit a rule randomizes on is not a usable key. */
export function targetingKeyErrorOf(flag: CompiledFlag): ResolvedFlag {
  return (flag.targetingKeyError ??= result(flag.name, 'RESOLVE_REASON_TARGETING_KEY_ERROR', null, false, '', '', '', 'none'));
}

/** `flag`'s result when it is archived. */
export function archivedResultOf(flag: CompiledFlag): ResolvedFlag {
  return (flag.archivedResult ??= result(flag.name, 'RESOLVE_REASON_FLAG_ARCHIVED', null, false, '', '', '', 'none'));
}

function result(
  flag: string,
  reason: ResolveReason,
  variant: CompiledVariant | null,
  shouldApply: boolean,
  rule: string,
  segment: string,
  assignmentId: string,
  assignmentKind: AssignmentKind,
): ResolvedFlag {
  return Object.freeze({
    flag,
    reason,
    variant: variant?.name ?? '',
    value: variant?.value ?? null,
    shouldApply,
    rule,
    segment,
    assignmentId,
    assignmentKind,
    fallthroughs: NO_FALLTHROUGHS,
  });
}

/** A deep, frozen copy of a JSON value; records an issue for anything that is not JSON. */
export function freezeJson(value: unknown, path: string, issues: IssueList, depth = 0): JsonValue {
  if (depth > MAX_VALUE_DEPTH) {
    issues.add(path, `value nested deeper than ${MAX_VALUE_DEPTH} levels`);
    return null;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    issues.add(path, `expected a finite number, got ${describe(value)}`);
    return null;
  }
  if (Array.isArray(value)) {
    return Object.freeze(
      value.map((v, i) => freezeJson(v, indexPath(path, i), issues, depth + 1)),
    ) as JsonValue[];
  }
  if (isObject(value)) {
    const copy: Record<string, JsonValue> = {};
    for (const key of Object.keys(value)) {
      // defineProperty keeps a "__proto__" key as data instead of setting the prototype.
      Object.defineProperty(copy, key, {
        value: freezeJson(value[key], keyPath(path, key), issues, depth + 1),
        enumerable: true,
      });
    }
    return Object.freeze(copy);
  }
  issues.add(path, `expected a JSON value, got ${typeof value}`);
  return null;
}

/**
 * The set of `names`, shared by every flag listing the same clients (most flags of a state list
 * the same one or two): a set and its table per flag were 2,000 pairs of objects in a state of
 * 2,000 flags, for the garbage collector to copy as it loads. Never modified: flags expose it
 * as a `ReadonlySet`.
 */
function clientSetOf(names: readonly string[]): ReadonlySet<string> {
  // A long list is its flag's own: not kept after its state is gone.
  if (names.length > MAX_SHARED_CLIENTS) return new Set(names);
  const key = JSON.stringify(names);
  let set = clientSets.get(key);
  if (set === undefined) {
    if (clientSets.size >= MAX_CLIENT_SETS) clientSets.clear();
    set = new Set(names);
    clientSets.set(key, set);
  }
  return set;
}

/** Client lists remembered: enough for the few a state's flags repeat, bounded for one whose every flag lists its own. */
const MAX_CLIENT_SETS = 256;
const MAX_SHARED_CLIENTS = 16;
const clientSets = new Map<string, ReadonlySet<string>>();

export function compileFlag(
  name: string,
  raw: unknown,
  path: string,
  segments: ReadonlyMap<string, CompiledSegment>,
  issues: IssueList,
  targetingKeyAlias = '',
  absentIsActive = true,
): CompiledFlag | undefined {
  const obj = readObject(raw, path, issues);
  if (!obj) return undefined;
  const active = flagIsActive(own(obj, 'state'), keyPath(path, 'state'), issues, absentIsActive);
  const clients = clientSetOf(optionalStringList(obj, 'clients', path, issues));

  const variants = new Map<string, CompiledVariant>();
  const variantsPath = keyPath(path, 'variants');
  const variantList = readArray(own(obj, 'variants') ?? [], variantsPath, issues, 10_000) ?? [];
  variantList.forEach((v, i) => {
    const vp = indexPath(variantsPath, i);
    const vo = readObject(v, vp, issues);
    if (!vo) return;
    const vname = readString(own(vo, 'name'), keyPath(vp, 'name'), issues);
    if (vname === undefined) return;
    if (variants.has(vname)) {
      issues.add(keyPath(vp, 'name'), `duplicate variant name ${JSON.stringify(vname)}`);
      return;
    }
    const value = freezeJson(own(vo, 'value') ?? null, keyPath(vp, 'value'), issues);
    variants.set(vname, Object.freeze({ name: vname, value }));
  });

  const rulesPath = keyPath(path, 'rules');
  const ruleList = readArray(own(obj, 'rules') ?? [], rulesPath, issues, 10_000) ?? [];
  const rules: CompiledRule[] = [];
  for (let i = 0; i < ruleList.length; i++) {
    const rule = compileRule(ruleList[i], indexPath(rulesPath, i), variants, segments, issues, targetingKeyAlias);
    if (rule) rules.push(rule);
  }

  const usesStore = rules.some((rule) => rule.enabled && (rule.materialization !== null || (rule.segment?.materializations.length ?? 0) > 0));
  // An exact-size copy of the rules: grown by push, a list of 5 rules keeps room for 17.
  return new CompiledFlag(name, !active, clients, usesStore, variants, rules.slice(), null, 0, 0, null);
}

/**
 * A flag whose variants and rules are compiled on first use, from the JSON at `start`..`end`
 * of `deferred.utf8` (`raw`, that JSON parsed, has been validated with `segments`: by
 * `prepareState`). Only what a resolve reads before the rules is read now: its state, its
 * clients, and the segments its rules name. Problems are recorded as `compileFlag` would.
 */
export function deferFlag(
  name: string,
  raw: unknown,
  path: string,
  segments: ReadonlyMap<string, CompiledSegment>,
  issues: IssueList,
  deferred: DeferredFlags,
  start: number,
  end: number,
): CompiledFlag | undefined {
  const obj = readObject(raw, path, issues);
  if (!obj) return undefined;
  const active = flagIsActive(own(obj, 'state'), keyPath(path, 'state'), issues, deferred.absentIsActive);
  const clients = clientSetOf(optionalStringList(obj, 'clients', path, issues));
  const refs: (CompiledSegment | string)[] = [];
  let usesStore = false;
  const ruleList = own(obj, 'rules');
  if (Array.isArray(ruleList)) {
    for (const rule of ruleList as unknown[]) {
      if (!isObject(rule)) continue;
      const named = own(rule, 'segment');
      if (typeof named !== 'string') continue;
      const ref = segments.get(named) ?? named;
      refs.push(ref);
      // As `compileFlag` decides it from the compiled rules (the JSON has been validated).
      if (own(rule, 'enabled') === true && (namesMaterialization(own(rule, 'materializationSpec')) || (typeof ref !== 'string' && ref.materializations.length > 0))) usesStore = true;
    }
  }
  // An exact-size copy: grown by push, a list of 5 keeps room for 17.
  return new CompiledFlag(name, !active, clients, usesStore, null, null, deferred, start, end, refs.slice());
}

/** Whether a rule's valid `materializationSpec` names a materialization to read or write. */
function namesMaterialization(spec: unknown): boolean {
  if (!isObject(spec)) return false;
  const read = own(spec, 'readMaterialization');
  const write = own(spec, 'writeMaterialization');
  return (typeof read === 'string' && read !== '') || (typeof write === 'string' && write !== '');
}

/** Flag states by proto-JSON name and enum number; only `ACTIVE` is served. */
const FLAG_STATES: ReadonlyMap<unknown, boolean> = new Map<unknown, boolean>([
  ['STATE_UNSPECIFIED', false],
  ['ACTIVE', true],
  ['ARCHIVED', false],
  [0, false],
  [1, true],
  [2, false],
]);

/**
 * Whether a flag's `state` lets it be served. Confidence serves `ACTIVE` flags only: in the
 * proto shape an absent state is the default `STATE_UNSPECIFIED`, which it leaves out like
 * `ARCHIVED`. In the conformance shape (also written by hand) an absent state is `ACTIVE`.
 */
function flagIsActive(raw: unknown, path: string, issues: IssueList, absentIsActive: boolean): boolean {
  if (raw === undefined || raw === null) return absentIsActive;
  const active = FLAG_STATES.get(raw);
  if (active !== undefined) return active;
  issues.add(path, `expected "ACTIVE" or "ARCHIVED", got ${describe(raw)}`);
  return false;
}

function compileRule(
  raw: unknown,
  path: string,
  variants: ReadonlyMap<string, CompiledVariant>,
  segments: ReadonlyMap<string, CompiledSegment>,
  issues: IssueList,
  targetingKeyAlias: string,
): CompiledRule | undefined {
  const obj = readObject(raw, path, issues);
  if (!obj) return undefined;
  // Paths are built only for an issue: this runs for every rule of a state as it loads.
  const name = requiredString(obj, 'name', path, issues) ?? '';
  const segmentRaw = requiredString(obj, 'segment', path, issues) ?? '';
  const enabled = optionalBoolean(obj, 'enabled', path, issues, false);
  const environments = optionalStringList(obj, 'environments', path, issues);
  const selectorRaw = optionalString(obj, 'targetingKeySelector', path, issues, '');
  const blankSelector = selectorRaw.trim() === '';
  const selector = blankSelector ? DEFAULT_TARGETING_KEY : selectorRaw;

  const specRaw = own(obj, 'assignmentSpec');
  const spec = isObject(specRaw) ? specRaw : readObject(specRaw, keyPath(path, 'assignmentSpec'), issues);
  if (!spec) return undefined;
  const countRaw = own(spec, 'bucketCount');
  const bucketCount =
    isIntegerIn(countRaw, 1, MAX_BUCKET_COUNT)
      ? countRaw
      : readInteger(countRaw, keyPath(keyPath(path, 'assignmentSpec'), 'bucketCount'), issues, 1, MAX_BUCKET_COUNT, 'a positive integer');
  if (bucketCount === undefined) return undefined;

  const segment = segments.get(segmentRaw) ?? null;
  // The segment's own copy of the name where there is one: the copy parsed from the flag's
  // JSON would be one more string per rule for the state to hold.
  const segmentName = segment?.name ?? segmentRaw;
  const segmentId = segmentName.startsWith('segments/') ? segmentName.slice('segments/'.length) : segmentName;
  const listRaw = own(spec, 'assignments') ?? NO_ITEMS;
  const list = Array.isArray(listRaw) && listRaw.length <= 10_000 ? (listRaw as readonly unknown[]) : (readArray(listRaw, assignmentsPath(path), issues, 10_000) ?? NO_ITEMS);
  const assignments: CompiledAssignment[] = [];
  const triples: number[] = [];
  let firstRanges = 0;
  for (let i = 0; i < list.length; i++) {
    const before = triples.length;
    const compiled = compileAssignment(name, list[i], path, i, bucketCount, variants, issues, triples, assignments.length);
    if (compiled) assignments.push(compiled);
    if (i === 0) firstRanges = (triples.length - before) / 3;
  }
  const ranges = packedInt32(triples);
  const isFull = list.length === 1 && assignments.length === 1 && firstRanges === 1 && ranges[0] === 0 && ranges[1] === bucketCount;
  // A full rollout's results say "rollout" (`resultOf`), a split's "split".
  const fullRollout = isFull ? assignments[0]! : null;
  // An exact-size copy: grown by push, the list keeps room for 17 (60 bytes a rule, for good).
  const finalAssignments = assignments.slice();

  return {
    name,
    segmentName,
    segment,
    enabled,
    environments: environments.length === 0 ? null : environments,
    selector,
    readUnit: compileContextPath(selector, targetingKeyAlias),
    blankSelector,
    bucketCount,
    prefix: new HashPrefix(`${segmentId}|`),
    assignments: finalAssignments,
    ranges,
    fullRollout,
    materialization: compileMaterializationSpec(obj, path, issues),
  };
}

/** The path of the assignments of the rule at `rule`. */
function assignmentsPath(rule: string): string {
  return keyPath(keyPath(rule, 'assignmentSpec'), 'assignments');
}

/** The path of the `at`th assignment of the rule at `rule`. */
function assignmentPath(rule: string, at: number): string {
  return indexPath(assignmentsPath(rule), at);
}

/**
 * The `at`th assignment of the rule at `rulePath`. This runs for every
 * assignment of a state as it loads, on the application's thread: paths and messages are
 * built only for an issue, and valid input allocates nothing but what the state keeps.
 */
function compileAssignment(
  rule: string,
  raw: unknown,
  rulePath: string,
  at: number,
  bucketCount: number,
  variants: ReadonlyMap<string, CompiledVariant>,
  issues: IssueList,
  triples: number[],
  index: number,
): CompiledAssignment | undefined {
  if (!isObject(raw)) {
    readObject(raw, assignmentPath(rulePath, at), issues);
    return undefined;
  }
  const obj = raw;
  const idRaw = own(obj, 'assignmentId') ?? '';
  const id = typeof idRaw === 'string' ? idRaw : (readString(idRaw, keyPath(assignmentPath(rulePath, at), 'assignmentId'), issues) ?? '');
  const kind = assignmentKind(obj, rulePath, at, issues);
  if (kind === undefined) return undefined;
  let variant: CompiledVariant | null = null;
  if (kind === 'variant') {
    const ref = own(obj, 'variant');
    const vname = isObject(ref) ? own(ref, 'variant') : undefined;
    variant = typeof vname === 'string' ? (variants.get(vname) ?? null) : null;
    if (variant === null) {
      issues.add(
        keyPath(keyPath(assignmentPath(rulePath, at), 'variant'), 'variant'),
        `expected the name of one of the flag's variants (${[...variants.keys()].join(', ') || 'none defined'}), got ${describe(vname)}`,
      );
      return undefined;
    }
  }
  const ranges = own(obj, 'bucketRanges') ?? NO_ITEMS;
  if (!Array.isArray(ranges) || ranges.length > 100_000) readArray(ranges, keyPath(assignmentPath(rulePath, at), 'bucketRanges'), issues, 100_000);
  else for (let i = 0; i < ranges.length; i++) readRange(ranges[i], rulePath, at, i, bucketCount, issues, triples, index);
  return {
    id,
    type: kind,
    variant,
    result: null,
    stickyResult: null,
    fallthrough: kind === 'fallthrough' ? Object.freeze({ rule, assignmentId: id }) : null,
  };
}

const NO_ITEMS: readonly unknown[] = [];

/** Which one of `variant`, `clientDefault` and `fallthrough` the assignment has; an issue unless exactly one. */
function assignmentKind(obj: JsonObject, rulePath: string, at: number, issues: IssueList): AssignmentType | undefined {
  const variant = own(obj, 'variant') ?? null;
  const clientDefault = own(obj, 'clientDefault') ?? null;
  const fallthrough = own(obj, 'fallthrough') ?? null;
  const count = (variant === null ? 0 : 1) + (clientDefault === null ? 0 : 1) + (fallthrough === null ? 0 : 1);
  if (count === 1) return variant !== null ? 'variant' : clientDefault !== null ? 'clientDefault' : 'fallthrough';
  const kinds = ASSIGNMENT_TYPES.filter((k) => (own(obj, k) ?? null) !== null);
  issues.add(assignmentPath(rulePath, at), `expected exactly one of variant, clientDefault, fallthrough; got ${kinds.length === 0 ? 'none' : kinds.join(', ')}`);
  return undefined;
}

const ASSIGNMENT_TYPES: readonly AssignmentType[] = ['variant', 'clientDefault', 'fallthrough'];

/** The `i`th bucket range of the `at`th assignment of the rule at `rulePath`, pushed to `triples` as [lower, upper, index] when valid. */
function readRange(raw: unknown, rulePath: string, at: number, i: number, bucketCount: number, issues: IssueList, triples: number[], index: number): void {
  if (isObject(raw)) {
    const lower = own(raw, 'lower') ?? 0;
    const upper = own(raw, 'upper');
    if (isIntegerIn(lower, 0, bucketCount) && isIntegerIn(upper, 0, bucketCount) && lower <= upper) {
      triples.push(lower, upper, index);
      return;
    }
  }
  // Not plainly valid: read it again with paths and messages (a decimal string is a valid bound).
  const rp = indexPath(keyPath(assignmentPath(rulePath, at), 'bucketRanges'), i);
  const ro = readObject(raw, rp, issues);
  if (!ro) return;
  const what = `an integer in [0, bucketCount ${bucketCount}]`;
  const lower = readInteger(own(ro, 'lower') ?? 0, keyPath(rp, 'lower'), issues, 0, bucketCount, what);
  const upper = readInteger(own(ro, 'upper'), keyPath(rp, 'upper'), issues, 0, bucketCount, what);
  if (lower === undefined || upper === undefined) return;
  if (upper < lower) {
    issues.add(rp, `lower (${lower}) must not exceed upper (${upper})`);
    return;
  }
  triples.push(lower, upper, index);
}

function compileMaterializationSpec(rule: JsonObject, path: string, issues: IssueList): MaterializationSpec | null {
  const raw = own(rule, 'materializationSpec');
  if (raw === undefined || raw === null) return null;
  const p = keyPath(path, 'materializationSpec');
  const obj = readObject(raw, p, issues);
  if (!obj) return null;
  const read = optionalString(obj, 'readMaterialization', p, issues, '');
  const write = optionalString(obj, 'writeMaterialization', p, issues, '');
  const modeRaw = own(obj, 'mode');
  const mode = modeRaw === undefined || modeRaw === null ? {} : (readObject(modeRaw, keyPath(p, 'mode'), issues) ?? {});
  const mp = keyPath(p, 'mode');
  const mustMatch = optionalBoolean(mode, 'materializationMustMatch', mp, issues, false);
  const ignoreTargeting = optionalBoolean(mode, 'segmentTargetingCanBeIgnored', mp, issues, false);
  if ((mustMatch || ignoreTargeting) && read === '') {
    issues.add(mp, 'a read mode needs readMaterialization to be set');
  }
  if (read === '' && write === '') return null;
  return Object.freeze({ read, write, mustMatch, ignoreTargeting });
}
