/**
 * Which audit entries a reader asked for: by resource (the entry's named resource, or any
 * resource it changed), by actor, and by time (`since` inclusive, `until` exclusive).
 */
import type { ChainedEntry } from './entry.js';

export interface AuditFilter {
  /** `segments/ID`, `flags/ID` or `groups/ID`. */
  readonly resource?: string;
  readonly actor?: string;
  readonly since?: Date;
  readonly until?: Date;
}

function changed(e: ChainedEntry, name: string): boolean {
  const has = (side: unknown): boolean => typeof side === 'object' && side !== null && Object.hasOwn(side, name);
  return has(e.before) || has(e.after);
}

export function matchesFilter(e: ChainedEntry, f: AuditFilter): boolean {
  if (f.resource !== undefined && e.resource !== f.resource && !changed(e, f.resource)) return false;
  if (f.actor !== undefined && e.actor !== f.actor) return false;
  const time = Date.parse(e.time);
  if (f.since !== undefined && !(time >= f.since.getTime())) return false;
  if (f.until !== undefined && !(time < f.until.getTime())) return false;
  return true;
}
