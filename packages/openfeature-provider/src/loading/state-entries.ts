/**
 * The JSON of the state a watch source applied, kept for the next delta without ever being
 * parsed whole on the application's thread. A 10,000-segment state is 25 MB of JSON: parsing
 * it here when the first delta arrives held the event loop 300 ms. Instead the loader's worker,
 * which parses the state anyway, writes every entry of `flags`, `segments` and `bitsets` as
 * JSON in UTF-8 into one transferred buffer (`entriesData`); this thread keeps the bytes and
 * parses an entry only when something reads it.
 *
 * `StateEntries` is immutable: `apply(delta)` returns the state the delta makes (sharing the
 * bytes, with the delta's entries beside them), and `json()` a read-only view of it that reads
 * as the plain JSON would (`applyDelta`'s result: same members, entries and entry order), so
 * core's `validateDelta` and the fingerprints read it unchanged. Reading one entry parses that
 * entry; enumerating a member (`Object.keys`, `JSON.stringify`) parses all of it, which only
 * the rare whole-state fallbacks do.
 *
 * A whole state that follows (a poll, a reset) mostly repeats the entries held here: its
 * request offers their digests (`StateEntries.offer`), and the worker sends only the entries
 * whose JSON is not among them. Sending them all again made 17.6 MB of new external memory
 * on this thread per reload at 10,000 segments, which V8 answered with collections of this
 * thread's isolate, as it did the bitsets (last-states.ts). Offered entries are taken from the
 * buffers that hold them, but only from buffers the new state reads at least half of: so
 * when a whole state is loaded, its buffers hold at most twice the bytes it reads. (Deltas
 * after it may leave less of them read, until the next whole state.)
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { SourceError } from '../sources/source-error.js';
import { ByteBlocks } from './byte-blocks.js';
import { DIGEST_BYTES, digestIndex } from './last-states.js';
import type { StateDelta } from '../sources/state-delta.js';

/** Members kept as bytes, entry by entry (when they are objects): the bulk of a state. */
const KEPT_MEMBERS: readonly string[] = ['flags', 'segments', 'bitsets'];

/** What the worker sends: a state's entries as bytes, and the rest of it as JSON text. Plain data and transferable buffers. */
export interface StateEntriesData {
  /** The top-level keys, in order. */
  readonly keys: readonly string[];
  /** The members other than the kept ones, as the JSON of an object. */
  readonly rest: string;
  /** The kept members: each one's key, how many entries it has and the JSON of their names (a list), in order. */
  readonly members: readonly { readonly key: string; readonly count: number; readonly names: string }[];
  /** The JSON of the kept entries sent (those the request did not offer), one after another. */
  readonly utf8: Uint8Array;
  /** Where every kept entry is, member after member. */
  readonly layout: EntryLayout;
  /** Per buffer `layout` names: -1 for `utf8`, else the index of the offered buffer it is (`HeldEntries.sizes`). */
  readonly buffers: Int32Array;
}

/**
 * Where entries' JSON is (per entry: its buffer, where it starts and ends there, and its
 * digest), as typed arrays that cross between threads.
 */
export interface EntryLayout {
  readonly buffer: Uint32Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  /** `DIGEST_BYTES` per entry: a digest of its JSON. */
  readonly digests: Uint8Array;
}

/** What a request for a whole state carries of the entries the application's thread holds (`StateEntries.offer`). */
export interface HeldEntries extends EntryLayout {
  /** Per buffer, its length in bytes. */
  readonly sizes: Float64Array;
  /** Per entry, 1 when the state no longer reads it (a delta removed it or set it anew). */
  readonly unused: Uint8Array;
}

/** A digest of an entry's JSON text: equal digests, equal bytes. */
function entryDigest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

type Json = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `state`'s entries as bytes (on the worker, which parsed it); null when it is not an object.
 * `held`: what the request offered (`StateEntries.offer`); entries whose JSON is among the
 * entries offered (`offeredEntries`) are not sent. Everything per entry is computed here, off
 * the application's thread: that thread only names the buffers (`StateEntries.of`).
 */
export function entriesData(state: unknown, held?: HeldEntries): { data: StateEntriesData; transfer: ArrayBuffer[] } | null {
  if (!isRecord(state)) return null;
  const offered = held === undefined ? null : offeredByDigest(held);
  const rest: Record<string, unknown> = {};
  const members: { key: string; count: number; names: string }[] = [];
  /** Every entry's JSON, in order. */
  const texts: string[] = [];
  /** Per entry: the offered entry it takes, or -1 (sent). */
  const taken: number[] = [];
  const digestList: Buffer[] = [];
  for (const [key, value] of Object.entries(state)) {
    if (!KEPT_MEMBERS.includes(key) || !isRecord(value)) {
      put(rest, key, value);
      continue;
    }
    const names = Object.keys(value);
    members.push({ key, count: names.length, names: JSON.stringify(names) });
    for (const name of names) {
      const text = JSON.stringify(value[name]);
      const digest = entryDigest(text);
      texts.push(text);
      digestList.push(digest);
      taken.push(offered?.get(digest.toString('base64')) ?? -1);
    }
  }
  if (offered !== null) sendFromBuffersBarelyRead(taken, held!);
  const pieces: string[] = [];
  /** Per entry: its index among the pieces sent, or -1 - j for the offered entry j. */
  const from: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    if (taken[i]! >= 0) from.push(-1 - taken[i]!);
    else from.push(pieces.push(texts[i]!) - 1);
  }
  const encoder = new TextEncoder();
  const sentEnds: number[] = [];
  let total = 0;
  for (const piece of pieces) sentEnds.push((total += Buffer.byteLength(piece)));
  const utf8 = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (const piece of pieces) at += encoder.encodeInto(piece, utf8.subarray(at)).written;
  const n = from.length;
  const layout: EntryLayout = { buffer: new Uint32Array(n), starts: new Uint32Array(n), ends: new Uint32Array(n), digests: new Uint8Array(n * DIGEST_BYTES) };
  // The buffers the entries are in, each once, in the order first used: -1 for `utf8`.
  const buffers: number[] = [];
  const bufferOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    layout.digests.set(digestList[i]!, i * DIGEST_BYTES);
    const f = from[i]!;
    const theirs = f >= 0 ? -1 : held!.buffer[-1 - f]!;
    let b = bufferOf.get(theirs);
    if (b === undefined) {
      b = buffers.push(theirs) - 1;
      bufferOf.set(theirs, b);
    }
    layout.buffer[i] = b;
    layout.starts[i] = f >= 0 ? (f === 0 ? 0 : sentEnds[f - 1]!) : held!.starts[-1 - f]!;
    layout.ends[i] = f >= 0 ? sentEnds[f]! : held!.ends[-1 - f]!;
  }
  const data: StateEntriesData = { keys: Object.keys(state), rest: JSON.stringify(rest), members, utf8, layout, buffers: Int32Array.from(buffers) };
  return {
    data,
    transfer: [utf8.buffer, layout.buffer.buffer, layout.starts.buffer, layout.ends.buffer, layout.digests.buffer, data.buffers.buffer] as ArrayBuffer[],
  };
}

/**
 * The entries `held` offers: those the state still reads (`unused` 0). Throws `RangeError`
 * when its arrays do not add up.
 */
export function offeredEntries(held: HeldEntries): number[] {
  const n = held.buffer.length;
  if (held.starts.length !== n || held.ends.length !== n || held.unused.length !== n || held.digests.length !== n * DIGEST_BYTES)
    throw new RangeError(`held entries: ${n} entries, but ${held.starts.length} starts, ${held.ends.length} ends, ${held.unused.length} flags and ${held.digests.length} digest bytes`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const size = held.sizes[held.buffer[i]!];
    if (size === undefined || held.starts[i]! > held.ends[i]! || held.ends[i]! > size)
      throw new RangeError(`held entries: entry ${i} is bytes ${held.starts[i]}..${held.ends[i]} of buffer ${held.buffer[i]}, of ${held.sizes.length} buffers (that one of ${size ?? 0} bytes)`);
    if (held.unused[i] === 0) out.push(i);
  }
  return out;
}

/**
 * The offered entries by their digest (base64); null when the offer does not add up. That
 * would be a bug of this package's: the state loads all the same, with every entry sent.
 */
function offeredByDigest(held: HeldEntries): Map<string, number> | null {
  let offered: number[];
  try {
    offered = offeredEntries(held);
  } catch {
    return null;
  }
  return digestIndex(held.digests, offered);
}

/**
 * Sends again (`taken[i]` = -1) the entries the new state would take from a buffer it reads
 * less than half of, each held entry counted once however many entries take it: the buffer
 * can then go with the state before. So when a whole state is loaded, every buffer it keeps
 * is at least half read by it: its buffers hold at most twice the bytes it reads.
 */
function sendFromBuffersBarelyRead(taken: number[], held: HeldEntries): void {
  const read = new Float64Array(held.sizes.length);
  const counted = new Set<number>();
  for (const j of taken) {
    if (j < 0 || counted.has(j)) continue;
    counted.add(j);
    read[held.buffer[j]!]! += held.ends[j]! - held.starts[j]!;
  }
  for (let i = 0; i < taken.length; i++) {
    const j = taken[i]!;
    if (j >= 0 && 2 * read[held.buffer[j]!]! < held.sizes[held.buffer[j]!]!) taken[i] = -1;
  }
}

/**
 * Every kept entry's JSON as UTF-8, with its digest, in order (member after member). The
 * bytes are in the buffer the worker sent with this state or, for entries unchanged since, in
 * those sent with the states before it.
 */
export class EntryBytes {
  private constructor(
    /** The buffers the entries are in, each once. */
    readonly buffers: readonly Uint8Array[],
    readonly layout: EntryLayout,
  ) {}

  /** The entries the worker described in `data`; `offered`: the buffers of the offer its request carried (none: null). */
  static of(data: StateEntriesData, offered: readonly Uint8Array[] | null): EntryBytes {
    const buffers = Array.from(data.buffers, (b) => {
      if (b === -1) return data.utf8;
      const buffer = offered?.[b];
      if (buffer === undefined) throw bug(`an entry is in offered buffer ${b} of ${offered?.length ?? 0}`);
      return buffer;
    });
    return new EntryBytes(buffers, data.layout);
  }

  get count(): number {
    return this.layout.buffer.length;
  }

  bytes(i: number): Uint8Array {
    const { buffer, starts, ends } = this.layout;
    return this.buffers[buffer[i]!]!.subarray(starts[i], ends[i]);
  }
}

function bug(what: string): Error {
  return new Error(`the loader's worker sent a state's entries that do not fit: ${what}; this is a bug in @allot/openfeature-provider: please report it`);
}

/** Entries a state holds as bytes, offered to the worker with a request for a whole state (`StateEntries.offer`). */
export interface EntryOffer {
  /** What the request carries (copied). */
  readonly held: HeldEntries;
  /** The buffers `held.buffer` names: what the answer's entries may be in. */
  readonly buffers: readonly Uint8Array[];
}

const decoder = new TextDecoder();

/** Sets an own property as JSON.parse does: a key `__proto__` is data, not the prototype. */
export function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Whether an object key is an array index ("0", "42"), which objects list before their other keys. */
function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** One kept member as the worker wrote it: its entries' names, and their JSON parsed when first read (shared by every state made from it). */
class KeptMember {
  private names: readonly string[] | null = null;
  private index: Map<string, number> | null = null;

  constructor(
    private readonly namesJson: string,
    readonly store: EntryBytes,
    /** The index in `store` of this member's first entry. */
    readonly first: number,
    /** How many entries it has. */
    readonly count: number,
  ) {}

  /** The entry names, in order. */
  list(): readonly string[] {
    return (this.names ??= JSON.parse(this.namesJson) as string[]);
  }

  /** The position of `name` among the entries, or undefined. */
  position(name: string): number | undefined {
    return this.indexed().get(name);
  }

  /** Entry names to positions (built on first use: ≈ 5 ms for 10,000 entries). */
  indexed(): Map<string, number> {
    if (this.index === null) {
      const names = this.list();
      this.index = new Map();
      for (let i = 0; i < names.length; i++) this.index.set(names[i]!, i);
    }
    return this.index;
  }

  /** The bytes of the entry at `position`'s JSON. */
  bytes(position: number): Uint8Array {
    return this.store.bytes(this.first + position);
  }

  /**
   * The entry at `position`, parsed anew at each read: nothing parsed is kept (a delta reads
   * each entry it needs once or twice; a cache would end up holding every entry any delta read).
   */
  entry(position: number): unknown {
    return JSON.parse(decoder.decode(this.bytes(position)));
  }
}

/**
 * A kept member after deltas: the worker's entries less those removed, with those the deltas
 * set (in their place when they were there, else after the others, in the order set).
 */
class MemberState {
  constructor(
    readonly kept: KeptMember,
    /** Positions of kept entries removed. */
    private readonly removed: ReadonlySet<number>,
    /** Kept entries set anew, in their place. */
    private readonly changed: ReadonlyMap<string, unknown>,
    /** Entries after the kept ones, in order. */
    private readonly added: ReadonlyMap<string, unknown>,
    /** Positions of kept entries whose bytes the member no longer reads: removed, or set anew. */
    readonly unused: ReadonlySet<number>,
  ) {}

  static of(kept: KeptMember): MemberState {
    return new MemberState(kept, new Set(), new Map(), new Map(), new Set());
  }

  /** The member with `remove`d entries taken out and then `set` entries put in, as `applyDelta` does to an object. */
  with(remove: readonly string[], set: Json): MemberState {
    const removed = new Set(this.removed);
    const changed = new Map(this.changed);
    const added = new Map(this.added);
    const unused = new Set(this.unused);
    for (const name of remove) {
      const at = this.keptPosition(name);
      if (at === undefined) added.delete(name);
      else {
        removed.add(at);
        unused.add(at);
        changed.delete(name);
      }
    }
    for (const [name, entry] of Object.entries(set)) {
      const at = this.kept.position(name);
      if (at !== undefined && !removed.has(at)) {
        changed.set(name, entry);
        unused.add(at);
      } else added.set(name, entry);
    }
    return new MemberState(this.kept, removed, changed, added, unused);
  }

  /** The position of a kept entry not removed, or undefined. */
  private keptPosition(name: string): number | undefined {
    const at = this.kept.position(name);
    return at === undefined || this.removed.has(at) ? undefined : at;
  }

  has(name: string): boolean {
    return this.added.has(name) || this.keptPosition(name) !== undefined;
  }

  get(name: string): unknown {
    if (this.added.has(name)) return this.added.get(name);
    if (this.changed.has(name)) return this.changed.get(name);
    const at = this.keptPosition(name);
    return at === undefined ? undefined : this.kept.entry(at);
  }

  /** The entry names in the order a plain object holds its keys: array indices first, ascending, then the rest as they came. */
  names(): string[] {
    const out: string[] = [];
    const indices: string[] = [];
    const all = this.kept.list();
    for (let i = 0; i < all.length; i++) if (!this.removed.has(i)) (isArrayIndex(all[i]!) ? indices : out).push(all[i]!);
    for (const name of this.added.keys()) (isArrayIndex(name) ? indices : out).push(name);
    if (indices.length === 0) return out;
    return [...indices.sort((a, b) => Number(a) - Number(b)), ...out];
  }

  /** Writes the member's JSON to `out`, copying kept entries' bytes as they are. */
  async write(out: JsonWriter): Promise<void> {
    out.text('{');
    let first = true;
    for (const name of this.names()) {
      out.text(`${first ? '' : ','}${JSON.stringify(name)}:`);
      first = false;
      const at = this.added.has(name) || this.changed.has(name) ? undefined : this.keptPosition(name);
      if (at === undefined) out.text(JSON.stringify(this.get(name)));
      else out.bytes(this.kept.bytes(at));
      await out.pause();
    }
    out.text('}');
  }

  /** A read-only object that reads as this member's plain JSON would. */
  view(): Json {
    const target = {};
    return new Proxy(target, {
      get: (_, key) => (typeof key === 'string' ? this.get(key) : undefined),
      has: (_, key) => typeof key === 'string' && this.has(key),
      ownKeys: () => this.names(),
      // An accessor, so that telling whether an entry is there (`hasOwnProperty`, `Object.keys`)
      // does not parse it.
      getOwnPropertyDescriptor: (_, key) =>
        typeof key === 'string' && this.has(key) ? { get: () => this.get(key), enumerable: true, configurable: true } : undefined,
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    });
  }
}

/** The JSON of an applied state, for the next delta: see the module comment. */
export class StateEntries {
  private viewed: Json | null = null;
  private offered: EntryOffer | null | undefined;

  private constructor(
    /** Top-level keys, in order. */
    private readonly keys: readonly string[],
    /** Members held as plain JSON. */
    private readonly plain: Json,
    /** Members held as bytes, entry by entry. */
    private readonly members: ReadonlyMap<string, MemberState>,
  ) {}

  /**
   * The state the worker wrote with `entriesData`, answering a request that carried `offer`'s
   * digests (null: none): the entries it did not send are taken from the offer.
   */
  static of(data: StateEntriesData, offer: EntryOffer | null = null): StateEntries {
    const store = EntryBytes.of(data, offer?.buffers ?? null);
    const members = new Map<string, MemberState>();
    let first = 0;
    for (const { key, count, names } of data.members) {
      members.set(key, MemberState.of(new KeptMember(names, store, first, count)));
      first += count;
    }
    if (first !== store.count) throw bug(`${store.count} entries for members of ${first}`);
    return new StateEntries(data.keys, JSON.parse(data.rest) as Json, members);
  }

  /**
   * The entries this state holds as bytes, for a request for a whole state: the worker sends
   * only the others (see the module comment and `offeredEntries`). Null when there are none.
   * Nothing here is per entry but the entries deltas changed: the worker does the rest.
   */
  offer(): EntryOffer | null {
    if (this.offered !== undefined) return this.offered;
    const members = [...this.members.values()];
    const store = members[0]?.kept.store;
    if (store === undefined) return (this.offered = null);
    // Entries of members a delta replaced are read no more.
    const unused = new Uint8Array(store.count).fill(1);
    for (const { kept, unused: gone } of members) {
      unused.fill(0, kept.first, kept.first + kept.count);
      for (const p of gone) unused[kept.first + p] = 1;
    }
    const held: HeldEntries = { ...store.layout, sizes: Float64Array.from(store.buffers, (b) => b.byteLength), unused };
    return (this.offered = { held, buffers: store.buffers });
  }

  /**
   * Builds what reading entries by name needs, one member per turn of the event loop, so that
   * the first delta after a whole state does not build it all in one turn.
   */
  async ready(): Promise<void> {
    for (const member of this.members.values()) {
      member.kept.list();
      await nextTurn();
      member.kept.indexed();
      await nextTurn();
    }
  }

  /** A state this thread holds as JSON already (small ones, loaded here). */
  static ofJson(state: unknown): StateEntries {
    if (!isRecord(state)) return new StateEntries([], {}, new Map());
    return new StateEntries(Object.keys(state), state, new Map());
  }

  /**
   * The state `delta` makes of this one, as `applyDelta` makes it of the plain JSON; this one
   * is unchanged. Throws `SourceError` when a member it changes entry by entry is not an object.
   */
  apply(delta: StateDelta, origin: string): StateEntries {
    const keys = [...this.keys];
    const plain: Record<string, unknown> = { ...this.plain };
    const members = new Map(this.members);
    const listed = (key: string): void => {
      if (!keys.includes(key)) keys.push(key);
    };
    for (const [key, value] of Object.entries(delta.replace ?? {})) {
      members.delete(key);
      put(plain, key, value);
      listed(key);
    }
    const touched = new Set([...Object.keys(delta.set ?? {}), ...Object.keys(delta.remove ?? {})]);
    for (const key of touched) {
      const remove = delta.remove?.[key] ?? [];
      const set = delta.set?.[key] ?? {};
      const member = members.get(key);
      if (member !== undefined) {
        members.set(key, member.with(remove, set));
        continue;
      }
      const before = plain[key];
      if (!isRecord(before))
        throw new SourceError('INVALID_STATE', `${origin}: the delta changes entries of "${key}", which the state it applies to does not hold as an object`);
      const removed = new Set(remove);
      const after: Record<string, unknown> = {};
      for (const name of Object.keys(before)) if (!removed.has(name)) put(after, name, before[name]);
      for (const [name, entry] of Object.entries(set)) put(after, name, entry);
      put(plain, key, after);
    }
    return new StateEntries(keys, plain, members);
  }

  /**
   * The state's JSON as UTF-8 in blocks (to load it whole on the loader's worker), written a
   * few milliseconds per turn of the event loop: kept entries are copied as bytes, not parsed.
   */
  async toBlocks(): Promise<Uint8Array[]> {
    const out = new JsonWriter();
    out.text('{');
    let first = true;
    for (const key of this.keys) {
      const member = this.members.get(key);
      if (member === undefined && !Object.hasOwn(this.plain, key)) continue;
      out.text(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      if (member !== undefined) await member.write(out);
      else out.text(JSON.stringify(this.plain[key]));
    }
    out.text('}');
    return out.blocks();
  }

  /** The state as JSON to read (core's loaders, the fingerprints): kept members parse an entry when it is read. */
  json(): Json {
    if (this.viewed !== null) return this.viewed;
    const out: Record<string, unknown> = {};
    for (const key of this.keys) {
      const member = this.members.get(key);
      if (member !== undefined) put(out, key, member.view());
      else if (Object.hasOwn(this.plain, key)) put(out, key, this.plain[key]);
    }
    return (this.viewed = out);
  }
}

/** JSON written as UTF-8 into `ByteBlocks`, yielding to the event loop once a turn has taken WRITE_SLICE_MS. */
class JsonWriter {
  private readonly out = new ByteBlocks();
  private readonly encoder = new TextEncoder();
  private turnStart = performance.now();

  text(text: string): void {
    this.out.push(this.encoder.encode(text));
  }

  bytes(bytes: Uint8Array): void {
    this.out.push(bytes);
  }

  async pause(): Promise<void> {
    if (performance.now() - this.turnStart < WRITE_SLICE_MS) return;
    await nextTurn();
    this.turnStart = performance.now();
  }

  blocks(): Uint8Array[] {
    return this.out.blocks();
  }
}

/** Longest a turn writes a state's JSON for `toBlocks`. */
const WRITE_SLICE_MS = 4;
