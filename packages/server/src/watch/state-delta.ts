/**
 * What changed between two compiled states, as the state watch's `delta` events carry it.
 * A state is an object of top-level members (`flags`, `segments`, `bitsets`, `clients`,
 * `account`, …); a member that is an object in both states is compared entry by entry
 * (`flags/x` set or removed), any other member that differs is replaced whole. Entries are
 * whole: an entry that changed at all is sent entire, so a client never merges inside one.
 *
 * Computed once per installed state (not per watcher), and composed over several revisions
 * for a client that resumes with an older `Last-Event-ID`.
 */
import type { JsonValue } from '@allot/core';

type JsonObject = { readonly [key: string]: JsonValue };

/** How one top-level member changed: replaced whole, or some of its entries set or removed. */
type MemberChange =
  | { readonly kind: 'replace'; readonly value: JsonValue }
  | { readonly kind: 'entries'; readonly set: ReadonlyMap<string, JsonValue>; readonly remove: ReadonlySet<string> };

/** The changes from one state to another, by top-level member; empty when they are equal. */
export type StateChanges = ReadonlyMap<string, MemberChange>;

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether two JSON values are equal (object members in any order). */
export function sameJson(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i]!, b[i]!)) return false;
    return true;
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    const other = (b)[key];
    if (other === undefined || !sameJson((a)[key]!, other)) return false;
  }
  return true;
}

/**
 * The changes that turn `before` into `after`, or null when a delta cannot express them (a
 * top-level member was removed: the client must be sent the whole state).
 */
export function diffStates(before: JsonObject, after: JsonObject): StateChanges | null {
  for (const key of Object.keys(before)) if (!(key in after)) return null;
  const changes = new Map<string, MemberChange>();
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (isObject(old) && isObject(value)) {
      const set = new Map<string, JsonValue>();
      const remove = new Set<string>();
      for (const name of Object.keys(old)) if (!(name in value)) remove.add(name);
      for (const [name, entry] of Object.entries(value)) {
        const previous = old[name];
        if (previous === undefined || !sameJson(previous, entry)) set.set(name, entry);
      }
      if (set.size > 0 || remove.size > 0) changes.set(key, { kind: 'entries', set, remove });
    } else if (old === undefined || !sameJson(old, value)) {
      changes.set(key, { kind: 'replace', value });
    }
  }
  return changes;
}

/** The changes of `first` then `second`, as one. */
export function composeChanges(first: StateChanges, second: StateChanges): StateChanges {
  const out = new Map(first);
  for (const [key, change] of second) {
    const earlier = out.get(key);
    if (earlier === undefined || change.kind === 'replace') {
      out.set(key, change);
    } else if (earlier.kind === 'replace') {
      // Entries changed in a member the first replaced: replace it with the result.
      const value: Record<string, JsonValue> = {};
      for (const [name, entry] of Object.entries(isObject(earlier.value) ? earlier.value : {})) if (!change.remove.has(name)) value[name] = entry;
      for (const [name, entry] of change.set) value[name] = entry;
      out.set(key, { kind: 'replace', value });
    } else {
      const set = new Map(earlier.set);
      const remove = new Set(earlier.remove);
      for (const name of change.remove) {
        set.delete(name);
        remove.add(name);
      }
      for (const [name, entry] of change.set) {
        remove.delete(name);
        set.set(name, entry);
      }
      out.set(key, { kind: 'entries', set, remove });
    }
  }
  return out;
}

/**
 * The `data` of a `delta` event: `{"base": ID, "set": {member: {name: entry}}, "remove":
 * {member: [name]}, "replace": {member: value}}`, each of the last three left out when empty.
 */
export function encodeDelta(base: string, changes: StateChanges): string {
  const set: Record<string, Record<string, JsonValue>> = {};
  const remove: Record<string, string[]> = {};
  const replace: Record<string, JsonValue> = {};
  for (const [key, change] of changes) {
    if (change.kind === 'replace') {
      replace[key] = change.value;
      continue;
    }
    if (change.set.size > 0) set[key] = Object.fromEntries(change.set);
    if (change.remove.size > 0) remove[key] = [...change.remove];
  }
  const body: Record<string, JsonValue> = { base };
  if (Object.keys(set).length > 0) body.set = set;
  if (Object.keys(remove).length > 0) body.remove = remove;
  if (Object.keys(replace).length > 0) body.replace = replace;
  return JSON.stringify(body);
}
