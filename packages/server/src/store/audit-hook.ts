/**
 * The audit log's place in the write path. A store hands every accepted change to
 * `AuditLog.append` before the change is acknowledged: on the file store in the same queued
 * write, on PostgreSQL inside the same transaction (so an entry exists exactly when its
 * change does). Refused writes and `validateOnly` previews reach no store, so they append
 * nothing.
 */
import type { Workspace } from '@allot/admin';

/** What a write says about itself, for its audit entry; given by the HTTP resource. */
export interface AuditChange {
  /** The token's name (never its secret), or e.g. "file edit" for a change found on disk. */
  readonly actor: string;
  /** The operation, e.g. "CreateSegment", "AllocateSegment". */
  readonly operation: string;
  /** The request body as received (JSON), or null when there was none. */
  readonly request: unknown;
  /** The changed resource's name, e.g. "segments/search-ranking"; null when none is singled out. */
  readonly resource: string | null;
  /**
   * The changed resource before and after, and the impact summary (`previewImpact`), worked
   * out by the store from the workspace the write started from and the one it produced.
   */
  describe(before: Workspace, after: Workspace): { readonly before: unknown; readonly after: unknown; readonly impact: unknown };
}

/** One accepted change, as appended. */
export interface AuditEntry {
  /**
   * The store revision the change produced: on PostgreSQL the account's revision (one per
   * accepted write, increasing by 1); null on the file store, which has no revision counter.
   */
  readonly revision: number | null;
  /** When the change was accepted, ISO 8601 UTC. */
  readonly time: string;
  readonly actor: string;
  readonly operation: string;
  readonly request: unknown;
  readonly resource: string | null;
  readonly before: unknown;
  readonly after: unknown;
  readonly impact: unknown;
}

/**
 * Where a store appends entries; `append` must be durable when it resolves. On PostgreSQL
 * it runs inside the write's transaction: if it rejects, nothing of the write is kept. On
 * the file store it runs right after the workspace file is written and before the write is
 * acknowledged (admin's `WorkspaceFile.update` offers no asynchronous step inside its lock
 * yet); if it rejects, the write is answered with that error although the file changed.
 */
export interface AuditLog {
  append(entries: readonly AuditEntry[]): Promise<void>;
}

/** The entry for `change`, which turned `before` into `after`. */
export function auditEntry(change: AuditChange, revision: number | null, time: Date, before: Workspace, after: Workspace): AuditEntry {
  const described = change.describe(before, after);
  return {
    revision,
    time: time.toISOString(),
    actor: change.actor,
    operation: change.operation,
    request: change.request,
    resource: change.resource,
    before: described.before,
    after: described.after,
    impact: described.impact,
  };
}
