/**
 * What `PROVIDER_CONFIGURATION_CHANGED` compares between two states, computed where the state
 * is parsed (on the loader's worker) so that the provider keeps a digest per flag rather than
 * the state's JSON. A flag's digest covers its JSON and the JSON and bitset of every segment
 * it reaches (its rules' segments and the segments their targeting refers to), allocations
 * as core holds them; `global`
 * covers what can change any flag: the account, clients, credentials and bloom filters.
 */
import { createHash } from 'node:crypto';

import { CompactBitset, type CompiledSegment, type ResolverState } from '@allot/core';

export interface StateFingerprints {
  /** Digest of the account, clients, credentials and bloom filters. */
  readonly global: string;
  /** By flag name (`flags/x`): digest of the flag and the segments it reaches. */
  readonly flags: ReadonlyMap<string, string>;
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
 * gzipped differently are the same allocation. (A set's compact form is a function of its
 * members, so equal sets have equal bytes.)
 */
function allocation(segment: CompiledSegment): Uint8Array | string {
  if (segment.bitset === null) return 'all';
  return new Uint8Array(CompactBitset.toTransfer([segment.bitset]).buffer);
}

/** The JSON of each item of a map-shaped or list-shaped part, by name. */
function byName(value: unknown, nameField: string): Map<string, string> {
  const out = new Map<string, string>();
  if (Array.isArray(value)) {
    for (const item of value) if (isRecord(item) && typeof item[nameField] === 'string') out.set(item[nameField], JSON.stringify(item));
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
  for (const [name, segment] of state.segments) segments.set(name, digest(segmentJson.get(name) ?? '', String(segment.allSet), allocation(segment)));
  const flags = new Map<string, string>();
  for (const [name, flag] of state.flags) {
    const parts = [flagJson.get(name) ?? ''];
    const seen = new Set<string>();
    const visit = (segment: string): void => {
      if (seen.has(segment)) return;
      seen.add(segment);
      parts.push(segment, segments.get(segment) ?? '');
      for (const ref of state.segments.get(segment)?.references ?? []) visit(ref);
    };
    for (const rule of flag.rules) visit(rule.segmentName);
    flags.set(name, digest(...parts));
  }
  const global = digest(JSON.stringify([root.account ?? null, root.clients ?? null, root.clientCredentials ?? null, root.bloomFilters ?? null]));
  return { global, flags };
}
