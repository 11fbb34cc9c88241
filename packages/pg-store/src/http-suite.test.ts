/**
 * The server's HTTP test suite (server, hostile input, resources, validateOnly, bucket map,
 * team-scoped tokens, the audit log endpoint) run again with every test server on
 * PostgreSQL: a fresh database per server in one private cluster. What the suite checks on the file store (refusals, limits, 412 on a stale etag,
 * validateOnly leaving the stored bytes alone) it checks here on the database row.
 */
import { parseWorkspace, type Workspace } from '@allot/admin';
import type { Store } from '@allot/server';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';

import { PgStore } from './pg-store.js';
import { PgCluster, pgMissing } from './testing/pg-cluster.js';

/** The contract of @allot/server's test fixture (src/testing/test-server.ts, `useTestStore`). */
interface TestStoreKind {
  readonly kind: 'postgres';
  create(): Promise<{ store: Store; bytes(): Promise<string>; read(): Promise<Workspace>; dispose(): Promise<void> }>;
}

const SUITE = [
  'server.test.ts',
  'hostile-input.test.ts',
  'resources/resources.test.ts',
  'resources/validate-only.test.ts',
  'map/bucket-map.test.ts',
  // Team scopes (checked by the audit change's describe, inside the transaction) and GET /v1/auditLog over the table.
  'auth/write-limits.test.ts',
  'audit/audit-routes.test.ts',
];

if (pgMissing !== null) {
  describe('the HTTP suite on PostgreSQL', () => {
    it.skip(`skipped: ${pgMissing}`, () => undefined);
  });
} else {
  let cluster: Promise<PgCluster> | null = null;
  let databases = 0;
  afterAll(async () => {
    if (cluster !== null) await (await cluster).stop();
  });
  const kind: TestStoreKind = {
    kind: 'postgres',
    async create() {
      cluster ??= PgCluster.start();
      const url = await (await cluster).createDatabase(`suite_${databases++}`);
      const row = async (): Promise<{ document: string; secrets: Record<string, string> }> => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const { rows } = await client.query<{ document: string; secrets: Record<string, string> }>('SELECT document, secrets FROM allot_workspace');
          if (rows.length !== 1) throw new Error(`expected one account in ${url}, found ${rows.length}`);
          return rows[0]!;
        } finally {
          await client.end();
        }
      };
      const document = async (): Promise<string> => (await row()).document;
      return {
        store: new PgStore(url),
        bytes: document,
        // The workspace with its clients' secrets, kept beside the document as on the file store.
        read: async () => {
          const { document: text, secrets } = await row();
          return parseWorkspace(text, { secrets: new Map(Object.entries(secrets)) });
        },
        // The database goes with the cluster, stopped after the file's last test.
        dispose: () => Promise.resolve(),
      };
    },
  };
  (globalThis as Record<symbol, unknown>)[Symbol.for('allot.testStore')] = kind;
  for (const file of SUITE) {
    await import(/* @vite-ignore */ new URL(`../../server/src/${file}`, import.meta.url).href);
  }
}
