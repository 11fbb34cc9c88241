/**
 * The audit log as a table: one row per accepted change, appended in the write's own
 * transaction. A row's `entry` column holds exactly what a line of the workspace file's
 * audit log holds (`allot.audit.jsonl`): the audit module's entry (`@allot/server`'s
 * `ChainedEntry`: revision, time, actor, operation, request, name-keyed before and after,
 * impact, seq, prev, hash), chained by the same `chainEntry` and written with the same
 * `JSON.stringify`. So one `verifyChain` verifies both stores, and `allot store copy` moves
 * entries between them byte for byte. The other columns (seq, revision, time, actor,
 * operation, resource, prev_hash, hash) are copies for ordering and filtering; `verifyChain`
 * reads only `entry`, in `seq` order.
 */
import {
  chainEntry,
  parseEntryLine,
  verifyChain,
  type AuditEntry,
  type AuditSource,
  type ChainedEntry,
  type ChainVerdict,
  type ReadEntry,
} from '@allot/server';
import pg from 'pg';

/** The rows' columns, as `INSERT` takes them, for one chained entry and its line. */
function columns(account: string, e: ChainedEntry, line: string): unknown[] {
  return [
    account,
    e.seq,
    e.revision,
    e.time,
    e.actor,
    e.operation,
    e.resource,
    line,
    e.prev,
    e.hash,
  ];
}

const INSERT_COLUMNS =
  '(account, seq, revision, time, actor, operation, resource, entry, prev_hash, hash)';

/** Inserts chained entries with their lines (one statement), inside the caller's transaction. */
export async function insertEntries(
  client: pg.ClientBase,
  account: string,
  rows: readonly { readonly entry: ChainedEntry; readonly line: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  const values: unknown[] = [];
  const tuples: string[] = [];
  for (const { entry, line } of rows) {
    const base = values.length;
    tuples.push(`(${Array.from({ length: 10 }, (_, i) => `$${base + i + 1}`).join(', ')})`);
    values.push(...columns(account, entry, line));
  }
  await client.query(
    `INSERT INTO allot_audit_log ${INSERT_COLUMNS} VALUES ${tuples.join(', ')}`,
    values,
  );
}

/** Appends `entries` after the account's last one, chained as the file store chains them, inside the caller's transaction. */
export async function appendAudit(
  client: pg.ClientBase,
  account: string,
  entries: readonly AuditEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  const last = await client.query<{ entry: string }>(
    'SELECT entry FROM allot_audit_log WHERE account = $1 ORDER BY seq DESC LIMIT 1',
    [account],
  );
  let previous: ChainedEntry | null = null;
  if (last.rows[0] !== undefined) {
    const read = parseEntryLine(last.rows[0].entry);
    if ('unreadable' in read) {
      throw new Error(
        `the newest row of allot_audit_log for account ${account} cannot be read (${read.unreadable}); run "allot log verify --store …" to see what happened to the table`,
      );
    }
    previous = read;
  }
  const rows = entries.map((e) => {
    previous = chainEntry(previous, e);
    return { entry: previous, line: JSON.stringify(previous) };
  });
  await insertEntries(client, account, rows);
}

/**
 * The table of one account as an `AuditSource` (for `GET /v1/auditLog`) and for `allot log`:
 * its entries in `seq` order, streamed in pages so a long log is never held whole.
 */
export class PgAuditLog implements AuditSource {
  constructor(
    private readonly pool: pg.Pool,
    /** The account, asked for each read (a store learns it when it starts). */
    private readonly account: () => string,
    private readonly pageRows = 500,
  ) {}

  /** Every row's entry in `seq` order; a row whose entry is not one comes as `{unreadable}`. */
  async *entries(): AsyncGenerator<ReadEntry> {
    let after: string | null = null;
    for (;;) {
      const { rows }: { rows: { seq: string; entry: string }[] } = await this.pool.query<{
        seq: string;
        entry: string;
      }>(
        'SELECT seq, entry FROM allot_audit_log WHERE account = $1 AND ($2::bigint IS NULL OR seq > $2::bigint) ORDER BY seq LIMIT $3',
        [this.account(), after, this.pageRows],
      );
      for (const row of rows) yield parseEntryLine(row.entry);
      if (rows.length < this.pageRows) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  verify(): Promise<ChainVerdict> {
    return verifyChain(this.entries());
  }
}

/**
 * The audit table of `account` (default: the database's only account) in the database at
 * `url`, read over a pool of its own; `close` ends it. Refuses, naming the accounts, when
 * the database holds none or several and none was named. Creates and migrates nothing.
 */
export async function openAuditLog(
  url: string,
  account?: string,
): Promise<{ readonly log: PgAuditLog; readonly account: string; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const tables = await pool.query<{ found: string | null }>(
      "SELECT to_regclass('allot_workspace')::text AS found",
    );
    if (tables.rows[0]?.found == null)
      throw new Error(
        'the database holds no allot schema (no allot_workspace table); start "allot serve --store" on it, or "allot store copy" into it, first',
      );
    const { rows } = await pool.query<{ account: string }>(
      'SELECT account FROM allot_workspace WHERE $1::text IS NULL OR account = $1 ORDER BY account',
      [account ?? null],
    );
    if (rows.length === 0)
      throw new Error(
        account === undefined
          ? 'the database holds no account'
          : `the database holds no account ${account}`,
      );
    if (rows.length > 1)
      throw new Error(
        `the database holds ${rows.length} accounts (${rows.map((r) => r.account).join(', ')}); name one with --account`,
      );
    const chosen = rows[0]!.account;
    return { log: new PgAuditLog(pool, () => chosen), account: chosen, close: () => pool.end() };
  } catch (error) {
    await pool.end();
    throw error;
  }
}
