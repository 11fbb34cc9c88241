/**
 * `allot store copy`: a workspace, with its audit log, from a workspace file into a
 * PostgreSQL database and back. The document is moved as it is stored (the file's bytes
 * into the row, the row's bytes into the file), and each audit entry as its line of JSON, so
 * a round trip gives byte-identical files. The file's audit log is the one beside it
 * (`allot.yaml` → `allot.audit.jsonl`), when there is one.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

import { parseWorkspace, readSecrets, secretsPathOf, secretsText, serializeWorkspace, writeAtomically, type WorkspaceFormat } from '@allot/admin';
import { auditLogPath, parseEntryLine, type ChainedEntry } from '@allot/server';
import pg from 'pg';

import { insertEntries } from './audit-table.js';
import { migrate } from './migrations.js';

function formatOf(path: string): WorkspaceFormat {
  return path.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
}

/** A refusal of `allot store copy`: what was wrong, and what to do. */
export class CopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyError';
  }
}

export interface CopyReport {
  readonly account: string;
  readonly revision: number;
  readonly auditEntries: number;
}

/** One line of the file's audit log as the audit module reads it (`parseEntryLine`); `where` names it in errors. */
function auditLine(text: string, where: string): ChainedEntry {
  const read = parseEntryLine(text);
  if ('unreadable' in read) throw new CopyError(`${where} is not an allot audit entry (${read.unreadable}); run "allot log verify" on the file to see what happened to it`);
  return read;
}

/**
 * Copies the workspace file at `path` (and its audit log) into the database at `url`, as a
 * new account. Refuses when the database already holds that account.
 */
export async function copyFileToDatabase(path: string, url: string): Promise<CopyReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CopyError(`cannot read the workspace file ${path}: ${(error as Error).message}`);
  }
  // The secrets file beside the workspace, or secrets still inside a document written before
  // they moved out: either way they go to the row's secrets column, never into the document.
  const workspace = parseWorkspace(text, { source: path, secrets: await readSecrets(secretsPathOf(path)) });
  const secrets = JSON.stringify(Object.fromEntries(workspace.clients.filter((c) => c.secret !== '').map((c) => [c.id, c.secret])));
  const auditPath = auditLogPath(path);
  const lines = existsSync(auditPath) ? (await readFile(auditPath, 'utf8')).split('\n') : [];
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const entries = lines.map((line, i) => auditLine(line, `${auditPath} line ${i + 1}`));
  const last = entries[entries.length - 1];
  const revision = last?.revision ?? entries.length;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(client);
    await client.query('BEGIN');
    const exists = await client.query('SELECT revision FROM allot_workspace WHERE account = $1 FOR UPDATE', [workspace.account]);
    if (exists.rows.length > 0) {
      throw new CopyError(`the database already holds account ${workspace.account}; copy into a database without it (allot never overwrites a stored workspace)`);
    }
    await client.query('INSERT INTO allot_workspace (account, revision, format, document, secrets) VALUES ($1, $2, $3, $4, $5)', [
      workspace.account,
      revision,
      formatOf(path),
      text,
      secrets,
    ]);
    // Each line as it is, ordered (the seq column) by its place in the file, so a file edited by
    // hand copies as it is and verifies (or fails to) as it did.
    for (let i = 0; i < entries.length; i += 500) {
      await insertEntries(client, workspace.account, entries.slice(i, i + 500).map((entry, k) => ({ entry: { ...entry, seq: i + k + 1 }, line: lines[i + k]! })));
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
  return { account: workspace.account, revision, auditEntries: entries.length };
}

/**
 * Copies the database's workspace (the only account, or `account`) and its audit log into a
 * new workspace file at `path`. Refuses to overwrite an existing file or audit log.
 */
export async function copyDatabaseToFile(url: string, path: string, account?: string): Promise<CopyReport> {
  const auditPath = auditLogPath(path);
  const secretsPath = secretsPathOf(path);
  for (const p of [path, auditPath, secretsPath]) {
    if (existsSync(p)) throw new CopyError(`${p} exists; copy to a new path (allot never overwrites a workspace or its audit log)`);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let report: CopyReport;
  try {
    // A repeatable-read snapshot: the row and its audit entries as of one moment.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const rows = (
      await client.query<{ account: string; revision: string; format: WorkspaceFormat; document: string; secrets: Record<string, string> }>(
        'SELECT account, revision, format, document, secrets FROM allot_workspace WHERE $1::text IS NULL OR account = $1 ORDER BY account',
        [account ?? null],
      )
    ).rows;
    if (rows.length === 0) throw new CopyError(account === undefined ? `the database at ${redact(url)} holds no workspace` : `the database holds no account ${account}`);
    if (rows.length > 1) throw new CopyError(`the database holds ${rows.length} accounts (${rows.map((r) => r.account).join(', ')}); name one with --account`);
    const row = rows[0]!;
    const audit = await client.query<{ entry: string }>('SELECT entry FROM allot_audit_log WHERE account = $1 ORDER BY seq', [row.account]);
    await client.query('COMMIT');
    const text = row.format === formatOf(path) ? row.document : serializeWorkspace(parseWorkspace(row.document), formatOf(path));
    const secrets = new Map(Object.entries(row.secrets));
    if (secrets.size > 0) await writeAtomically(secretsPath, secretsText(secrets, formatOf(path)), { mode: 0o600 });
    if (audit.rows.length > 0) await writeAtomically(auditPath, audit.rows.map((r) => `${r.entry}\n`).join(''));
    await writeAtomically(path, text);
    report = { account: row.account, revision: Number(row.revision), auditEntries: audit.rows.length };
  } finally {
    await client.end();
  }
  return report;
}

/** `url` without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the database';
  }
}
