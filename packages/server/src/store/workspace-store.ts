/**
 * The server's view of the workspace file. Reads come from a cached snapshot that is
 * refreshed when the file changes on disk (another `allot` process, a `git pull`); writes go
 * through one in-process queue and then `WorkspaceFile.update` (file lock, atomic write), so
 * no update is lost within this process or across processes. Writes that queue up while
 * one is being written are applied together, in arrival order, in the next single locked
 * update (group commit): each still sees the result of the ones before it and fails alone.
 * A file edited into an invalid document keeps reads on the last good snapshot; writes are
 * refused with FAILED_PRECONDITION (409) naming the problems until it is repaired.
 * While someone subscribes (the state watch), the file is watched (`fs.watch` on its
 * directory, since writes replace it by rename, plus a `stat` every `watchIntervalMs` where
 * file events are not delivered), so a hand edit reaches subscribers without a request.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

import { AdminError, applyOperation, compileState, reuseEncodings, workspaceNeedsRepair, etagOf, WorkspaceFile, type AfterWrite, type LockOptions, type Outcome, type Workspace } from '@allot/admin';
import { loadState, type DecodedBitset, type JsonValue, type ResolverState } from '@allot/core';

import { FileAuditLog } from '../audit/file-audit-log.js';
import { ApiError } from '../http/api-error.js';
import { auditEntry, type AuditChange, type AuditEntry, type AuditLog } from './audit-hook.js';
import { SnapshotListeners, type SnapshotListener } from './snapshot-listeners.js';
import type { Store, StoreStatus, WriteResult } from './store.js';

export type { WriteResult } from './store.js';

/** The compiled resolver state of a snapshot, as served and as resolved against. */
export interface CompiledState {
  readonly text: string;
  /** A strong HTTP entity tag (quoted). */
  readonly etag: string;
  readonly resolver: ResolverState;
  /**
   * The state as JSON (what `text` encodes), for the state watch's deltas. Needed as the
   * state is installed: held weakly after its compilation (8 MB at 10,000 segments), and
   * parsed from `text` again should it be asked for once collected.
   */
  readonly json: { readonly [key: string]: JsonValue };
}

export class WorkspaceSnapshot {
  private compiled: CompiledState | null = null;

  constructor(
    readonly workspace: Workspace,
    /** Hash of the stored document's bytes (the file's, or the database row's). */
    readonly etag: string,
    /** The store's revision of this snapshot; null on the file store, which has none. */
    readonly revision: number | null = null,
    /**
     * Bitsets decoded by the store's earlier snapshots (see core's `LoadOptions.decodedBitsets`):
     * a state compiled after a change of one segment inflates only that segment's bitset.
     */
    private readonly decodedBitsets?: Map<string, DecodedBitset> | undefined,
  ) {}

  /** The compiled state, computed once per snapshot. */
  state(): CompiledState {
    if (this.compiled === null) {
      // `compile`'s bytes, keeping the JSON they encode.
      const json = compileState(this.workspace);
      this.compiled = new Compiled(`${JSON.stringify(json, null, 2)}\n`, json, this.decodedBitsets);
      // Held for as long as this snapshot is current: each bucket set keeps its runs text and
      // gzipped bitset, and decodes its runs again for the operation that needs them.
      for (const s of this.workspace.segments) s.buckets?.compact();
    }
    return this.compiled;
  }
}

/**
 * A compiled state whose resolver is loaded by the first resolve: publishing a revision to
 * watchers (and serving it) needs only the text, and a revision replaced before any resolve
 * reaches it is never loaded.
 */
class Compiled implements CompiledState {
  readonly etag: string;
  private loaded: ResolverState | null = null;
  /** The JSON `text` encodes, held weakly: parsed again from the text when it was let go. */
  private held: WeakRef<{ readonly [key: string]: JsonValue }>;

  constructor(
    readonly text: string,
    json: { readonly [key: string]: JsonValue },
    /** The store's bitsets decoded by earlier loads (core's `LoadOptions.decodedBitsets`). */
    private readonly decodedBitsets: Map<string, DecodedBitset> | undefined,
  ) {
    this.etag = `"${etagOf(text)}"`;
    this.held = new WeakRef(json);
  }

  get json(): { readonly [key: string]: JsonValue } {
    let value = this.held.deref();
    if (value === undefined) {
      value = JSON.parse(this.text) as { readonly [key: string]: JsonValue };
      this.held = new WeakRef(value);
    }
    return value;
  }

  get resolver(): ResolverState {
    this.loaded ??= loadState(this.json, this.decodedBitsets === undefined ? {} : { decodedBitsets: this.decodedBitsets });
    return this.loaded;
  }
}

interface PendingWrite {
  readonly operation: (workspace: Workspace) => Outcome<unknown>;
  readonly change: AuditChange | undefined;
  readonly resolve: (value: WriteResult<unknown>) => void;
  readonly reject: (error: unknown) => void;
}

export interface WorkspaceStoreOptions {
  readonly lock?: LockOptions;
  /** Most writes applied in one locked file update. */
  readonly maxBatch?: number;
  /** Receives each accepted write's entry (those given an `AuditChange`) before it is acknowledged. */
  readonly audit?: AuditLog;
  /** How often the file is checked with `stat` while someone subscribes; default 1,000 ms. */
  readonly watchIntervalMs?: number;
}

/** The file's identity and version as far as `stat` can tell. */
function signatureOf(s: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** How long a server write waits for the workspace lock held by another process. */
export const SERVER_LOCK_TIMEOUT_MS = 1_500;

export class WorkspaceStore implements Store {
  readonly file: WorkspaceFile;
  private snapshot: WorkspaceSnapshot | null = null;
  private signature: string | null = null;
  /** Bumped by every write, so a refresh that read the file before it is discarded. */
  private generation = 0;
  private refreshing: Promise<WorkspaceSnapshot> | null = null;
  private readonly queue: PendingWrite[] = [];
  private writing = false;
  private readonly maxBatch: number;
  private readonly audit: AuditLog | undefined;
  /** Why the file on disk is invalid, while reads are served from the last good snapshot. */
  invalid: AdminError | null = null;
  private readonly listeners = new SnapshotListeners();
  private readonly watchIntervalMs: number;
  private fileWatcher: FSWatcher | null = null;
  private fileCheck: NodeJS.Timeout | null = null;
  /** Shared by this store's snapshots, each loading its state after the one before. */
  private readonly decodedBitsets = new Map<string, DecodedBitset>();

  constructor(path: string, options: WorkspaceStoreOptions = {}) {
    // A request is answered within 2 s: a write gives up waiting for another process's lock
    // after 1.5 s (503 LOCK_TIMEOUT with Retry-After), where a person at the CLI waits 10 s.
    this.file = new WorkspaceFile(path, { lock: { timeoutMs: SERVER_LOCK_TIMEOUT_MS, ...options.lock } });
    this.maxBatch = options.maxBatch ?? 64;
    this.audit = options.audit;
    this.watchIntervalMs = options.watchIntervalMs ?? 1_000;
  }

  /** Creates the file (a fresh account, seed and default client) when it does not exist. */
  async ensureExists(): Promise<{ created: boolean }> {
    const out = await this.file.update((workspace) => ({ workspace, result: null, warnings: [] }), {
      create: true,
      afterWrite: (update) => this.record(update, []),
    });
    this.install(new WorkspaceSnapshot(out.workspace, out.etag, null, this.decodedBitsets));
    return { created: out.created };
  }

  /** The current snapshot, re-read when the file changed since the last one. */
  async current(): Promise<WorkspaceSnapshot> {
    for (;;) {
      let signature: string;
      try {
        signature = signatureOf(await stat(this.file.path));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        throw new ApiError(503, 'UNAVAILABLE', `the workspace file ${this.file.path} is gone; restore it (or restart the server to create an empty one)`);
      }
      if (this.snapshot !== null && signature === this.signature) return this.snapshot;
      if (this.refreshing !== null) {
        // A refresh that began before this stat may have read an older version of the file
        // (a hand edit caught half-written, say): wait for it, then look again.
        await this.refreshing.catch(() => undefined);
        continue;
      }
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = null;
      });
      return this.refreshing;
    }
  }

  private async refresh(): Promise<WorkspaceSnapshot> {
    for (;;) {
      const generation = this.generation;
      const before = signatureOf(await stat(this.file.path));
      const text = await readFile(this.file.path, 'utf8');
      if (generation !== this.generation) continue;
      const etag = etagOf(text);
      if (this.snapshot === null || this.snapshot.etag !== etag) {
        try {
          const workspace = await this.file.parse(text);
          if (generation !== this.generation) continue; // a write landed meanwhile: read again
          // Unchanged segments keep their gzipped bitsets: the compile deflates only the changed ones
          // (0.3 s at 10,000 segments where deflating all took 1.5 s).
          if (this.snapshot !== null) reuseEncodings(workspace, this.snapshot.workspace);
          this.snapshot = new WorkspaceSnapshot(workspace, etag, null, this.decodedBitsets);
          this.invalid = null;
          this.listeners.emit(this.snapshot);
        } catch (error) {
          // Edited by hand into an invalid document: reads keep the last good snapshot, and
          // writes are refused (409, see `commit`) until the file is repaired.
          if (!(error instanceof AdminError) || error.code !== 'INVALID_WORKSPACE' || this.snapshot === null) throw error;
          this.invalid = error;
        }
      } else {
        this.invalid = null;
      }
      // If the file changed between stat and read, the next request looks again.
      this.signature = before;
      return this.snapshot;
    }
  }

  /**
   * Applies `operation` to the latest workspace and writes it. Rejects with what the
   * operation threw (the file unchanged by it), or with the file update's error.
   */
  write<R>(operation: (workspace: Workspace) => Outcome<R>, change?: AuditChange): Promise<WriteResult<R>> {
    return new Promise<WriteResult<R>>((resolve, reject) => {
      this.queue.push({ operation, change, resolve: resolve as (value: WriteResult<unknown>) => void, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Resolves once every queued write has finished. */
  async idle(): Promise<void> {
    while (this.writing) await new Promise((r) => setTimeout(r, 5));
  }

  status(): StoreStatus {
    return { store: 'file', revision: null, revisionAgeMs: null, databaseReachable: null };
  }

  subscribe(listener: SnapshotListener): () => void {
    const remove = this.listeners.add(listener);
    this.watchFile();
    return () => {
      remove();
      if (this.listeners.size === 0) this.unwatchFile();
    };
  }

  /** Stops watching the file once every queued write has finished. */
  async close(): Promise<void> {
    await this.idle();
    this.unwatchFile();
  }

  /** Looks at the file on each change event and every `watchIntervalMs`; `current` re-reads it when it changed. */
  private watchFile(): void {
    if (this.fileCheck !== null) return;
    const check = (): void => {
      // A file that is gone or invalid keeps the last good snapshot; requests report the error.
      this.current().catch(() => undefined);
    };
    this.fileCheck = setInterval(check, this.watchIntervalMs);
    this.fileCheck.unref();
    try {
      const name = basename(this.file.path);
      this.fileWatcher = watch(dirname(this.file.path), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name) check();
      });
      // Where the platform stops delivering events, the periodic stat goes on alone.
      this.fileWatcher.on('error', () => {
        this.fileWatcher?.close();
        this.fileWatcher = null;
      });
    } catch {
      this.fileWatcher = null;
    }
  }

  private unwatchFile(): void {
    if (this.fileCheck !== null) clearInterval(this.fileCheck);
    this.fileCheck = null;
    this.fileWatcher?.close();
    this.fileWatcher = null;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.commit(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async commit(batch: readonly PendingWrite[]): Promise<void> {
    const outcomes: ({ ok: true; result: unknown; warnings: readonly string[] } | { ok: false; error: unknown })[] = [];
    const entries: AuditEntry[] = [];
    let out;
    try {
      out = await this.file.update((start) => {
        outcomes.length = 0; // the lock retried the operation: start over
        entries.length = 0;
        const time = new Date();
        let workspace = start;
        for (const w of batch) {
          try {
            // Checked per write (the file update checks the batch again), so that one write
            // that would leave the workspace invalid fails alone.
            const o = applyOperation(workspace, w.operation);
            if (w.change !== undefined) entries.push(auditEntry(w.change, null, time, workspace, o.workspace));
            workspace = o.workspace;
            outcomes.push({ ok: true, result: o.result, warnings: o.warnings });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        return { workspace, result: null, warnings: [] };
      }, { afterWrite: (update) => this.record(update, entries) });
    } catch (error) {
      const refusal = error instanceof AdminError && error.code === 'INVALID_WORKSPACE' ? workspaceNeedsRepair(error, this.file.path) : error;
      for (const w of batch) w.reject(refusal);
      return;
    }
    this.generation++;
    const snapshot = new WorkspaceSnapshot(out.workspace, out.etag, null, this.decodedBitsets);
    this.install(snapshot);
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve({ result: o.result, warnings: o.warnings, snapshot });
      else w.reject(o.error);
    });
  }

  /**
   * Appends the batch's entries under the file lock, before any write is acknowledged. The
   * file audit log first records a change made to the file outside the server since its
   * newest entry (a hand edit), and notes the file's etag with the batch.
   */
  private async record(update: AfterWrite, entries: readonly AuditEntry[]): Promise<void> {
    if (this.audit instanceof FileAuditLog) await this.audit.appendAfterWrite(update, entries);
    else if (this.audit !== undefined && entries.length > 0) await this.audit.append(entries);
  }

  private install(snapshot: WorkspaceSnapshot): void {
    this.snapshot = snapshot;
    // Unknown until the next stat: that read compares bytes by etag and keeps this snapshot.
    this.signature = null;
    this.listeners.emit(snapshot);
  }
}
