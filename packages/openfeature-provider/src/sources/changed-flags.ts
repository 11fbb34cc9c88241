/**
 * Which flags a new state changes, for `PROVIDER_CONFIGURATION_CHANGED`. A flag changed when
 * its JSON changed, or the JSON or allocation of a segment it reaches (its rules' segments
 * and the segments their targeting refers to). A change to clients, bloom filters or the
 * account can change any flag, so it reports them all. Allocations are compared as core
 * holds them (`CompactBitset.equals`), not as JSON: the JSON's bitsets need not be kept.
 *
 * When the new state came as a delta (`LoadedState.changes`, relative to the old state), only
 * the entries it touched are compared, and the flags reaching a changed segment are found by
 * walking the compiled rules: no whole state is encoded.
 */
import type { CompiledSegment, ResolverState } from '@allot/core';
import type { LoadedState } from '../types.js';

type Json = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The parts of a state's JSON by name, in either of the two shapes core accepts. */
interface RawIndex {
  readonly flags: ReadonlyMap<string, string>;
  readonly segments: ReadonlyMap<string, string>;
  /** Everything that can affect any flag. */
  readonly global: string;
}

function byName(value: unknown, nameField: string): Map<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(value)) {
    for (const item of value) if (isRecord(item) && typeof item[nameField] === 'string') out.set(item[nameField], JSON.stringify(item));
  } else if (isRecord(value)) {
    for (const [name, item] of Object.entries(value)) out.set(name, JSON.stringify(item));
  }
  return out;
}

function index(json: unknown): RawIndex {
  const root = isRecord(json) ? json : {};
  const proto = Array.isArray(root.flags) || root.segmentsNoBitsets !== undefined;
  return {
    flags: byName(root.flags, 'name'),
    segments: byName(proto ? root.segmentsNoBitsets : root.segments, 'name'),
    global: JSON.stringify([root.account ?? null, root.clients ?? null, root.clientCredentials ?? null, root.bloomFilters ?? null]),
  };
}

/** The flag's JSON with that of every segment it reaches, and the segments it reaches. */
function fingerprint(name: string, state: ResolverState, raw: RawIndex, reached: string[]): string {
  const parts = [raw.flags.get(name) ?? ''];
  const seen = new Set<string>();
  const visit = (segment: string): void => {
    if (seen.has(segment)) return;
    seen.add(segment);
    reached.push(segment);
    parts.push(segment, raw.segments.get(segment) ?? '');
    for (const ref of state.segments.get(segment)?.references ?? []) visit(ref);
  };
  for (const rule of state.flags.get(name)?.rules ?? []) visit(rule.segmentName);
  return parts.join('\u0000');
}

/** Whether a segment is allocated the same buckets in both states (absent in both counts). */
function sameAllocation(a: CompiledSegment | undefined, b: CompiledSegment | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.allSet !== b.allSet) return false;
  if (a.bitset === null || b.bitset === null) return a.bitset === b.bitset;
  return a.bitset.equals(b.bitset);
}

/** Members whose entries are flags, segments (with their bitsets), or neither (anything else: every flag). */
const FLAG_MEMBERS = new Set(['flags']);
const SEGMENT_MEMBERS = new Set(['segments', 'bitsets']);

const entryJson = (json: unknown, member: string, name: string): string | undefined => {
  const entries = isRecord(json) ? json[member] : undefined;
  const entry = isRecord(entries) ? entries[name] : undefined;
  return entry === undefined ? undefined : JSON.stringify(entry);
};

/** `changedFlags` from a delta's changes (map-shaped states), or null when they cannot tell. */
function changedByDelta(before: LoadedState, after: LoadedState): string[] | null {
  const changes = after.changes;
  if (changes === undefined || changes.base !== before.json) return null;
  if (!isRecord(before.json) || Array.isArray(before.json.flags) || before.json.segmentsNoBitsets !== undefined) return null;
  const flags = new Set<string>();
  const segments = new Set<string>();
  for (const [member, names] of changes.members) {
    if (names === 'whole' || (!FLAG_MEMBERS.has(member) && !SEGMENT_MEMBERS.has(member))) return [...new Set([...before.state.flags.keys(), ...after.state.flags.keys()])].sort();
    for (const name of names) {
      if (entryJson(before.json, member, name) === entryJson(after.json, member, name)) continue;
      (FLAG_MEMBERS.has(member) ? flags : segments).add(name);
    }
  }
  if (segments.size > 0) {
    for (const name of after.state.flags.keys()) if (!flags.has(name) && reaches(name, after.state, segments)) flags.add(name);
  }
  return [...flags].sort();
}

/** Whether flag `name` reaches one of `segments` through its rules and their segments' references. */
function reaches(name: string, state: ResolverState, segments: ReadonlySet<string>): boolean {
  const seen = new Set<string>();
  const visit = (segment: string): boolean => {
    if (seen.has(segment)) return false;
    seen.add(segment);
    if (segments.has(segment)) return true;
    for (const ref of state.segments.get(segment)?.references ?? []) if (visit(ref)) return true;
    return false;
  };
  for (const rule of state.flags.get(name)?.rules ?? []) if (visit(rule.segmentName)) return true;
  return false;
}

/** Names (`flags/x`) of the flags that differ between two states, sorted. */
export function changedFlags(before: LoadedState, after: LoadedState): string[] {
  const byDelta = changedByDelta(before, after);
  if (byDelta !== null) return byDelta;
  const a = index(before.json);
  const b = index(after.json);
  const names = new Set([...before.state.flags.keys(), ...after.state.flags.keys()]);
  if (a.global !== b.global) return [...names].sort();
  const changed: string[] = [];
  const allocation = new Map<string, boolean>();
  const same = (segment: string): boolean => {
    let known = allocation.get(segment);
    if (known === undefined) {
      known = sameAllocation(before.state.segments.get(segment), after.state.segments.get(segment));
      allocation.set(segment, known);
    }
    return known;
  };
  for (const name of names) {
    if (!before.state.flags.has(name) || !after.state.flags.has(name)) {
      changed.push(name);
      continue;
    }
    const reached: string[] = [];
    // Equal JSON reaches the same segments in both states: their allocations are compared.
    if (fingerprint(name, before.state, a, []) !== fingerprint(name, after.state, b, reached) || !reached.every(same)) changed.push(name);
  }
  return changed.sort();
}
