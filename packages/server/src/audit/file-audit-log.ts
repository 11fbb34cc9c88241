/**
 * The file store's audit log: JSON Lines beside the workspace, one chained entry per line,
 * only ever appended to. `allot.yaml` → `allot.audit.jsonl`: the same stem, so the two sort
 * together and travel together (commit both, or ignore both); `.jsonl` because each line is
 * one JSON object, which `jq`, `grep` and every log shipper read as it is. Appends happen
 * under the workspace's lock (the store calls `append` from inside its locked update) and
 * are fsynced before the write is acknowledged.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import type { AfterWrite } from '@allot/admin';

import type { AuditEntry, AuditLog } from '../store/audit-hook.js';
import { chainEntry, verifyChain, type ChainVerdict, type ReadEntry } from './chain.js';
import type { ChainedEntry } from './entry.js';
import { fileEditEntry } from './file-edits.js';

/** `dir/allot.yaml` → `dir/allot.audit.jsonl` (a `.yaml`, `.yml` or `.json` extension is replaced). */
export function auditLogPath(workspacePath: string): string {
  const name = basename(workspacePath).replace(/\.(ya?ml|json)$/i, '');
  return join(dirname(workspacePath), `${name}.audit.jsonl`);
}

/** Where the next entry chains on: the newest entry's place, hash and noted etag. */
type ChainTip = Pick<ChainedEntry, 'seq' | 'hash' | 'etag'>;

/** What the log says about the present, read from its lines. */
interface LogHead {
  /** The newest entry that could be read (null: the log is empty or missing), without its content. */
  readonly last: ChainTip | null;
  /** How many lines the log has (the next entry's `seq` is one more). */
  readonly count: number;
}

function tipOf(entry: ChainedEntry): ChainTip {
  return { hash: entry.hash, ...(entry.seq === undefined ? {} : { seq: entry.seq }), ...(entry.etag === undefined ? {} : { etag: entry.etag }) };
}

/** One line to an entry, or why it is not one. */
export function parseEntryLine(line: string): ReadEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { unreadable: 'the line is not JSON (edited by hand, or an append cut short by a crash)' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { unreadable: 'the line is not a JSON object' };
  const e = value as Record<string, unknown>;
  if (e.seq !== undefined && typeof e.seq !== 'number') return { unreadable: '"seq" is not a number' };
  for (const [field, type] of [['time', 'string'], ['actor', 'string'], ['operation', 'string'], ['prev', 'string'], ['hash', 'string']] as const) {
    if (typeof e[field] !== type) return { unreadable: `"${field}" is missing or not a ${type}` };
  }
  return value as ChainedEntry;
}

export class FileAuditLog implements AuditLog {
  readonly path: string;
  /**
   * The head as of the file's last known size, so appends need not re-read the file. Only
   * the tip: the resources' states (every segment and flag as the API shows it, 17 MB at
   * 10,000 segments) are read from the file on the rare update that needs them.
   */
  private cached: { readonly size: number; readonly ino: number; readonly head: LogHead } | null = null;

  constructor(workspacePath: string) {
    this.path = auditLogPath(workspacePath);
  }

  /** The entries in file order; a line that is not an entry comes as `{unreadable}`. */
  async *entries(): AsyncGenerator<ReadEntry> {
    const text = await this.text();
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const line of lines) yield parseEntryLine(line);
  }

  /** The readable entries, for listing (a broken chain is `verify`'s business). */
  async list(): Promise<ChainedEntry[]> {
    const out: ChainedEntry[] = [];
    for await (const e of this.entries()) if (!('unreadable' in e)) out.push(e);
    return out;
  }

  verify(): Promise<ChainVerdict> {
    return verifyChain(this.entries());
  }

  /** The newest entry's tip and the number of lines. Call under the workspace lock. */
  private async head(): Promise<LogHead> {
    const s = await stat(this.path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    });
    if (s === null) return { last: null, count: 0 };
    if (this.cached?.size === s.size && this.cached.ino === s.ino) return this.cached.head;
    let last: ChainedEntry | null = null;
    let count = 0;
    for await (const e of this.entries()) {
      count++;
      if (!('unreadable' in e)) last = e;
    }
    const head = { last: last === null ? null : tipOf(last), count };
    this.cached = { size: s.size, ino: s.ino, head };
    return head;
  }

  /** Every resource's state after the newest entry that touched it (null: deleted). Call under the workspace lock. */
  private async resources(): Promise<Map<string, unknown>> {
    const resources = new Map<string, unknown>();
    for await (const e of this.entries()) if (!('unreadable' in e)) noteResources(resources, e);
    return resources;
  }

  /**
   * Under the workspace lock, after the file update `update`: first an entry for a change
   * made to the file outside the server since the newest entry (its etag is not the one that
   * entry noted), then `entries`; the last one notes the file's etag now.
   */
  async appendAfterWrite(update: AfterWrite, entries: readonly AuditEntry[]): Promise<void> {
    const head = await this.head();
    const all: AuditEntry[] = [];
    if (head.last?.etag !== update.beforeEtag) {
      const outside = fileEditEntry(await this.resources(), update.before, new Date());
      all.push(update.beforeEtag === '' ? { ...outside, actor: 'allot', operation: 'create workspace' } : outside);
    }
    all.push(...entries);
    // A rewrite with no entry of its own (a hand-formatted file put back in canonical form).
    if (all.length === 0 && update.written) all.push(fileEditEntry(await this.resources(), update.workspace, new Date()));
    await this.write(head, all, update.etag);
  }

  /** Chains `entries` after the newest one and appends them in one write, fsynced. Call under the store's lock. */
  async append(entries: readonly AuditEntry[]): Promise<void> {
    await this.write(await this.head(), entries, undefined);
  }

  /** A last line cut short by a crash is left as it is (verify names it); the new entries start on a line of their own. */
  private async write(head: LogHead, entries: readonly AuditEntry[], etag: string | undefined): Promise<void> {
    if (entries.length === 0) return;
    const chained: ChainedEntry[] = [];
    let previous = head.last;
    entries.forEach((e, i) => {
      const entry = chainEntry(previous, e, { seq: head.count + i + 1, ...(i === entries.length - 1 && etag !== undefined ? { etag } : {}) });
      chained.push(entry);
      previous = entry;
    });
    const handle = await open(this.path, 'a+', 0o644);
    try {
      const { size } = await handle.stat();
      let separator = '';
      if (size > 0) {
        const lastByte = Buffer.alloc(1);
        await handle.read(lastByte, 0, 1, size - 1);
        if (lastByte[0] !== 0x0a) separator = '\n';
      }
      await handle.appendFile(separator + chained.map((e) => `${JSON.stringify(e)}\n`).join(''));
      await handle.sync();
      const after = await handle.stat();
      this.cached = { size: after.size, ino: after.ino, head: { last: tipOf(chained[chained.length - 1]!), count: head.count + chained.length } };
    } finally {
      await handle.close();
    }
    if (head.last === null) await syncDirectory(dirname(this.path));
  }

  private async text(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  }
}

/** Each resource's state after `entry` (its `after` maps resource names to states). */
function noteResources(resources: Map<string, unknown>, entry: ChainedEntry): void {
  if (typeof entry.after !== 'object' || entry.after === null) return;
  for (const [name, state] of Object.entries(entry.after)) resources.set(name, state);
}

/** Makes a new file's directory entry durable; some file systems refuse, and the data is synced anyway. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // As writeAtomically: fsync on a directory is not supported everywhere.
  } finally {
    await handle.close();
  }
}
