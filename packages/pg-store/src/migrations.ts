/**
 * The database schema, as versioned migrations. Each runs once, in its own transaction,
 * and is recorded in `allot_schema_migrations`; `migrate` runs the missing ones at start,
 * under a session advisory lock so that instances starting together take turns. A database
 * whose schema is newer than this build knows is refused: an older binary must not write
 * to tables it does not understand.
 */
import type { ClientBase } from 'pg';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'workspace and audit log',
    sql: `
      CREATE TABLE allot_workspace (
        account    text PRIMARY KEY,
        revision   bigint NOT NULL CHECK (revision >= 0),
        format     text NOT NULL CHECK (format IN ('yaml', 'json')),
        document   text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE allot_audit_log (
        account   text NOT NULL REFERENCES allot_workspace (account),
        seq       bigint NOT NULL CHECK (seq >= 1),
        revision  bigint,
        time      timestamptz NOT NULL,
        actor     text NOT NULL,
        operation text NOT NULL,
        resource  text,
        entry     text NOT NULL,
        prev_hash text NOT NULL,
        hash      text NOT NULL,
        PRIMARY KEY (account, seq)
      );
      CREATE UNIQUE INDEX allot_audit_log_revision ON allot_audit_log (account, revision);
      CREATE INDEX allot_audit_log_resource ON allot_audit_log (account, resource, seq);
    `,
  },
  {
    version: 2,
    name: 'client secrets beside the document',
    // As on the file store, the document holds no client secrets (it is what `allot store
    // copy` writes to a workspace file meant for git); they are kept by client id here.
    sql: `
      ALTER TABLE allot_workspace ADD COLUMN secrets jsonb NOT NULL DEFAULT '{}'::jsonb;
    `,
  },
];

/** The newest schema version this build knows. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A database whose schema this build does not know. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `the database's allot schema is at version ${found}, newer than this allot knows (version ${known}): ` +
        'another instance was upgraded and migrated it. Upgrade this allot to the same release before starting it on this database',
    );
    this.name = 'SchemaTooNewError';
  }
}

/** Any fixed number: the session lock migrating instances take turns on. */
const MIGRATION_LOCK = 0x616c6c6f74; // "allot"

/** Brings the schema up to `SCHEMA_VERSION`; returns the versions it applied. */
export async function migrate(client: ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS allot_schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM allot_schema_migrations');
    const current = rows[0]?.version ?? 0;
    const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
    if (current > known) throw new SchemaTooNewError(current, known);
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO allot_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      applied.push(m.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
  return applied;
}
