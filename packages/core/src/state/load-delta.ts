/**
 * Loading the state a delta makes of a loaded one, at a cost that follows the change rather
 * than the state's size. The entries the delta set or removed are validated and compiled, and
 * so is what they can change: the segments that refer to a changed segment (directly or
 * through others: their compiled targeting points at it, and cycles run through it) and the
 * flags whose rules name one of those. Every other compiled flag, segment and bitset is the
 * previous state's, shared; the previous state is not modified and stays usable.
 *
 * The result resolves as, and is refused for the same problems as, `validateState` on the
 * whole resulting JSON (load-delta.test.ts). Where a change cannot be followed entry by entry
 * (the account, bloom filters, a member other than `clients` replaced whole, the proto shape,
 * other load options) or the result has a problem, the whole state is validated instead, so
 * the issues reported are exactly `validateState`'s.
 *
 * A few passes still cover every segment or flag (finding the referrers of a change, copying
 * the maps): `DeltaAssembler` runs the load in bounded steps for a thread that must keep
 * answering meanwhile.
 */
import { StateError } from '../errors.js';
import { BitsetScratch } from './bitset.js';
import { BloomFilter } from './bloom.js';
import type { CompiledFlag } from './flags.js';
import { isObject, IssueList, keyPath, own, readObject, type JsonObject } from './json-input.js';
import {
  accountIdFrom,
  compileBloom,
  compileNamedFlag,
  located,
  mapBitset,
  mapClients,
  markCycle,
  planWalk,
  reachableMaterializations,
  specializeOption,
  validateState,
  type LoadedBitset,
  type LoadOptions,
  type ValidationResult,
} from './load.js';
import { ResolverState, type CompiledClient } from './resolver-state.js';
import { CompiledSegment, collectReferences, compileTargeting } from './segments.js';

/**
 * What a delta changed, by top-level member of the state JSON: the names of the entries it
 * set or removed, or `"whole"` for a member it replaced. Entries the delta adds are expected
 * after the others, in the order listed here (where applying a delta to JSON puts them).
 */
export type StateChanges = Readonly<Record<string, readonly string[] | 'whole'>>;

/** Members followed entry by entry; a change to any other member loads the whole state. */
const ENTRY_MEMBERS: ReadonlySet<string> = new Set(['flags', 'segments', 'bitsets', 'clients']);

const NO_NAMES: readonly string[] = [];

/** Like `loadState(json, options)`, where `json` is what `changes` made of the JSON `previous` was loaded from; throws `StateError`. */
export function loadDelta(previous: ResolverState, json: unknown, changes: StateChanges, options: LoadOptions = {}): ResolverState {
  const result = validateDelta(previous, json, changes, options);
  if (!result.ok) throw new StateError(result.issues);
  return result.state;
}

/** Like `validateState(json, options)`, where `json` is what `changes` made of the JSON `previous` was loaded from. */
export function validateDelta(
  previous: ResolverState,
  json: unknown,
  changes: StateChanges,
  options: LoadOptions = {},
): ValidationResult {
  return tryDelta(previous, json, changes, options) ?? validateState(json, options);
}

/** `tryDelta`'s answer: the state, or null for "validate the whole state instead". */
export type DeltaResult = { readonly ok: true; readonly state: ResolverState } | null;

/**
 * `validateDelta` without its fallback: the state, or null where the change cannot be followed
 * entry by entry or the result has a problem, for hosts that validate a whole state elsewhere
 * (a worker thread, say): `validateState` on the whole JSON then gives the state or says what
 * is wrong, as `validateDelta` would. `DeltaAssembler` does the same work in bounded steps.
 */
export function tryDelta(previous: ResolverState, json: unknown, changes: StateChanges, options: LoadOptions = {}): DeltaResult {
  const steps = deltaSteps(previous, json, changes, options);
  let next = steps.next();
  while (next.done !== true) next = steps.next();
  return next.value;
}

/**
 * `tryDelta` in bounded steps, for hosts that must not hold their thread: at 10,000 segments
 * the delta's passes over every segment and flag (finding what refers to a change, copying
 * the maps) take several milliseconds together. `step(budgetMs)` does at least one item of
 * work and stops once `budgetMs` has passed; `result()` returns what `tryDelta` would. The
 * previous state stays usable between steps, and is not modified.
 *
 * ```ts
 * const assembler = new DeltaAssembler(previous, json, changes);
 * while (!assembler.step(1)) await new Promise((r) => setImmediate(r));
 * const result = assembler.result() ?? validateState(json);
 * ```
 */
export class DeltaAssembler {
  private readonly steps: Generator<void, DeltaResult, void>;
  private done = false;
  private value: DeltaResult = null;

  constructor(previous: ResolverState, json: unknown, changes: StateChanges, options: LoadOptions = {}) {
    this.steps = deltaSteps(previous, json, changes, options);
  }

  /** Works for about `budgetMs` (at least one item); true once `result` is known. */
  step(budgetMs: number): boolean {
    const until = performance.now() + budgetMs;
    while (!this.done) {
      const next = this.steps.next();
      if (next.done === true) {
        this.done = true;
        this.value = next.value;
      } else if (performance.now() >= until) break;
    }
    return this.done;
  }

  /** The state, or null as `tryDelta` answers; finishes the work `step` has not done. */
  result(): DeltaResult {
    while (!this.step(Infinity));
    return this.value;
  }
}

/** Entries of a pass over every segment or flag, or of a map copy, between two pauses. */
const PASS_CHUNK = 1024;
/** Flags scanned between two pauses: each is a walk over its rules, not one map entry. */
const SCAN_CHUNK = 512;

/**
 * The work of `tryDelta`, pausing (`yield`) after each item: a bitset decoded, a segment or
 * flag compiled, or a chunk of a pass over every segment or flag. Its driver chooses where the
 * thread may run other work: `tryDelta` never lets it, `DeltaAssembler.step` after a budget.
 */
function* deltaSteps(previous: ResolverState, json: unknown, changes: StateChanges, options: LoadOptions): Generator<void, DeltaResult, void> {
  const specialize = specializeOption(options);
  const whole = (): null => null;
  const alias = options.targetingKeyAlias ?? '';
  if (!isObject(json) || alias !== previous.targetingKeyAlias) return whole();
  if (Array.isArray(own(json, 'flags')) || own(json, 'segmentsNoBitsets') !== undefined) return whole();
  for (const member of Object.keys(changes)) {
    const change = changes[member];
    if (!ENTRY_MEMBERS.has(member) || (change === 'whole' && member !== 'clients')) return whole();
  }
  const flagsJson = member(json, 'flags');
  const segmentsJson = member(json, 'segments');
  const bitsetsJson = member(json, 'bitsets');
  if (flagsJson === null || segmentsJson === null || bitsetsJson === null) return whole();
  const issues = new IssueList();
  if (accountIdFrom(json, options, issues, false) !== previous.accountId || issues.items.length > 0) return whole();

  const newBitsets = yield* changedBitsets(bitsetsJson, namesOf(changes.bitsets), issues);
  const clients = changes.clients === undefined ? previous.clients : clientsOf(json, issues);
  const changed = new Set([...namesOf(changes.segments), ...newBitsets.keys()]);
  const affected = changed.size === 0 ? changed : yield* withReferrers(changed, previous.segments);
  const segments = affected.size === 0 ? previous.segments : yield* recompileSegments(previous, json, affected, newBitsets, alias, issues);

  const recompile = new Set(namesOf(changes.flags));
  if (affected.size > 0) {
    let scanned = 0;
    for (const flag of previous.flags.values()) {
      // A flag still deferred is not compiled to find out (see `CompiledFlag.namesSegmentIn`).
      if (flag.namesSegmentIn(affected)) recompile.add(flag.name);
      if (++scanned % SCAN_CHUNK === 0) yield;
    }
  }
  const flags = yield* copyOf(previous.flags);
  const fresh: CompiledFlag[] = [];
  for (const name of recompile) {
    const raw = own(flagsJson, name);
    const flag = raw === undefined ? undefined : compileNamedFlag({ name, raw, path: keyPath('flags', name) }, segments, issues, alias, true);
    if (flag === undefined) {
      flags.delete(name);
    } else {
      flags.set(name, flag);
      fresh.push(flag);
    }
    yield;
  }
  if (issues.items.length > 0) return whole();
  for (const flag of fresh) {
    planWalk(flag, specialize, alias);
    yield;
  }
  const state = new ResolverState(previous.accountId, flags, segments, clients, previous.salt);
  state.targetingKeyAlias = alias;
  state.specialize = specialize;
  return { ok: true, state };
}

/** A copy of `map`, in its order, pausing every PASS_CHUNK entries. */
function* copyOf<K, V>(map: ReadonlyMap<K, V>): Generator<void, Map<K, V>, void> {
  const out = new Map<K, V>();
  for (const [key, value] of map) {
    out.set(key, value);
    if (out.size % PASS_CHUNK === 0) yield;
  }
  return out;
}

/** A member of the state JSON as an object ({} when absent), or null when it is not one. */
function member(json: JsonObject, key: string): JsonObject | null {
  const value = own(json, key);
  if (value === undefined || value === null) return {};
  return isObject(value) ? value : null;
}

function namesOf(change: readonly string[] | 'whole' | undefined): readonly string[] {
  return change === undefined || change === 'whole' ? NO_NAMES : change;
}

/** The bitsets the delta set (validated) or removed (null), by segment name. */
function* changedBitsets(bitsetsJson: JsonObject, names: readonly string[], issues: IssueList): Generator<void, Map<string, LoadedBitset | null>, void> {
  const out = new Map<string, LoadedBitset | null>();
  const scratch = BitsetScratch.shared();
  for (const name of names) {
    const raw = own(bitsetsJson, name);
    out.set(name, raw === undefined ? null : (mapBitset({ name, raw, path: keyPath('bitsets', name) }, issues, scratch) ?? null));
    yield;
  }
  return out;
}

function clientsOf(json: JsonObject, issues: IssueList): Map<string, CompiledClient> {
  const clients = new Map<string, CompiledClient>();
  for (const c of mapClients(json, issues)) clients.set(c.secret, Object.freeze(c));
  return clients;
}

/** `names` and every segment that reaches one of them through references. */
function* withReferrers(names: ReadonlySet<string>, segments: ReadonlyMap<string, CompiledSegment>): Generator<void, Set<string>, void> {
  const referrers = new Map<string, string[]>();
  let indexed = 0;
  for (const seg of segments.values()) {
    for (const ref of seg.references) {
      let list = referrers.get(ref);
      if (list === undefined) referrers.set(ref, (list = []));
      list.push(seg.name);
    }
    if (++indexed % PASS_CHUNK === 0) yield;
  }
  const out = new Set(names);
  const stack = [...names];
  while (stack.length > 0) {
    for (const r of referrers.get(stack.pop()!) ?? NO_NAMES) {
      if (!out.has(r)) {
        out.add(r);
        stack.push(r);
      }
    }
  }
  return out;
}

/**
 * The previous segments with those named in `names` compiled again from `json` (or removed),
 * as `compile` in load.ts compiles them; the others are shared.
 */
function* recompileSegments(
  previous: ResolverState,
  json: JsonObject,
  names: ReadonlySet<string>,
  newBitsets: ReadonlyMap<string, LoadedBitset | null>,
  alias: string,
  issues: IssueList,
): Generator<void, Map<string, CompiledSegment>, void> {
  const segmentsJson = member(json, 'segments') ?? {};
  const segments = yield* copyOf(previous.segments);
  const fresh: { seg: CompiledSegment; targeting: unknown; path: string }[] = [];
  for (const name of names) {
    const raw = own(segmentsJson, name);
    const path = keyPath('segments', name);
    const obj = raw === undefined ? undefined : readObject(raw, path, issues);
    if (obj === undefined) {
      segments.delete(name);
      continue;
    }
    const seg = new CompiledSegment(name, previous.salt);
    seg.references = collectReferences(own(obj, 'targeting'));
    const bits = newBitsets.has(name) ? newBitsets.get(name)! : bitsetOf(previous.segments.get(name), json, name);
    if (bits !== null) {
      seg.bitset = bits.bits;
      seg.allSet = bits.bits === null || bits.allSet;
    }
    segments.set(name, seg);
    fresh.push({ seg, targeting: own(obj, 'targeting'), path: keyPath(path, 'targeting') });
    yield;
  }
  for (const { seg } of fresh) {
    markCycle(seg, segments);
    yield;
  }
  const scope = { segments, bloomFilters: bloomFiltersOf(json), targetingKeyAlias: alias };
  yield;
  const direct = new Map<string, ReadonlySet<string>>();
  for (const { seg, targeting, path } of fresh) {
    const mats = new Set<string>();
    const tree = compileTargeting(seg, targeting, path, scope, issues, mats);
    seg.setTargeting(tree);
    direct.set(seg.name, mats);
    yield;
  }
  // The materializations each segment's own criteria read, compiling (and discarding) the
  // targeting of unchanged segments a fresh one reaches: their own list is transitive.
  const directOf = (name: string): ReadonlySet<string> => {
    const known = direct.get(name);
    if (known !== undefined) return known;
    const mats = new Set<string>();
    const raw = own(segmentsJson, name);
    const seg = segments.get(name);
    if (seg !== undefined && isObject(raw)) compileTargeting(seg, own(raw, 'targeting'), '', scope, new IssueList(), mats);
    direct.set(name, mats);
    return mats;
  };
  for (const { seg } of fresh) {
    seg.materializations = reachableMaterializations(seg.name, segments, directOf);
    yield;
  }
  return segments;
}

/** A segment's bitset: the previous segment's, or (a segment the delta adds) its entry in `bitsets`, valid since the previous state loaded. */
function bitsetOf(was: CompiledSegment | undefined, json: JsonObject, name: string): LoadedBitset | null {
  if (was !== undefined) return { bits: was.bitset, allSet: was.allSet, path: '' };
  const raw = own(member(json, 'bitsets') ?? {}, name);
  if (raw === undefined) return null;
  return mapBitset({ name, raw, path: keyPath('bitsets', name) }, new IssueList(), BitsetScratch.shared()) ?? null;
}

/** The bloom filters of `json`, valid since the previous state loaded (a delta that changes them loads the whole state). */
function bloomFiltersOf(json: JsonObject): Map<string, BloomFilter> {
  const out = new Map<string, BloomFilter>();
  for (const b of located(json, 'bloomFilters', new IssueList())) {
    const bloom = compileBloom(b, new IssueList());
    if (bloom) out.set(b.name, bloom);
  }
  return out;
}
