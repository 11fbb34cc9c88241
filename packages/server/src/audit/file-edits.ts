/**
 * Changes made to the workspace file outside the server (a hand edit, `git pull`, another
 * tool): found under the lock when the file's etag is not the one the log's newest entry
 * noted, and recorded as an entry by the actor `file edit`, with each changed resource
 * before (as the log last recorded it) and after (as the file has it now).
 */
import type { Workspace } from '@allot/admin';

import type { AuditEntry } from '../store/audit-hook.js';
import { canonicalJson } from './canonical-json.js';
import { resourcesOf } from './changes.js';
import { FILE_EDIT_ACTOR } from './entry.js';

/** The entry for an outside change from what the log knows (`known`) to `workspace`. */
export function fileEditEntry(known: ReadonlyMap<string, unknown>, workspace: Workspace, time: Date): AuditEntry {
  const now = resourcesOf(workspace);
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const name of [...new Set([...known.keys(), ...now.keys()])].sort()) {
    const was = known.get(name) ?? null;
    const is = now.get(name) ?? null;
    if (canonicalJson(was) === canonicalJson(is)) continue;
    before[name] = was;
    after[name] = is;
  }
  const names = Object.keys(after);
  return {
    revision: null,
    time: time.toISOString(),
    actor: FILE_EDIT_ACTOR,
    operation: FILE_EDIT_ACTOR,
    request: null,
    resource: names.length === 1 ? names[0]! : null,
    before,
    after,
    impact: null,
  };
}
