/**
 * The audit log as a table: one row per accepted change, appended in the write's own
 * transaction, each chained to the one before it by SHA-256 over the previous hash and the
 * entry's canonical JSON (object keys sorted, no whitespace; RFC 8785 for the values allot
 * writes), with `prev` a field of the hashed entry and the first entry's `prev` 64 zeros.
 * The `entry` column holds the entry's JSON exactly as a line of the workspace file's
 * audit log holds it, so `allot store copy` moves entries between the two byte for byte.
 */
import { createHash } from 'node:crypto';

import type { AuditEntry } from '@allot/server';
import type { PoolClient } from 'pg';

/** The `prev` of the first entry. */
export const GENESIS: string = '0'.repeat(64);

/** Canonical JSON: sorted keys, no whitespace, `undefined` members left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined || (typeof value === 'number' && !Number.isFinite(value))) throw new TypeError(`canonical JSON cannot hold ${String(value)}`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/** SHA-256 (hex) of `prev` followed by the canonical JSON of the entry with `prev` in it. */
export function entryHash(entry: object, prev: string): string {
  return createHash('sha256').update(prev, 'utf8').update(canonicalJson({ ...entry, prev }), 'utf8').digest('hex');
}

/** Appends `entries` after the account's last one, inside the caller's transaction. */
export async function appendAudit(client: PoolClient, account: string, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const last = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM allot_audit_log WHERE account = $1 ORDER BY seq DESC LIMIT 1', [account]);
  let seq = last.rows.length === 0 ? 0 : Number(last.rows[0]!.seq);
  let prev = last.rows.length === 0 ? GENESIS : last.rows[0]!.hash;
  const values: unknown[] = [];
  const tuples: string[] = [];
  for (const e of entries) {
    seq++;
    const hash = entryHash(e, prev);
    const line = canonicalJson({ ...e, prev, hash });
    const base = values.length;
    tuples.push(`(${Array.from({ length: 10 }, (_, i) => `$${base + i + 1}`).join(', ')})`);
    values.push(account, seq, e.revision, e.time, e.actor, e.operation, e.resource, line, prev, hash);
    prev = hash;
  }
  await client.query(
    `INSERT INTO allot_audit_log (account, seq, revision, time, actor, operation, resource, entry, prev_hash, hash) VALUES ${tuples.join(', ')}`,
    values,
  );
}
