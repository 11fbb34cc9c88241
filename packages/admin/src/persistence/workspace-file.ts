/**
 * A workspace document on disk. `update` applies an operation under an exclusive lock,
 * re-reading the file inside the lock so concurrent processes never lose an update, and
 * writes atomically (temp file, fsync, rename, fsync of the directory), so a reader never
 * sees a half-written file. The etag is a hash of the file's bytes, for optimistic
 * concurrency over HTTP (`If-Match` → ETAG_MISMATCH → 412).
 *
 * Two things the lock cannot keep out are handled too: a person saving the file in an
 * editor (which takes no lock) while an update is being made — the file is read again just
 * before the rename, and if it changed the update is refused (ETAG_MISMATCH) instead of
 * overwriting the edit — and temp files left by a writer killed mid-write, removed by the
 * next update once their process is gone (or they are older than the lock's `staleMs`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { AdminError } from '../errors.js';
import { applyOperation } from '../operations/apply.js';
import type { Outcome } from '../operations/outcome.js';
import { newWorkspace, type NewWorkspaceOptions } from '../workspace/create.js';
import type { Workspace } from '../workspace/model.js';
import { parseWorkspace, type ParseOptions } from '../workspace/parse.js';
import { ParsedEntries } from '../workspace/parsed-entries.js';
import { readSecrets, secretsPathOf, secretsText } from './secrets-file.js';
import { serializeWorkspace, type WorkspaceFormat } from '../workspace/serialize.js';
import { processAlive, withLock, type LockOptions } from './lock.js';

export interface Snapshot {
  readonly workspace: Workspace;
  /** Hash of the file's bytes: changes whenever the file does. */
  readonly etag: string;
}

export interface UpdateResult<R> extends Snapshot {
  readonly result: R;
  readonly warnings: readonly string[];
  /** Whether the file was written (false when the operation changed nothing). */
  readonly written: boolean;
  /** Whether the file was created by this update. */
  readonly created: boolean;
}

export interface UpdateOptions {
  /** Refuse with ETAG_MISMATCH unless the file's etag is this one. */
  readonly ifMatch?: string;
  /** Create the file (an empty workspace with these options) when it does not exist. */
  readonly create?: NewWorkspaceOptions | boolean;
  /**
   * Runs under the lock once the file holds the result (or was left as it was), before the
   * lock is released: whatever must be recorded with the change (an audit log) is recorded
   * before another writer can follow it. If it throws, the update rejects with its error.
   */
  readonly afterWrite?: (update: AfterWrite) => Promise<void>;
}

/** What `UpdateOptions.afterWrite` is told. */
export interface AfterWrite {
  /** The workspace as read under the lock, and the etag of those bytes ('' when the file was created). */
  readonly before: Workspace;
  readonly beforeEtag: string;
  /** The workspace now in the file, and its etag. */
  readonly workspace: Workspace;
  readonly etag: string;
  readonly written: boolean;
}

export interface WorkspaceFileOptions {
  readonly lock?: LockOptions;
  /** The document format; by default JSON for a `.json` file, YAML otherwise. */
  readonly format?: WorkspaceFormat;
}

/**
 * `workspace` with a fresh secret for every client that has none (its secrets were not
 * found: a secrets file missing, or a store that keeps secrets apart from the document).
 */
export function withClientSecrets(workspace: Workspace): Workspace {
  if (workspace.clients.every((c) => c.secret !== '')) return workspace;
  return { ...workspace, clients: workspace.clients.map((c) => (c.secret === '' ? { ...c, secret: `secret-${randomBytes(16).toString('hex')}` } : c)) };
}

/** The etag of a document's bytes. */
export function etagOf(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

export class WorkspaceFile {
  readonly path: string;
  /** Where the clients' secrets are kept, beside the workspace (see `secretsPathOf`). */
  readonly secretsPath: string;
  readonly format: WorkspaceFormat;
  private readonly lockOptions: LockOptions;
  /**
   * The workspace this object last wrote (or found unchanged), with the bytes it wrote: an
   * update that finds the file still holding them, with the same secrets, starts from it
   * instead of parsing them again. It passed the gate, so the update's gate checks only what
   * the operation changes (`applyOperation`).
   */
  private last: { readonly text: string; readonly etag: string; readonly workspace: Workspace } | null = null;
  /**
   * The segments, flags and groups of the document `parse` read last, by their entry's text:
   * a read after an edit parses only the entries whose text changed (at 10,000 segments,
   * a one-segment edit read again in 0.13–0.17 s where the whole document took 3.2–3.7 s).
   */
  private readonly entries = new ParsedEntries();

  constructor(path: string, options: WorkspaceFileOptions = {}) {
    this.path = path;
    this.secretsPath = secretsPathOf(path);
    this.format = options.format ?? (path.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
    this.lockOptions = options.lock ?? {};
  }

  /** Reads and parses the file; NOT_FOUND when it does not exist, INVALID_WORKSPACE when it is bad. */
  async read(): Promise<Snapshot> {
    const text = await this.readText();
    if (text === null) throw new AdminError('NOT_FOUND', `workspace file ${this.path} does not exist`, { path: this.path });
    return { workspace: await this.parse(text), etag: etagOf(text) };
  }

  /** Parses `text`, this file's content, with the clients' secrets from the secrets file. */
  async parse(text: string, options: Omit<ParseOptions, 'source' | 'secrets'> = {}): Promise<Workspace> {
    return parseWorkspace(text, { entries: this.entries, ...options, source: this.path, secrets: await readSecrets(this.secretsPath) });
  }

  /** Whether the file exists. */
  async exists(): Promise<boolean> {
    return (await this.readText()) !== null;
  }

  /**
   * Applies `operation` to the current workspace under the lock, through `applyOperation`
   * (so a result that would not load again is refused), and writes the result. When the
   * operation throws or is refused, the file is left exactly as it was and the error propagates.
   */
  async update<R>(operation: (workspace: Workspace) => Outcome<R>, options: UpdateOptions = {}): Promise<UpdateResult<R>> {
    return withLock(`${this.path}.lock`, async () => {
      const text = await this.readText();
      let before: Workspace;
      let created = false;
      if (text === null) {
        if (options.create === undefined || options.create === false) {
          throw new AdminError('NOT_FOUND', `workspace file ${this.path} does not exist`, { path: this.path });
        }
        before = newWorkspace(options.create === true ? {} : options.create);
        created = true;
      } else {
        before = await this.workspaceIn(text);
      }
      const etag = text === null ? '' : text === this.last?.text ? this.last.etag : etagOf(text);
      if (options.ifMatch !== undefined && options.ifMatch !== etag) {
        throw new AdminError('ETAG_MISMATCH', `the workspace changed since it was read (etag ${etag || 'none'}, expected ${options.ifMatch}); read it again and retry`, { path: this.path });
      }
      const outcome = applyOperation(before, operation);
      const workspace = withClientSecrets(outcome.workspace);
      const next = serializeWorkspace(workspace, this.format);
      // The secrets first: a workspace written without its secrets (moved out of a document
      // written before they were) never depends on a secrets file that was not written.
      const secretsWritten = await this.writeSecrets(workspace);
      const written = next !== text;
      if (written) {
        await removeOrphanTemps(this.path, this.lockOptions.staleMs ?? 60_000);
        await writeAtomically(this.path, next, { unlessChangedFrom: text });
      }
      const nextEtag = etagOf(next);
      this.last = { text: next, etag: nextEtag, workspace };
      await options.afterWrite?.({ before, beforeEtag: etag, workspace, etag: nextEtag, written });
      return { workspace, etag: nextEtag, result: outcome.result, warnings: outcome.warnings, written: written || secretsWritten, created };
    }, this.lockOptions);
  }

  /** The workspace `text` (this file's bytes, read under the lock) holds: the last one written when they are its bytes. */
  private async workspaceIn(text: string): Promise<Workspace> {
    const secrets = await readSecrets(this.secretsPath);
    const last = this.last;
    // What parsing would give: the document's clients take their secrets from the secrets file.
    if (last?.text === text && last.workspace.clients.every((c) => c.secret === (secrets.get(c.id) ?? ''))) return last.workspace;
    return parseWorkspace(text, { source: this.path, secrets, retainBitsets: true });
  }

  /** Writes the secrets file when its content is not `workspace`'s secrets; whether it did. */
  private async writeSecrets(workspace: Workspace): Promise<boolean> {
    const text = secretsText(new Map(workspace.clients.map((c) => [c.id, c.secret])), this.format);
    let current: string | null = null;
    try {
      current = await readFile(this.secretsPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (current === text) return false;
    await writeAtomically(this.secretsPath, text, { mode: 0o600 });
    return true;
  }

  private async readText(): Promise<string | null> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }
}

export interface WriteOptions {
  /**
   * The file's content when it was read (null: it did not exist). If the file no longer
   * holds it when the new content is about to replace it, nothing is written and
   * ETAG_MISMATCH is thrown: someone changed it in between, without the lock.
   */
  readonly unlessChangedFrom?: string | null;
  /** The new file's permissions; default 0644 (the secrets file: 0600). */
  readonly mode?: number;
}

/** Writes `text` to `path` so that readers see the old file or the new one, never a mix. */
export async function writeAtomically(path: string, text: string, options: WriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `${tempPrefix(path)}${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    if (options.unlessChangedFrom !== undefined) await checkUnchanged(path, options.unlessChangedFrom);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // Make the rename itself durable.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dirHandle.close();
  }
}

/** `.allot.yaml.` for `dir/allot.yaml`: temp files are `.allot.yaml.PID.HEX.tmp`. */
function tempPrefix(path: string): string {
  return `.${basename(path)}.`;
}

async function checkUnchanged(path: string, expected: string | null): Promise<void> {
  let now: string | null;
  try {
    now = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    now = null;
  }
  if (now === expected) return;
  throw new AdminError(
    'ETAG_MISMATCH',
    `the file changed on disk while this update was being made (saved by hand or by a tool that does not take the lock ${path}.lock?); ` +
      'nothing was written, so that change is kept: retry, and the update applies to the new content',
    { path },
  );
}

/**
 * Removes temp files of `path` left by writers that were killed mid-write: those whose
 * process (the PID in the name) is no longer running on this host, or older than `staleMs`.
 * Called under the lock, where no live writer of this file can be writing one.
 */
async function removeOrphanTemps(path: string, staleMs: number): Promise<void> {
  const dir = dirname(path);
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const temp = join(dir, name);
    let stale = !processAlive(Number(m[1]));
    if (!stale) {
      try {
        stale = Date.now() - (await stat(temp)).mtimeMs > staleMs;
      } catch {
        continue;
      }
    }
    if (stale) await unlink(temp).catch(() => undefined);
  }
}
