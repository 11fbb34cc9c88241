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
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import { SourceError } from '../sources/source-error.js';
import { ByteBlocks } from './byte-blocks.js';
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
  /** Every kept entry's JSON, member after member, one after another. */
  readonly utf8: Uint8Array;
  /** Where each entry's JSON ends in `utf8` (each starts where the one before ended). */
  readonly ends: Uint32Array;
}

type Json = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `state`'s entries as bytes (on the worker, which parsed it); null when it is not an object. */
export function entriesData(state: unknown): { data: StateEntriesData; transfer: ArrayBuffer[] } | null {
  if (!isRecord(state)) return null;
  const rest: Record<string, unknown> = {};
  const members: { key: string; count: number; names: string }[] = [];
  const pieces: string[] = [];
  const lengths: number[] = [];
  for (const [key, value] of Object.entries(state)) {
    if (!KEPT_MEMBERS.includes(key) || !isRecord(value)) {
      put(rest, key, value);
      continue;
    }
    const names = Object.keys(value);
    members.push({ key, count: names.length, names: JSON.stringify(names) });
    for (const name of names) {
      const text = JSON.stringify(value[name]);
      pieces.push(text);
      lengths.push(Buffer.byteLength(text));
    }
  }
  const ends = new Uint32Array(lengths.length);
  let total = 0;
  for (let i = 0; i < lengths.length; i++) ends[i] = total += lengths[i]!;
  const utf8 = new Uint8Array(new ArrayBuffer(total));
  const encoder = new TextEncoder();
  let at = 0;
  for (const piece of pieces) at += encoder.encodeInto(piece, utf8.subarray(at)).written;
  const data: StateEntriesData = { keys: Object.keys(state), rest: JSON.stringify(rest), members, utf8, ends };
  return { data, transfer: [utf8.buffer, ends.buffer] };
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
    private readonly utf8: Uint8Array,
    private readonly ends: Uint32Array,
    /** The index in `ends` of this member's first entry. */
    private readonly first: number,
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
    const i = this.first + position;
    return this.utf8.subarray(i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]);
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
  ) {}

  static of(kept: KeptMember): MemberState {
    return new MemberState(kept, new Set(), new Map(), new Map());
  }

  /** The member with `remove`d entries taken out and then `set` entries put in, as `applyDelta` does to an object. */
  with(remove: readonly string[], set: Json): MemberState {
    const removed = new Set(this.removed);
    const changed = new Map(this.changed);
    const added = new Map(this.added);
    for (const name of remove) {
      const at = this.keptPosition(name);
      if (at === undefined) added.delete(name);
      else {
        removed.add(at);
        changed.delete(name);
      }
    }
    for (const [name, entry] of Object.entries(set)) {
      const at = this.kept.position(name);
      if (at !== undefined && !removed.has(at)) changed.set(name, entry);
      else added.set(name, entry);
    }
    return new MemberState(this.kept, removed, changed, added);
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

  private constructor(
    /** Top-level keys, in order. */
    private readonly keys: readonly string[],
    /** Members held as plain JSON. */
    private readonly plain: Json,
    /** Members held as bytes, entry by entry. */
    private readonly members: ReadonlyMap<string, MemberState>,
  ) {}

  /** The state the worker wrote with `entriesData`. */
  static of(data: StateEntriesData): StateEntries {
    const members = new Map<string, MemberState>();
    let first = 0;
    for (const { key, count, names } of data.members) {
      members.set(key, MemberState.of(new KeptMember(names, data.utf8, data.ends, first)));
      first += count;
    }
    return new StateEntries(data.keys, JSON.parse(data.rest) as Json, members);
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
