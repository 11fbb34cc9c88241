/**
 * @allot/pg-store: the workspace in PostgreSQL, for several `allot serve` instances on one
 * database (node-postgres 8). Writes are serialized per account in one transaction each;
 * instances follow each other through LISTEN/NOTIFY and a periodic revision check.
 *
 * ```ts
 * import { AllotServer } from '@allot/server';
 * import { PgStore } from '@allot/pg-store';
 *
 * const server = await AllotServer.start({ store: new PgStore('postgres://allot@db/allot'), port: 4747 });
 * ```
 */
export { PgStore, NOTIFY_CHANNEL, isConnectionError, type PgStoreOptions } from './pg-store.js';
export { MIGRATIONS, SCHEMA_VERSION, SchemaTooNewError, type Migration } from './migrations.js';
export { openAuditLog, PgAuditLog } from './audit-table.js';
export { copyDatabaseToFile, copyFileToDatabase, CopyError, redact, type CopyReport } from './copy.js';
