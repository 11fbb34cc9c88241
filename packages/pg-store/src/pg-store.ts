/**
 * The workspace in PostgreSQL, for several `allot serve` instances on one database.
 *
 * One row per account holds the workspace document (JSON by default, the `format` option;
 * a row copied in from a YAML file stays YAML until its first write) and its revision, an
 * integer that every accepted write raises by one. A write is one transaction:
 * `pg_advisory_xact_lock` on the account (so writes from every instance take turns), read
 * the row, apply the operations, write the row and the audit entries, `pg_notify` the new
 * revision, commit. Writes that queue up in one instance while its previous transaction
 * runs go together in the next (group commit; each still fails alone).
 *
 * Reads are served from the last snapshot this instance knows, never a database round trip.
 * The snapshot follows the database through LISTEN/NOTIFY (a wake-up carrying only the
 * revision) and a periodic check of the latest revision (notifications are lost while the
 * listening connection is down). While the database is unreachable, reads keep serving the
 * last good snapshot, `status()` says since when, and writes fail with 503 and Retry-After.
 */
import { applyOperation, etagOf, newWorkspace, parseWorkspace, reuseEncodings, serializeWorkspace, withClientSecrets, type Outcome, type Workspace, type WorkspaceFormat } from '@allot/admin';
import { ApiError, auditEntry, SnapshotListeners, WorkspaceSnapshot, type AuditChange, type AuditEntry, type SnapshotListener, type Store, type StoreStatus, type WriteResult } from '@allot/server';
import pg from 'pg';

import { appendAudit, PgAuditLog } from './audit-table.js';
import { migrate } from './migrations.js';

/** The channel instances notify each other on; the payload is the new revision. */
export const NOTIFY_CHANNEL = 'allot_revision';

export interface PgStoreOptions {
  /**
   * The account whose workspace to serve. Default: the only account in the database (one is
   * created, as a fresh workspace, when there is none).
   */
  readonly account?: string;
  /** How often the latest revision is checked besides notifications; default 500 ms. */
  readonly pollMs?: number;
  /** Whether to LISTEN for other instances' writes; default true (false: the revision check alone). */
  readonly listen?: boolean;
  /** Connections in the pool; default 4. */
  readonly poolSize?: number;
  /** How long to wait for a connection before answering 503; default 2 s. */
  readonly connectTimeoutMs?: number;
  /** Most writes applied in one transaction; default 64. */
  readonly maxBatch?: number;
  /**
   * The format the document is written in (a created workspace and every write); default
   * JSON: every instance parses the whole document again on each revision another instance
   * writes, and JSON parses an order of magnitude faster than YAML. A row copied in as YAML
   * stays YAML until its first write.
   */
  readonly format?: WorkspaceFormat;
  /** Receives notices (database lost and back); default none. */
  readonly log?: (line: string) => void;
}

interface PendingWrite {
  readonly operation: (workspace: Workspace) => Outcome<unknown>;
  readonly change: AuditChange | undefined;
  readonly resolve: (value: WriteResult<unknown>) => void;
  readonly reject: (error: unknown) => void;
}

interface Row {
  readonly revision: string;
  readonly format: WorkspaceFormat;
  readonly document: string;
  /** Client secrets by client id (node-postgres parses jsonb). */
  readonly secrets: Record<string, string>;
}

/** The row's `secrets` column for `workspace`'s clients (a client without a secret has none). */
function secretsOf(workspace: Workspace): string {
  return JSON.stringify(Object.fromEntries(workspace.clients.filter((c) => c.secret !== '').map((c) => [c.id, c.secret])));
}

function secretsMap(secrets: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(secrets));
}

/**
 * The entry of a write whose caller did not describe it (a library caller without an audit
 * change): on PostgreSQL every accepted write has its entry, described or not.
 */
const UNDESCRIBED: AuditChange = {
  actor: 'unknown',
  operation: 'write',
  request: null,
  resource: null,
  describe: () => ({ before: null, after: null, impact: null }),
};

/** Whether `error` says the database could not be reached or the connection broke (not a bad query). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    // Class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now), and Node's socket errors.
    if (/^08|^57P0[1-3]$/.test(code) || /^E[A-Z]+$/.test(code)) return true;
    return false;
  }
  return /connection terminated|connection timeout|timeout exceeded when trying to connect|Client was closed|Connection terminated unexpectedly|not queryable/i.test(error.message);
}

/** The 503 a write gets while the database cannot be reached. */
function unavailable(error: unknown, during: string): ApiError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ApiError(503, 'UNAVAILABLE', `the database is unreachable (${reason}) ${during}; retry shortly`, { headers: { 'retry-after': '1' } });
}

/** A 64-bit advisory lock key for an account (two accounts sharing one only take turns needlessly). */
function lockKey(account: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(`allot:${account}`, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n);
  return BigInt.asIntN(64, h).toString();
}

export class PgStore implements Store {
  private readonly pool: pg.Pool;
  private readonly options: PgStoreOptions;
  /** The format every write stores the document in. */
  private readonly format: WorkspaceFormat;
  private readonly log: (line: string) => void;
  private accountId: string | null;
  private snapshot: WorkspaceSnapshot | null = null;
  /** The workspace of `snapshot` as writes need it (bitsets retained), when it is known. */
  private writeBase: { revision: number; workspace: Workspace } | null = null;
  private confirmedAt = 0;
  private reachable = true;
  private lastError: string | undefined;
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private closed = false;
  private readonly queue: PendingWrite[] = [];
  private writing = false;
  /** The newest revision another instance notified and when it arrived, until this one serves it. */
  private notified: { revision: number; at: number } | null = null;
  /** The revision this instance's latest write commits: its own notification is not another instance's write. */
  private ownRevision = -1;
  private readonly lagObservers: ((seconds: number) => void)[] = [];
  /** The audit table of the account served, for `GET /v1/auditLog` and `allot log`. */
  readonly auditLog: PgAuditLog;
  /** Told of each newer snapshot: this instance's writes, and those it follows from others. */
  private readonly listeners = new SnapshotListeners();

  constructor(
    /** `postgres://user:password@host:port/database` */
    readonly url: string,
    options: PgStoreOptions = {},
  ) {
    this.options = options;
    this.format = options.format ?? 'json';
    this.accountId = options.account ?? null;
    this.log = options.log ?? (() => undefined);
    this.pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 4, connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000 });
    // An idle connection that breaks (the database restarting) must not crash the process.
    this.pool.on('error', (error) => {
      this.lost(error);
    });
    this.auditLog = new PgAuditLog(this.pool, () => this.account);
  }

  /**
   * Calls `observe` with the time, in seconds, from a notification of another instance's
   * write (its NOTIFY arriving here) to this instance serving that revision.
   */
  onNotificationLag(observe: (seconds: number) => void): void {
    this.lagObservers.push(observe);
  }

  /** The account served; known once `ensureExists` resolved. */
  get account(): string {
    if (this.accountId === null) throw new Error('PgStore: call ensureExists() first');
    return this.accountId;
  }

  /**
   * Migrates the schema, picks (or creates) the account, loads its workspace, and starts
   * following the database.
   */
  async ensureExists(): Promise<{ created: boolean }> {
    const client = await this.pool.connect();
    const onError = (error: Error): void => {
      this.lost(error);
    };
    client.on('error', onError);
    let created = false;
    try {
      await migrate(client);
      if (this.accountId === null) {
        const { rows } = await client.query<{ account: string }>('SELECT account FROM allot_workspace ORDER BY account');
        if (rows.length > 1) {
          throw new Error(
            `the database holds ${rows.length} accounts (${rows.map((r) => r.account).join(', ')}); name the one to serve (PgStore's account option)`,
          );
        }
        this.accountId = rows[0]?.account ?? null;
      }
      if (this.accountId === null || (await client.query('SELECT 1 FROM allot_workspace WHERE account = $1', [this.accountId])).rows.length === 0) {
        const workspace = newWorkspace(this.accountId === null ? {} : { account: this.accountId });
        const account = this.accountId ?? workspace.account;
        const inserted = await client.query(
          'INSERT INTO allot_workspace (account, revision, format, document, secrets) VALUES ($1, 0, $2, $3, $4) ON CONFLICT (account) DO NOTHING',
          [account, this.format, serializeWorkspace(workspace, this.format), secretsOf(workspace)],
        );
        created = inserted.rowCount === 1;
        this.accountId = account;
      }
    } finally {
      client.off('error', onError);
      client.release();
    }
    await this.load();
    this.follow();
    return { created };
  }

  async current(): Promise<WorkspaceSnapshot> {
    if (this.snapshot !== null) return this.snapshot;
    try {
      await this.load();
    } catch (error) {
      if (isConnectionError(error)) throw unavailable(error, 'and this server has no workspace loaded yet');
      throw error;
    }
    return this.snapshot!;
  }

  status(): StoreStatus {
    return {
      store: 'postgres',
      revision: this.snapshot?.revision ?? null,
      revisionAgeMs: this.confirmedAt === 0 ? null : Date.now() - this.confirmedAt,
      databaseReachable: this.reachable,
      ...(this.reachable || this.lastError === undefined ? {} : { databaseError: this.lastError }),
    };
  }

  write<R>(operation: (workspace: Workspace) => Outcome<R>, change?: AuditChange): Promise<WriteResult<R>> {
    return new Promise<WriteResult<R>>((resolve, reject) => {
      this.queue.push({ operation, change, resolve: resolve as (value: WriteResult<unknown>) => void, reject });
      if (!this.writing) void this.drain();
    });
  }

  subscribe(listener: SnapshotListener): () => void {
    return this.listeners.add(listener);
  }

  async idle(): Promise<void> {
    while (this.writing) await new Promise((r) => setTimeout(r, 5));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.refreshing?.catch(() => undefined);
    await this.pool.end();
  }

  /** Reads the row and installs its snapshot (when newer than the one served). */
  private async load(): Promise<void> {
    const { rows } = await this.pool.query<Row>('SELECT revision, format, document, secrets FROM allot_workspace WHERE account = $1', [this.account]);
    const row = rows[0];
    if (row === undefined) throw new ApiError(503, 'UNAVAILABLE', `the account ${this.account} is gone from the database; restart the server to create it again`);
    this.confirmed();
    const revision = Number(row.revision);
    if (this.snapshot !== null && this.snapshot.revision !== null && this.snapshot.revision >= revision) return;
    // Parsed as a write needs it (bitsets retained), here, outside any write's lock: the next
    // write on this instance starts from it instead of parsing the row again.
    const workspace = parseWorkspace(row.document, { source: `account ${this.account} in the database`, retainBitsets: true, secrets: secretsMap(row.secrets) });
    if (this.snapshot !== null && this.snapshot.revision !== null && this.snapshot.revision >= revision) return;
    // Unchanged segments keep their gzipped bitsets: the compile deflates only the changed ones.
    if (this.snapshot !== null) reuseEncodings(workspace, this.snapshot.workspace);
    this.snapshot = new WorkspaceSnapshot(workspace, etagOf(row.document), revision);
    this.listeners.emit(this.snapshot);
    if ((this.writeBase?.revision ?? -1) < revision) this.writeBase = { revision, workspace };
    this.served(revision);
  }

  /** Reports the lag of a notified revision once the one served has reached it. */
  private served(revision: number): void {
    if (this.notified === null || this.notified.revision > revision) return;
    const seconds = (performance.now() - this.notified.at) / 1000;
    this.notified = null;
    for (const observe of this.lagObservers) observe(seconds);
  }

  /** Checks the latest revision and loads it when it is newer; coalesces concurrent calls. */
  private refresh(): void {
    if (this.closed) return;
    if (this.refreshing !== null) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          if (this.notifiedNewer()) {
            // Another instance said it wrote a newer revision: read it without asking first
            // (one round trip less between a write and the watchers of this instance).
            await this.load();
          } else {
            const { rows } = await this.pool.query<{ revision: string }>('SELECT revision FROM allot_workspace WHERE account = $1', [this.account]);
            const revision = rows[0] === undefined ? null : Number(rows[0].revision);
            this.confirmed();
            if (revision !== null && (this.snapshot?.revision ?? -1) < revision) await this.load();
          }
        } catch (error) {
          this.lost(error);
        }
      } while (this.again());
    })().finally(() => {
      this.refreshing = null;
    });
  }

  /** Whether another instance notified a revision newer than the one served. */
  private notifiedNewer(): boolean {
    return this.notified !== null && this.notified.revision > (this.snapshot?.revision ?? -1);
  }

  /** Whether a notification came while the last check ran (read after awaits, so not narrowed). */
  private again(): boolean {
    return this.refreshAgain && !this.closed;
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private confirmed(): void {
    this.confirmedAt = Date.now();
    if (!this.reachable) this.log(`database reachable again (serving revision ${this.snapshot?.revision ?? '?'})`);
    this.reachable = true;
    this.lastError = undefined;
  }

  private lost(error: unknown): void {
    if (this.closed) return;
    const message = error instanceof Error ? error.message : String(error);
    if (this.reachable) this.log(`database unreachable (${message}); serving revision ${this.snapshot?.revision ?? '?'} until it is back`);
    this.reachable = false;
    this.lastError = message;
  }

  /** LISTEN for revisions (reconnecting when the connection drops) and poll as a safety net. */
  private follow(): void {
    this.timer = setInterval(() => {
      this.refresh();
    }, this.options.pollMs ?? 500);
    this.timer.unref();
    if (this.options.listen ?? true) void this.listen();
  }

  private listening = false;

  private async listen(): Promise<void> {
    if (this.closed || this.listening || this.listener !== null) return;
    this.listening = true;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: this.options.connectTimeoutMs ?? 2_000 });
    let dropped = false;
    const drop = (): void => {
      if (dropped) return;
      dropped = true;
      if (this.listener === client) this.listener = null;
      void client.end().catch(() => undefined);
      // Listen again soon (the revision check goes on meanwhile).
      if (!this.closed) setTimeout(() => void this.listen(), 500).unref();
    };
    client.on('error', (error) => {
      this.lost(error);
      drop();
    });
    client.on('end', drop);
    client.on('notification', (message) => {
      const revision = Number(message.payload);
      // The lag runs from the arrival of the newest revision notified and not yet served.
      if (Number.isSafeInteger(revision) && revision !== this.ownRevision && revision > (this.snapshot?.revision ?? -1) && revision > (this.notified?.revision ?? -1)) {
        this.notified = { revision, at: performance.now() };
      }
      this.refresh();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      if (this.isClosed()) {
        await client.end();
        return;
      }
      this.listener = client;
      // Notifications sent while no connection listened are lost: look once now.
      this.refresh();
    } catch (error) {
      this.lost(error);
      drop();
    } finally {
      this.listening = false;
    }
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch ?? 64);
        await this.commit(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async commit(batch: readonly PendingWrite[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.lost(error);
      for (const w of batch) w.reject(unavailable(error, 'so nothing was written'));
      return;
    }
    const outcomes: ({ ok: true; result: unknown; warnings: readonly string[] } | { ok: false; error: unknown })[] = [];
    let committing = false;
    let broken: unknown = undefined;
    // The connection can break between two queries (the database restarting while the
    // operations run): node-postgres then emits 'error' on the client, which must not crash
    // the process; the next query fails and the write answers 503.
    const onError = (error: Error): void => {
      this.lost(error);
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [lockKey(this.account)]);
      const head = await client.query<{ revision: string }>('SELECT revision FROM allot_workspace WHERE account = $1', [this.account]);
      if (head.rows[0] === undefined) throw new ApiError(503, 'UNAVAILABLE', `the account ${this.account} is gone from the database; restart the server to create it again`);
      const startRevision = Number(head.rows[0].revision);
      let start: Workspace;
      if (this.writeBase !== null && this.writeBase.revision === startRevision) {
        start = this.writeBase.workspace;
      } else {
        const { rows } = await client.query<{ document: string; secrets: Record<string, string> }>('SELECT document, secrets FROM allot_workspace WHERE account = $1', [this.account]);
        start = parseWorkspace(rows[0]!.document, { source: `account ${this.account} in the database`, retainBitsets: true, secrets: secretsMap(rows[0]!.secrets) });
      }
      const time = new Date();
      const entries: AuditEntry[] = [];
      let workspace = start;
      let revision = startRevision;
      for (const w of batch) {
        try {
          // The one gate every change passes (as on the file store): a result that would
          // not parse, validate and compile again is refused, and this write fails alone.
          const o = applyOperation(workspace, w.operation);
          // Described before it counts: a description that refuses the change (a team
          // token's scope) fails this write alone, and takes no revision.
          const entry = auditEntry(w.change ?? UNDESCRIBED, revision + 1, time, workspace, o.workspace);
          revision++;
          entries.push(entry);
          workspace = o.workspace;
          outcomes.push({ ok: true, result: o.result, warnings: o.warnings });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      if (revision === startRevision) {
        await client.query('ROLLBACK');
        for (const [i, w] of batch.entries()) w.reject((outcomes[i] as { error: unknown }).error);
        return;
      }
      // A client whose secret is unknown (a document copied in from a file without its
      // secrets file) gets one, kept in the row beside the document, never in it.
      workspace = withClientSecrets(workspace);
      const document = serializeWorkspace(workspace, this.format);
      await client.query('UPDATE allot_workspace SET revision = $2, document = $3, secrets = $4, format = $5, updated_at = now() WHERE account = $1', [
        this.account,
        revision,
        document,
        secretsOf(workspace),
        this.format,
      ]);
      await appendAudit(client, this.account, entries);
      await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, String(revision)]);
      committing = true;
      this.ownRevision = revision;
      await client.query('COMMIT');
      this.confirmed();
      const snapshot = new WorkspaceSnapshot(workspace, etagOf(document), revision);
      if ((this.snapshot?.revision ?? -1) < revision) {
        this.snapshot = snapshot;
        this.listeners.emit(snapshot);
      }
      // A revision another instance notified, which this write started from, is served now.
      this.served(revision);
      this.writeBase = { revision, workspace };
      batch.forEach((w, i) => {
        const o = outcomes[i]!;
        if (o.ok) w.resolve({ result: o.result, warnings: o.warnings, snapshot });
        else w.reject(o.error);
      });
    } catch (error) {
      if (isConnectionError(error)) {
        broken = error;
        this.lost(error);
      } else {
        await client.query('ROLLBACK').catch(() => undefined);
      }
      const failure = !isConnectionError(error)
        ? error
        : committing
          ? unavailable(error, 'while the write was committing, so it may or may not have been applied: read the resource to see')
          : unavailable(error, 'so nothing was written');
      for (const w of batch) w.reject(failure);
    } finally {
      client.off('error', onError);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
}
