/**
 * What `PROVIDER_CONFIGURATION_CHANGED` compares between two states, computed where the state
 * is parsed (on the loader's worker) so that the provider keeps a digest per flag rather than
 * the state's JSON. A flag's digest covers its JSON and the JSON and bitset of every segment
 * it reaches (its rules' segments and the segments their targeting refers to), allocations
 * as core holds them; `global`
 * covers what can change any flag: the account, clients, credentials and bloom filters.
 */
import { createHash } from 'node:crypto';

import type { CompiledFlag, CompiledSegment, ResolverState } from '@allot/core';

import type { StateDelta } from '../sources/state-delta.js';

export interface StateFingerprints {
  /** Digest of the account, clients, credentials and bloom filters. */
  readonly global: string;
  /** By flag name (`flags/x`): digest of the flag and the segments it reaches. */
  readonly flags: ReadonlyMap<string, string>;
  /** By segment name (`segments/x`): digest of its JSON and its allocation. */
  readonly segments: ReadonlyMap<string, string>;
}

type Json = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function digest(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part).update('\u0000');
  return hash.digest('base64');
}

/**
 * A segment's allocation as core holds it, not as the JSON wrote it: the same buckets
 * gzipped differently are the same allocation: a set's bytes (`CompactBitset.bytes`, a view,
 * nothing copied) are a function of its members.
 */
function allocation(segment: CompiledSegment): Uint8Array | string {
  if (segment.bitset === null) return 'all';
  return segment.bitset.bytes;
}

/** The JSON of each item of a map-shaped or list-shaped part, by name. */
function byName(value: unknown, nameField: string): Map<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(value)) {
    for (const item of value)
      if (isRecord(item) && typeof item[nameField] === 'string')
        out.set(item[nameField], JSON.stringify(item));
  } else if (isRecord(value)) {
    for (const [name, item] of Object.entries(value)) out.set(name, JSON.stringify(item));
  }
  return out;
}

/** Fingerprints of a loaded state, from the resolver-state JSON it was loaded from. */
export function fingerprintsOf(json: unknown, state: ResolverState): StateFingerprints {
  const root = isRecord(json) ? json : {};
  const proto = Array.isArray(root.flags) || root.segmentsNoBitsets !== undefined;
  const flagJson = byName(root.flags, 'name');
  const segmentJson = byName(proto ? root.segmentsNoBitsets : root.segments, 'name');
  const segments = new Map<string, string>();
  for (const [name, segment] of state.segments)
    segments.set(name, segmentDigest(segmentJson.get(name) ?? '', segment));
  const flags = new Map<string, string>();
  for (const [name, flag] of state.flags)
    flags.set(name, flagDigest(flagJson.get(name) ?? '', flag, state, segments));
  return { global: globalDigest(root), flags, segments };
}

/** Members of the state JSON whose entries feed `global`. */
const GLOBAL_MEMBERS: ReadonlySet<string> = new Set([
  'account',
  'clients',
  'clientCredentials',
  'bloomFilters',
]);
/** Members a delta may change entry by entry while the fingerprints follow only those entries. */
const ENTRY_MEMBERS: ReadonlySet<string> = new Set(['flags', 'segments', 'bitsets']);

/**
 * The fingerprints of the state `delta` made of the state `previous` describes: equal to
 * `fingerprintsOf(json, state)`, but digesting only what the delta touched (the flags it sets
 * or removes, the segments whose JSON or allocation it changes, and the flags that reach those
 * segments), so that a watching provider's cost per revision follows the change. A delta that
 * replaces flags, segments or bitsets whole, or touches a member this does not know, is
 * digested whole. `FingerprintsAfterDelta` does the same in slices.
 */
export function fingerprintsAfter(
  previous: StateFingerprints,
  delta: StateDelta,
  json: unknown,
  state: ResolverState,
  /** The state `previous` describes, which `state` was loaded from with core's `validateDelta`. */
  previousState: ResolverState,
): StateFingerprints {
  const steps = fingerprintSteps(previous, delta, json, state, previousState);
  let next = steps.next();
  while (next.done !== true) next = steps.next();
  return next.value;
}

/**
 * Makes `fingerprintsAfter`'s fingerprints in slices (`step`), letting the event loop run
 * between them: at 10,000 segments copying the digests of every segment and flag alone takes
 * milliseconds.
 */
export class FingerprintsAfterDelta {
  private readonly steps: Generator<void, StateFingerprints, void>;
  private fingerprints: StateFingerprints | null = null;

  constructor(
    previous: StateFingerprints,
    delta: StateDelta,
    json: unknown,
    state: ResolverState,
    /** The state `previous` describes, which `state` was loaded from with core's `validateDelta`. */
    previousState: ResolverState,
  ) {
    this.steps = fingerprintSteps(previous, delta, json, state, previousState);
  }

  /** Works for about `budgetMs` (at least one item); true once the fingerprints are made. */
  step(budgetMs: number): boolean {
    const deadline = performance.now() + budgetMs;
    while (this.fingerprints === null) {
      const next = this.steps.next();
      if (next.done === true) this.fingerprints = next.value;
      else if (performance.now() >= deadline) break;
    }
    return this.fingerprints !== null;
  }

  /** The fingerprints, once `step` has returned true. */
  result(): StateFingerprints {
    if (this.fingerprints === null)
      throw new Error('FingerprintsAfterDelta: result() before step() returned true');
    return this.fingerprints;
  }
}

/** Entries of a map copy between two pauses. */
const COPY_CHUNK = 1024;
/** Flags compared with the previous state's between two pauses. */
const SCAN_CHUNK = 512;

/**
 * The work of `fingerprintsAfter`, pausing (`yield`) after each digest and every chunk of a
 * pass over every segment or flag. A delta digested whole is digested in one item.
 */
function* fingerprintSteps(
  previous: StateFingerprints,
  delta: StateDelta,
  json: unknown,
  state: ResolverState,
  previousState: ResolverState,
): Generator<void, StateFingerprints, void> {
  const root = isRecord(json) ? json : {};
  const touched = new Map<string, Set<string>>();
  let globalTouched = false;
  for (const key of Object.keys(delta.replace ?? {})) {
    if (!GLOBAL_MEMBERS.has(key)) return fingerprintsOf(json, state);
    globalTouched = true;
  }
  for (const [key, names] of [
    ...Object.entries(delta.set ?? {}).map(([k, v]) => [k, Object.keys(v)] as const),
    ...Object.entries(delta.remove ?? {}),
  ]) {
    if (GLOBAL_MEMBERS.has(key)) globalTouched = true;
    else if (!ENTRY_MEMBERS.has(key)) return fingerprintsOf(json, state);
    else {
      let set = touched.get(key);
      if (set === undefined) touched.set(key, (set = new Set()));
      for (const name of names) set.add(name);
    }
  }
  if (Array.isArray(root.flags) || root.segmentsNoBitsets !== undefined)
    return fingerprintsOf(json, state);
  const segmentEntries = isRecord(root.segments) ? root.segments : {};
  const flagEntries = isRecord(root.flags) ? root.flags : {};
  const segmentNames = [...(touched.get('segments') ?? []), ...(touched.get('bitsets') ?? [])];
  const segments = segmentNames.length === 0 ? previous.segments : yield* copyOf(previous.segments);
  const changedSegments = new Set<string>();
  for (const name of segmentNames) {
    if (changedSegments.has(name)) continue;
    const segment = state.segments.get(name);
    const was = segments.get(name);
    const now =
      segment === undefined ? undefined : segmentDigest(entryJson(segmentEntries, name), segment);
    yield;
    if (now === was) continue;
    if (now === undefined) (segments as Map<string, string>).delete(name);
    else (segments as Map<string, string>).set(name, now);
    changedSegments.add(name);
  }
  // Copied and changed where the delta reaches: the flags it sets or removes, and the flags
  // that reach a segment whose digest changed. Core compiles each of those anew (a compiled
  // flag points at the compiled segments it reaches), so they are among the flags that are not
  // the previous state's own objects: comparing identities finds them without walking every
  // flag's segments.
  const fresh = new Set(touched.get('flags'));
  if (changedSegments.size > 0) {
    let scanned = 0;
    for (const [name, flag] of state.flags) {
      if (previousState.flags.get(name) !== flag) fresh.add(name);
      if (++scanned % SCAN_CHUNK === 0) yield;
    }
  }
  const flags = yield* copyOf(previous.flags);
  const changed: string[] = [];
  for (const name of fresh) {
    const flag = state.flags.get(name);
    const now =
      flag === undefined
        ? undefined
        : flagDigest(entryJson(flagEntries, name), flag, state, segments);
    yield;
    if (now === flags.get(name)) continue;
    if (now === undefined) flags.delete(name);
    else flags.set(name, now);
    changed.push(name);
  }
  const global = globalTouched ? globalDigest(root) : previous.global;
  const after: StateFingerprints = { global, flags, segments };
  if (global === previous.global)
    changes.set(after, { since: new WeakRef(previous), flags: changed.sort() });
  return after;
}

/** A copy of `map`, in its order, pausing every COPY_CHUNK entries. */
function* copyOf<K, V>(map: ReadonlyMap<K, V>): Generator<void, Map<K, V>, void> {
  const out = new Map<K, V>();
  for (const [key, value] of map) {
    out.set(key, value);
    if (out.size % COPY_CHUNK === 0) yield;
  }
  return out;
}

/** The flags `fingerprintsAfter` found changed, by the fingerprints it made, and those it started from. */
const changes = new WeakMap<
  StateFingerprints,
  { readonly since: WeakRef<StateFingerprints>; readonly flags: readonly string[] }
>();

/**
 * The names of the flags whose digest differs between `before` and `after` (sorted), when
 * `fingerprintsAfter` made `after` from `before` and the global digest is the same; else null
 * (compare the fingerprints).
 */
export function changesSince(
  before: StateFingerprints,
  after: StateFingerprints,
): readonly string[] | null {
  const known = changes.get(after);
  return known !== undefined && known.since.deref() === before ? known.flags : null;
}

/** An entry's JSON as `byName` writes it ('' when absent). */
function entryJson(entries: Json, name: string): string {
  return entries[name] === undefined ? '' : JSON.stringify(entries[name]);
}

function segmentDigest(json: string, segment: CompiledSegment): string {
  return digest(json, String(segment.allSet), allocation(segment));
}

/** Digest of a flag's JSON with the name and digest of every segment it reaches. */
function flagDigest(
  json: string,
  flag: CompiledFlag,
  state: ResolverState,
  segments: ReadonlyMap<string, string>,
): string {
  const parts = [json];
  const seen = new Set<string>();
  const visit = (segment: string): void => {
    if (seen.has(segment)) return;
    seen.add(segment);
    parts.push(segment, segments.get(segment) ?? '');
    for (const ref of state.segments.get(segment)?.references ?? []) visit(ref);
  };
  for (const rule of flag.rules) visit(rule.segmentName);
  return digest(...parts);
}

function globalDigest(root: Json): string {
  return digest(
    JSON.stringify([
      root.account ?? null,
      root.clients ?? null,
      root.clientCredentials ?? null,
      root.bloomFilters ?? null,
    ]),
  );
}

/**
 * Fingerprints as they cross from the loader's worker: every name and digest in one string.
 * Maps posted as they are were rebuilt entry by entry (24,000 strings, 12,000 `Map.set`s at
 * 10,000 segments) in the native turn that received the worker's answer; one string arrives
 * as one copy, and `FingerprintsReader` makes the maps in slices.
 */
export interface FingerprintsData {
  readonly global: string;
  /** Each segment's name and digest, then each flag's, one after another. */
  readonly text: string;
  /** Per entry, the index in `text` where its name ends, then where its digest ends. */
  readonly ends: Uint32Array;
  /** How many of the entries are segments (the rest are flags). */
  readonly segments: number;
}

/** `fingerprints` as `FingerprintsData`, with the buffer to transfer. */
export function fingerprintsData(fingerprints: StateFingerprints): {
  data: FingerprintsData;
  transfer: ArrayBuffer[];
} {
  const parts: string[] = [];
  const ends = new Uint32Array(2 * (fingerprints.segments.size + fingerprints.flags.size));
  let at = 0;
  let i = 0;
  for (const entries of [fingerprints.segments, fingerprints.flags]) {
    for (const [name, d] of entries) {
      parts.push(name, d);
      ends[i++] = at += name.length;
      ends[i++] = at += d.length;
    }
  }
  return {
    data: {
      global: fingerprints.global,
      text: parts.join(''),
      ends,
      segments: fingerprints.segments.size,
    },
    transfer: [ends.buffer],
  };
}

/** Makes the fingerprints of a `FingerprintsData` in slices (`step`), letting the event loop run between them. */
export class FingerprintsReader {
  private readonly segments = new Map<string, string>();
  private readonly flags = new Map<string, string>();
  private next = 0;
  private at = 0;

  constructor(private readonly data: FingerprintsData) {}

  /** Reads entries for about `budgetMs`; true once every entry is read. */
  step(budgetMs: number): boolean {
    const { text, ends, segments } = this.data;
    const n = ends.length >>> 1;
    const deadline = performance.now() + budgetMs;
    while (this.next < n) {
      const nameEnd = ends[2 * this.next]!;
      const end = ends[2 * this.next + 1]!;
      const into = this.next < segments ? this.segments : this.flags;
      into.set(text.slice(this.at, nameEnd), text.slice(nameEnd, end));
      this.at = end;
      this.next++;
      if ((this.next & 255) === 0 && performance.now() >= deadline) break;
    }
    return this.next === n;
  }

  /** The fingerprints, once `step` has returned true. */
  result(): StateFingerprints {
    if (this.next !== this.data.ends.length >>> 1)
      throw new Error('FingerprintsReader: result() before every entry was read');
    return { global: this.data.global, flags: this.flags, segments: this.segments };
  }
}
