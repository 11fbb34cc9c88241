/**
 * Where the server keeps the workspace. The HTTP resources see only this interface: the
 * current snapshot (workspace, compiled state, etag and, where the store has one, its
 * revision) and `write`, which applies an operation atomically to the latest workspace and
 * answers with the snapshot it produced. Two implementations: the workspace file
 * (`WorkspaceStore`, the default) and PostgreSQL (`PgStore` in `@allot/pg-store`).
 */
import type { Outcome, Workspace } from '@allot/admin';

import type { AuditSource } from '../audit/audit-routes.js';
import type { AuditChange } from './audit-hook.js';
import type { SnapshotListener } from './snapshot-listeners.js';
import type { WorkspaceSnapshot } from './workspace-store.js';

/** What one write produced. */
export interface WriteResult<R> {
  readonly result: R;
  readonly warnings: readonly string[];
  readonly snapshot: WorkspaceSnapshot;
}

/** How current the served state is, for `/healthz` and the response headers. */
export interface StoreStatus {
  readonly store: 'file' | 'postgres';
  /** The revision served; null on the file store, which has none. */
  readonly revision: number | null;
  /**
   * Milliseconds since the store last confirmed that the revision served is the latest
   * (PostgreSQL: the last successful check of the database); null on the file store.
   */
  readonly revisionAgeMs: number | null;
  /** Whether the database answered its last check; null on the file store. */
  readonly databaseReachable: boolean | null;
  /** Why the database is unreachable, when it is. */
  readonly databaseError?: string;
}

export interface Store {
  /** Prepares the store and creates an empty workspace (a fresh account) when there is none. */
  ensureExists(): Promise<{ created: boolean }>;
  /** The latest snapshot this server knows. */
  current(): Promise<WorkspaceSnapshot>;
  /**
   * Applies `operation` to the latest workspace and stores the result atomically, with
   * `change`'s audit entry when an audit log is attached. Rejects with what the operation
   * threw (nothing stored), or with the store's error (nothing stored either).
   */
  write<R>(operation: (workspace: Workspace) => Outcome<R>, change?: AuditChange): Promise<WriteResult<R>>;
  /** Resolves once every write accepted so far has finished. */
  idle(): Promise<void>;
  status(): StoreStatus;
  /**
   * Calls `listener` with each new snapshot this server installs: its own writes, and the
   * changes it follows from elsewhere (the file store watches its file; the PostgreSQL store
   * follows other instances through LISTEN/NOTIFY and its revision check). Several writes
   * committed together give one snapshot. Returns the function that stops the calls.
   */
  subscribe(listener: SnapshotListener): () => void;
  /** Releases connections and timers; the server calls it last when it closes. */
  close(): Promise<void>;
  /**
   * Where a store that keeps its own audit log (PostgreSQL's table) serves it from; the
   * server's `GET /v1/auditLog` reads it when `ServerOptions.auditLog` is not given.
   */
  readonly auditLog?: AuditSource;
  /**
   * For a store that learns of other instances' writes: `observe` gets the seconds from a
   * notification to this instance serving that revision (the server's
   * `allot_notification_lag_seconds`).
   */
  onNotificationLag?(observe: (seconds: number) => void): void;
}
