/**
 * Loading a state in two halves, for hosts that must not block their thread: `prepareState`
 * validates and compiles the whole state (on a worker thread, say) and returns a *prepared*
 * form that is cheap to move between threads: the JSON of every flag and segment as UTF-8 in
 * one transferable buffer, and every bitset packed in another (`CompactBitset.toTransfer`). `StateAssembler` builds the `ResolverState` from it in
 * steps of bounded time, so the receiving thread can yield between them. The state it
 * finishes with answers exactly as `loadState`'s would (prepare.test.ts).
 *
 * A compiled state itself cannot cross threads: it is a graph of closures, and a structured
 * clone of a large object graph is decoded in one synchronous go on the receiving side.
 */
import { StateError } from '../errors.js';
import { HashPrefix } from '../hash/bucket.js';
import { specializeFlag } from '../resolve/specialize.js';
import type { StateIssue } from '../types.js';
import { CompactBitset, type BitsetTransfer } from './bitset.js';
import { BloomFilter } from './bloom.js';
import { deferFlag, type CompiledFlag, type DeferredFlags } from './flags.js';
import { entriesOf, isObject, IssueList, keyPath, own, type JsonObject } from './json-input.js';
import { markCycle, reachableMaterializations, SPECIALIZE_AFTER, validateState, type LoadOptions } from './load.js';
import { ResolverState, type CompiledClient } from './resolver-state.js';
import { CompiledSegment, collectReferences, compileTargeting, type TargetingNode } from './segments.js';


/** A validated state in a form that structured-clones cheaply: strings, plain records and bytes. */
export interface PreparedState {
  readonly accountId: string;
  /** Loaded from the proto-JSON shape (a flag without `state` is archived there). */
  readonly proto: boolean;
  readonly targetingKeyAlias: string;
  readonly specialize: 'hot' | 'all' | 'none';
  /**
   * Every flag's name and JSON, then every segment's name and `targeting` (empty for none), as
   * JSON in UTF-8, one after another: bytes in a transferred buffer arrive in O(1), where a
   * string (one, or thousands of small ones) is copied or decoded in the receiving thread's
   * turn; each piece is decoded when it is assembled.
   */
  readonly utf8: Uint8Array;
  /** Per flag, where in `utf8` its name and its JSON end (each piece starts where the last ended). */
  readonly flagEnds: Uint32Array;
  /** Per segment, where in `utf8` its name and its targeting end (after the flags). */
  readonly segmentEnds: Uint32Array;
  /** Per segment, the index of its bitset in `bitsets`; -1 for none ("every bucket") or a held one. */
  readonly segmentBitsets: Int32Array;
  /**
   * Per segment, the index of its bitset in the list of sets the assembling side holds (the
   * `held` given to `StateAssembler`; see `PrepareOptions.heldBitset`), or -1.
   */
  readonly segmentHeldBitsets: Int32Array;
  /** Per segment, 1 when every bit its input held was set. */
  readonly segmentAllSet: Uint8Array;
  /** The segments' bitsets in one buffer: transfer `bitsets.buffer`. */
  readonly bitsets: BitsetTransfer;
  /** Each bloom filter's JSON (`data`, `hashFunctionCount`), validated. */
  readonly bloomFilters: readonly { readonly name: string; readonly json: string }[];
  readonly clients: readonly { readonly name: string; readonly secret: string; readonly credential: string; readonly environments: readonly string[] }[];
}

/** `prepareState`'s options: `loadState`'s, and what the assembling side already holds. */
export interface PrepareOptions extends LoadOptions {
  /**
   * The index of a set with `set`'s buckets in the list the assembling side will pass to
   * `StateAssembler` as `held`, or -1 when it holds none. A held set is not packed, and the
   * assembled state shares the one it was given: a reload that changed a few segments moves
   * their bitsets only, not every one again (the provider's loader: 33 MB at 10,000 segments).
   */
  readonly heldBitset?: (set: CompactBitset) => number;
}

export type PrepareResult =
  | {
      readonly ok: true;
      readonly prepared: PreparedState;
      /** The buffers to transfer (`postMessage(prepared, transfer)`) rather than copy. */
      readonly transfer: readonly ArrayBuffer[];
      /** The state `validateState` compiled on the way. */
      readonly state: ResolverState;
    }
  | { readonly ok: false; readonly issues: readonly StateIssue[] };

/**
 * Validates `input` exactly as `validateState` does (same issues, same paths) and returns the
 * prepared form of a good state, with the state it compiled on the way (the prepared form
 * holds copies of its bitsets, packed).
 */
export function prepareState(input: unknown, options: PrepareOptions = {}): PrepareResult {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch {
      return validateState(input, options) as PrepareResult; // reports the parse error
    }
  }
  const result = validateState(json, options);
  if (!result.ok) return result;
  const state = result.state;
  const root = json as JsonObject;
  const proto = Array.isArray(own(root, 'flags')) || own(root, 'segmentsNoBitsets') !== undefined;
  const flagsRaw = rawByName(own(root, 'flags'), 'name');
  const segmentsRaw = rawByName(own(root, proto ? 'segmentsNoBitsets' : 'segments'), 'name');
  const bloomRaw = rawByName(own(root, 'bloomFilters'), 'materializedSegment');
  const pieces: string[] = [];
  let length = 0;
  const piece = (text: string): number => {
    pieces.push(text);
    return (length += Buffer.byteLength(text));
  };
  const flagEnds = new Uint32Array(2 * state.flags.size);
  let f = 0;
  for (const name of state.flags.keys()) {
    flagEnds[f++] = piece(JSON.stringify(name));
    flagEnds[f++] = piece(JSON.stringify(flagsRaw.get(name)));
  }
  const n = state.segments.size;
  const segmentEnds = new Uint32Array(2 * n);
  const segmentBitsets = new Int32Array(n);
  const segmentHeldBitsets = new Int32Array(n);
  const heldBitset = options.heldBitset ?? ((): number => -1);
  const segmentAllSet = new Uint8Array(n);
  const sets: CompactBitset[] = [];
  let i = 0;
  for (const seg of state.segments.values()) {
    const raw = segmentsRaw.get(seg.name);
    const targeting = isObject(raw) ? own(raw, 'targeting') : undefined;
    segmentEnds[2 * i] = piece(JSON.stringify(seg.name));
    segmentEnds[2 * i + 1] = piece(targeting === undefined || targeting === null ? '' : JSON.stringify(targeting));
    const held = seg.bitset === null ? -1 : heldBitset(seg.bitset);
    segmentHeldBitsets[i] = held;
    segmentBitsets[i] = seg.bitset === null || held >= 0 ? -1 : sets.push(seg.bitset) - 1;
    segmentAllSet[i] = seg.allSet ? 1 : 0;
    i++;
  }
  const bitsets = CompactBitset.toTransfer(sets);
  const prepared: PreparedState = {
    accountId: state.accountId,
    proto,
    targetingKeyAlias: options.targetingKeyAlias ?? '',
    specialize: options.specialize ?? 'hot',
    utf8: utf8Of(pieces, length),
    flagEnds,
    segmentEnds,
    segmentBitsets,
    segmentHeldBitsets,
    segmentAllSet,
    bitsets,
    bloomFilters: [...bloomRaw].map(([name, raw]) => ({ name, json: JSON.stringify(raw) })),
    clients: [...state.clients.values()].map((c) => ({ name: c.name, secret: c.secret, credential: c.credential, environments: [...c.environments] })),
  };
  const transfer = [prepared.utf8.buffer, bitsets.buffer, bitsets.offsets.buffer, flagEnds.buffer, segmentEnds.buffer, segmentBitsets.buffer, segmentHeldBitsets.buffer, segmentAllSet.buffer] as ArrayBuffer[];
  return { ok: true, prepared, transfer, state };
}

/** `pieces` in UTF-8, one after another, in a buffer of its own (`byteLength` bytes in all). */
function utf8Of(pieces: readonly string[], byteLength: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(byteLength));
  const encoder = new TextEncoder();
  let at = 0;
  for (const piece of pieces) at += encoder.encodeInto(piece, out.subarray(at)).written;
  return out;
}

const decoder = new TextDecoder();

/** The JSON value of `utf8`'s bytes from `start` to `end`. */
function parsePiece(utf8: Uint8Array, start: number, end: number): unknown {
  return JSON.parse(decoder.decode(utf8.subarray(start, end)));
}

/** The items of a map-shaped or list-shaped part by name (a list names them by `nameField`). */
function rawByName(part: unknown, nameField: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (Array.isArray(part)) {
    for (const item of part as unknown[]) if (isObject(item) && typeof own(item, nameField) === 'string') out.set(own(item, nameField) as string, item);
  } else if (isObject(part)) {
    for (const [name, raw] of entriesOf(part)) out.set(name, raw);
  }
  return out;
}

/**
 * A state an assembly may take compiled segments and flags from (`StateAssembler`'s `reuse`):
 * the one it replaces, say. What the caller vouches for is said per entry; the assembler
 * takes a segment only if every segment it reaches is taken too, and a flag only if every
 * segment its rules name is, so the state it builds refers only to its own segments.
 */
export interface ReusableState {
  /**
   * Loaded with the same bloom filters as the prepared state (the caller vouches for that).
   * Nothing is taken from it if its account, targeting key alias, shape (proto or not) or
   * `specialize` option differ from the prepared state's.
   */
  readonly previous: ResolverState;
  /** Whether segment `name` is in the prepared state with the JSON and bitset it had in `previous`. */
  readonly segmentUnchanged: (name: string) => boolean;
  /** Whether flag `name` is in the prepared state with the JSON it had in `previous`. */
  readonly flagUnchanged: (name: string) => boolean;
}

/** A segment's compiled targeting, shared by segments whose targeting has the same JSON. */
interface CompiledTargeting {
  readonly tree: TargetingNode | null;
  readonly mats: ReadonlySet<string>;
}

/**
 * Distinct targeting texts remembered at a time: enough for the audiences a state repeats,
 * few enough that a state of all-distinct targeting does not keep thousands alive as it loads.
 */
const SHARED_TARGETINGS = 256;

/** The assembly's phases, in order. */
type Phase = 'names' | 'segments' | 'blooms' | 'cycles' | 'targeting' | 'materializations' | 'flags' | 'specialize' | 'done';

/**
 * Builds a `ResolverState` from a prepared one in bounded steps: `step(budgetMs)` does at
 * least one item of work and stops once `budgetMs` has passed; `finish()` returns the state.
 * Each step is pure and synchronous; between steps the caller may yield.
 *
 * ```ts
 * const assembler = new StateAssembler(prepared);
 * while (!assembler.step(4)) await new Promise((r) => setImmediate(r));
 * const state = assembler.finish();
 * ```
 */
export class StateAssembler {
  private phase: Phase = 'names';
  private next = 0;
  private readonly salt: HashPrefix;
  private readonly segments = new Map<string, CompiledSegment>();
  private readonly segmentNames: string[] = [];
  private readonly flagNames: string[] = [];
  private readonly direct = new Map<string, ReadonlySet<string>>();
  private readonly directOf = (name: string): Iterable<string> => this.direct.get(name) ?? this.directOfTaken(name);
  private readonly bloomFilters = new Map<string, BloomFilter>();
  private readonly flags = new Map<string, CompiledFlag>();
  /** Flags taken from `reuse`'s state (compiled, or deferred again). */
  private takenFlags = 0;
  /** What the flags are compiled from on first use: the prepared form's JSON. */
  private deferred: DeferredFlags | null = null;
  private readonly issues = new IssueList();
  /**
   * Compiled targeting by its JSON, for segments whose targeting is the same text (a large
   * state often repeats a few audiences): they share one tree and its closures, where each
   * would make its own (nodes, rules, shapes: several objects) for every scavenge to copy.
   */
  private readonly compiledTargeting = new Map<string, CompiledTargeting>();
  private readonly readBitset: (i: number) => CompactBitset;
  private state: ResolverState | null = null;
  /** Where compiled parts may be taken from; null: compile everything. */
  private readonly reuse: ReusableState | null;
  /** Per segment name, whether the previous state's segment is taken (see `takenSegment`). */
  private readonly takeable = new Map<string, boolean>();
  /**
   * The segments whose bitset the prepared form packed (with `reuse`): the sender did not find
   * it among the sets this side holds, so the segment is compiled with it, never taken.
   */
  private readonly sent = new Set<string>();
  /** The index of each taken segment that reads materializations (its targeting is read again for them). */
  private readonly takenIndex = new Map<string, number>();

  /**
   * `held`: the sets the prepared form names by index (`segmentHeldBitsets`), the list whose
   * indices `PrepareOptions.heldBitset` answered with; the state shares them. `reuse`: a state
   * to take unchanged compiled segments and flags from (their specialized code and results
   * too), rather than compiling them again.
   */
  constructor(
    private readonly prepared: PreparedState,
    private readonly held: readonly CompactBitset[] = [],
    reuse: ReusableState | null = null,
  ) {
    const previous = reuse?.previous;
    this.reuse =
      previous !== undefined &&
      previous.accountId === prepared.accountId &&
      previous.targetingKeyAlias === prepared.targetingKeyAlias &&
      previous.proto === prepared.proto &&
      previous.specialize === prepared.specialize
        ? reuse
        : null;
    // Taken segments keep the salt they were compiled with: the state shares it.
    this.salt = this.reuse?.previous.salt ?? new HashPrefix(`MegaSalt-${prepared.accountId}|`);
    this.readBitset = CompactBitset.readTransfer(prepared.bitsets);
  }

  /** How many segments and flags were taken from `reuse`'s state, once `step` has returned true. */
  get taken(): { readonly segments: number; readonly flags: number } {
    let segments = 0;
    const previous = this.reuse?.previous;
    if (previous !== undefined) {
      for (const [name, seg] of this.segments) if (previous.segments.get(name) === seg) segments++;
    }
    return { segments, flags: this.takenFlags };
  }

  /** Works for about `budgetMs` (at least one item); true once `finish` can be called. */
  step(budgetMs: number): boolean {
    const until = performance.now() + budgetMs;
    while (!this.done()) {
      this.work();
      if (performance.now() >= until) break;
    }
    return this.done();
  }

  private done(): boolean {
    return this.phase === 'done';
  }

  /** The assembled state; throws `StateError` if the prepared form was not `prepareState`'s. */
  finish(): ResolverState {
    while (!this.step(Infinity));
    if (this.issues.items.length > 0) throw new StateError(this.issues.items);
    return this.state!;
  }

  /** One item of the current phase. */
  private work(): void {
    const p = this.prepared;
    const i = this.next++;
    switch (this.phase) {
      case 'names': {
        if (i >= p.segmentBitsets.length) {
          this.advance('segments');
          return;
        }
        const start = i === 0 ? this.flagsEnd() : p.segmentEnds[2 * i - 1]!;
        const name = parsePiece(p.utf8, start, p.segmentEnds[2 * i]!) as string;
        this.segmentNames.push(name);
        if (this.reuse !== null && p.segmentBitsets[i]! >= 0) this.sent.add(name);
        return;
      }
      case 'segments': {
        const name = this.segmentNames[i];
        if (name === undefined) {
          this.advance(p.bloomFilters.length === 0 ? 'cycles' : 'blooms');
          return;
        }
        const taken = this.takenSegment(name);
        if (taken !== undefined) {
          this.segments.set(name, taken);
          if (taken.materializations.length > 0) this.takenIndex.set(name, i);
          return;
        }
        const seg = new CompiledSegment(name, this.salt);
        seg.references = collectReferences(this.targetingOf(i));
        const b = p.segmentBitsets[i]!;
        const h = p.segmentHeldBitsets[i]!;
        // A held set, or a view of the one transferred buffer (nothing is copied), checked one set at a time.
        seg.bitset = h >= 0 ? this.heldBitset(h, name) : b < 0 ? null : this.readBitset(b);
        seg.allSet = seg.bitset === null || p.segmentAllSet[i] === 1;
        this.segments.set(name, seg);
        return;
      }
      case 'blooms': {
        const b = p.bloomFilters[i];
        if (b === undefined) {
          this.advance('cycles');
          return;
        }
        const raw = JSON.parse(b.json) as { data: string; hashFunctionCount: number };
        this.bloomFilters.set(b.name, new BloomFilter(Buffer.from(raw.data, 'base64'), raw.hashFunctionCount));
        return;
      }
      case 'cycles': {
        const s = this.segmentNames[i];
        if (s === undefined) {
          this.advance('targeting');
          return;
        }
        const seg = this.segments.get(s)!;
        if (!this.isTaken(seg)) markCycle(seg, this.segments);
        return;
      }
      case 'targeting': {
        const s = this.segmentNames[i];
        if (s === undefined) {
          this.advance('materializations');
          return;
        }
        const seg = this.segments.get(s)!;
        if (this.isTaken(seg)) return;
        const text = this.targetingText(i);
        let compiled = this.compiledTargeting.get(text);
        if (compiled === undefined) {
          const mats = new Set<string>();
          const scope = { segments: this.segments, bloomFilters: this.bloomFilters, targetingKeyAlias: p.targetingKeyAlias };
          const issues = this.issues.items.length;
          const tree = compileTargeting(seg, text === '' ? undefined : JSON.parse(text), keyPath(keyPath('segments', s), 'targeting'), scope, this.issues, mats);
          compiled = { tree, mats };
          // Shared only when clean: another segment's issues would name its own path.
          if (this.issues.items.length === issues) {
            if (this.compiledTargeting.size >= SHARED_TARGETINGS) this.compiledTargeting.clear();
            this.compiledTargeting.set(text, compiled);
          }
        }
        seg.setTargeting(compiled.tree);
        // Only the few sets with members are kept: they live until the assembly ends.
        if (compiled.mats.size > 0) this.direct.set(s, compiled.mats);
        return;
      }
      case 'materializations': {
        const s = this.segmentNames[i];
        if (s === undefined) {
          this.advance('flags');
          return;
        }
        const seg = this.segments.get(s)!;
        if (!this.isTaken(seg)) seg.materializations = reachableMaterializations(seg.name, this.segments, this.directOf);
        return;
      }
      case 'flags': {
        if (2 * i >= p.flagEnds.length) {
          this.advance(p.specialize === 'all' ? 'specialize' : 'done');
          return;
        }
        const name = parsePiece(p.utf8, i === 0 ? 0 : p.flagEnds[2 * i - 1]!, p.flagEnds[2 * i]!) as string;
        const start = p.flagEnds[2 * i]!;
        const end = p.flagEnds[2 * i + 1]!;
        // Validated with these segments by `prepareState`: its rules are compiled on first use.
        this.deferred ??= { utf8: p.utf8, targetingKeyAlias: p.targetingKeyAlias, absentIsActive: !p.proto };
        const taken = this.takenFlag(name, start, end);
        if (taken !== undefined) {
          this.flags.set(name, taken);
          this.flagNames.push(name);
          return;
        }
        const json = parsePiece(p.utf8, start, end);
        const flag = deferFlag(name, json, keyPath('flags', name), this.segments, this.issues, this.deferred, start, end);
        if (flag === undefined) return;
        this.flags.set(name, flag);
        this.flagNames.push(name);
        if (!flag.archived && p.specialize === 'hot') flag.resolvesUntilSpecialized = SPECIALIZE_AFTER;
        return;
      }
      case 'specialize': {
        const f = this.flagNames[i];
        if (f === undefined) {
          this.advance('done');
          return;
        }
        const flag = this.flags.get(f);
        if (flag !== undefined && !flag.archived && flag.program === null) flag.program = specializeFlag(flag, p.targetingKeyAlias);
        return;
      }
      case 'done':
        return;
    }
  }

  /**
   * The previous state's segment `name`, if it is taken: unchanged, its bitset not sent anew,
   * on no cycle, and reaching only segments that are taken too (decided once per name, depth
   * first without recursion).
   */
  private takenSegment(name: string): CompiledSegment | undefined {
    const reuse = this.reuse;
    if (reuse === null) return undefined;
    const decided = this.takeable;
    const stack = [name];
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!;
      if (decided.has(n)) {
        stack.pop();
        continue;
      }
      const was = reuse.previous.segments.get(n);
      if (was === undefined || was.inCycle || this.sent.has(n) || !reuse.segmentUnchanged(n)) {
        decided.set(n, false);
        stack.pop();
        continue;
      }
      // Not on a cycle, so no segment it reaches is waiting on it below in the stack.
      const before = stack.length;
      for (const r of was.references) if (!decided.has(r)) stack.push(r);
      if (stack.length > before) continue;
      decided.set(n, was.references.every((r) => decided.get(r) === true));
      stack.pop();
    }
    return decided.get(name) === true ? reuse.previous.segments.get(name) : undefined;
  }

  /**
   * The previous state's flag `name`, if it is taken: unchanged, and every segment its rules
   * name taken. A compiled flag is taken as it is; one still deferred is deferred again from
   * this state's copy of its JSON (at `start`..`end`), so that it does not keep the previous
   * state's JSON alive.
   */
  private takenFlag(name: string, start: number, end: number): CompiledFlag | undefined {
    const reuse = this.reuse;
    if (reuse === null || !reuse.flagUnchanged(name)) return undefined;
    const was = reuse.previous.flags.get(name);
    if (was === undefined) return undefined;
    const refs = was.segmentRefs;
    if (refs === null) {
      for (const rule of was.rules) if (rule.segment === null || this.segments.get(rule.segmentName) !== rule.segment) return undefined;
      this.takenFlags++;
      return was;
    }
    for (const ref of refs) if (typeof ref === 'string' || this.segments.get(ref.name) !== ref) return undefined;
    this.takenFlags++;
    return was.redeferred(this.deferred!, start, end)!;
  }

  private isTaken(seg: CompiledSegment): boolean {
    return this.reuse !== null && this.reuse.previous.segments.get(seg.name) === seg;
  }

  /**
   * The materializations a taken segment's own criteria read, for a compiled segment that
   * reaches it: its targeting is compiled again (and discarded) to list them. Only for taken
   * segments that read some (`takenIndex`); their own list is transitive.
   */
  private directOfTaken(name: string): ReadonlySet<string> {
    const i = this.takenIndex.get(name);
    const mats = new Set<string>();
    if (i !== undefined) {
      const scope = { segments: this.segments, bloomFilters: this.bloomFilters, targetingKeyAlias: this.prepared.targetingKeyAlias };
      compileTargeting(this.segments.get(name)!, this.targetingOf(i), '', scope, new IssueList(), mats);
    }
    this.direct.set(name, mats);
    return mats;
  }

  /**
   * Segment i's targeting JSON, parsed again each time it is needed (for its references, then
   * to compile it): parsed once and kept between the two phases, 10,000 of them would survive
   * every scavenge in between, each copied, for nothing but to die when the assembly ends.
   */
  private targetingOf(i: number): unknown {
    const text = this.targetingText(i);
    return text === '' ? undefined : JSON.parse(text);
  }

  /** Segment i's targeting as JSON text (empty for none). */
  private targetingText(i: number): string {
    const ends = this.prepared.segmentEnds;
    return decoder.decode(this.prepared.utf8.subarray(ends[2 * i], ends[2 * i + 1]));
  }

  private heldBitset(h: number, segment: string): CompactBitset {
    const set = this.held[h];
    if (set === undefined) throw new RangeError(`${segment}: its bitset is held set ${h}, but the assembler was given ${this.held.length} held sets`);
    return set;
  }

  /** Where the flags' pieces of `utf8` end and the segments' begin. */
  private flagsEnd(): number {
    const ends = this.prepared.flagEnds;
    return ends.length === 0 ? 0 : ends[ends.length - 1]!;
  }

  private advance(phase: Phase): void {
    this.phase = phase;
    this.next = 0;
    if (phase !== 'done') return;
    const clients = new Map<string, CompiledClient>();
    for (const c of this.prepared.clients) {
      clients.set(c.secret, Object.freeze({ name: c.name, secret: c.secret, credential: c.credential, environments: new Set(c.environments) }));
    }
    const state = new ResolverState(this.prepared.accountId, this.flags, this.segments, clients, this.salt);
    state.targetingKeyAlias = this.prepared.targetingKeyAlias;
    state.proto = this.prepared.proto;
    state.specialize = this.prepared.specialize;
    this.state = state;
  }
}

/** Assembles a prepared state in one go (small states, tests). */
export function assembleState(prepared: PreparedState): ResolverState {
  return new StateAssembler(prepared).finish();
}
