/**
 * What changed between two compiled states, as the state watch's `delta` events carry it.
 * A state is an object of top-level members (`flags`, `segments`, `bitsets`, `clients`,
 * `account`, …); a member that is an object in both states is compared entry by entry
 * (`flags/x` set or removed), any other member that differs is replaced whole. Entries are
 * whole: an entry that changed at all is sent entire, so a client never merges inside one.
 *
 * Computed once per installed state (not per watcher), and composed over several revisions
 * for a client that resumes with an older `Last-Event-ID`. The state before is remembered as
 * a digest (a fingerprint per entry), not as its JSON: 8 MB less held at 10,000 segments.
 */
import { createHash } from 'node:crypto';

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

/**
 * What a state is compared with once it is no longer current: per top-level member, the
 * fingerprint of each entry (a member that is an object) or of the member itself.
 */
export type StateDigest = ReadonlyMap<string, string | ReadonlyMap<string, string>>;

/**
 * A fingerprint of a JSON value: equal for equal values (compiled states write their members
 * in one order). A string is its own (a bitset's base64, which the workspace holds anyway);
 * anything else, and a string that starts with NUL, is NUL and the SHA-1 of its JSON.
 */
function fingerprint(value: JsonValue): string {
  if (typeof value === 'string' && !value.startsWith('\0')) return value;
  return `\0${createHash('sha1').update(JSON.stringify(value)).digest('base64')}`;
}

export function digestOf(state: JsonObject): StateDigest {
  const digest = new Map<string, string | ReadonlyMap<string, string>>();
  for (const [key, value] of Object.entries(state)) {
    digest.set(key, isObject(value) ? new Map(Object.entries(value).map(([name, entry]) => [name, fingerprint(entry)])) : fingerprint(value));
  }
  return digest;
}

/**
 * The changes that turn the state `before` digests into `after` (whose digest is
 * `afterDigest`), or null when a delta cannot express them (a top-level member was removed:
 * the client must be sent the whole state).
 */
export function diffStates(before: StateDigest, after: JsonObject, afterDigest: StateDigest): StateChanges | null {
  for (const key of before.keys()) if (!(key in after)) return null;
  const changes = new Map<string, MemberChange>();
  for (const [key, value] of Object.entries(after)) {
    const old = before.get(key);
    const now = afterDigest.get(key)!;
    if (typeof old === 'object' && typeof now === 'object' && isObject(value)) {
      const set = new Map<string, JsonValue>();
      const remove = new Set<string>();
      for (const name of old.keys()) if (!now.has(name)) remove.add(name);
      for (const [name, print] of now) if (old.get(name) !== print) set.set(name, value[name]!);
      if (set.size > 0 || remove.size > 0) changes.set(key, { kind: 'entries', set, remove });
    } else if (old === undefined || old !== now) {
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
