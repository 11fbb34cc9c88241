/**
 * A workspace document on disk. `update` applies an operation under an exclusive lock,
 * re-reading the file inside the lock so concurrent processes never lose an update, and
 * writes atomically (temp file, fsync, rename, fsync of the directory), so a reader never
 * sees a half-written file. The etag is a hash of the file's bytes, for optimistic
 * concurrency over HTTP (`If-Match` → ETAG_MISMATCH → 412).
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { AdminError } from '../errors.js';
import type { Outcome } from '../operations/outcome.js';
import { newWorkspace, type NewWorkspaceOptions } from '../workspace/create.js';
import type { Workspace } from '../workspace/model.js';
import { parseWorkspace } from '../workspace/parse.js';
import { serializeWorkspace, type WorkspaceFormat } from '../workspace/serialize.js';
import { withLock, type LockOptions } from './lock.js';

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
}

export interface WorkspaceFileOptions {
  readonly lock?: LockOptions;
  /** The document format; by default JSON for a `.json` file, YAML otherwise. */
  readonly format?: WorkspaceFormat;
}

/** The etag of a document's bytes. */
export function etagOf(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

export class WorkspaceFile {
  readonly path: string;
  readonly format: WorkspaceFormat;
  private readonly lockOptions: LockOptions;

  constructor(path: string, options: WorkspaceFileOptions = {}) {
    this.path = path;
    this.format = options.format ?? (path.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
    this.lockOptions = options.lock ?? {};
  }

  /** Reads and parses the file; NOT_FOUND when it does not exist, INVALID_WORKSPACE when it is bad. */
  async read(): Promise<Snapshot> {
    const text = await this.readText();
    if (text === null) throw new AdminError('NOT_FOUND', `workspace file ${this.path} does not exist`, { path: this.path });
    return { workspace: parseWorkspace(text, { source: this.path }), etag: etagOf(text) };
  }

  /** Whether the file exists. */
  async exists(): Promise<boolean> {
    return (await this.readText()) !== null;
  }

  /**
   * Applies `operation` to the current workspace under the lock and writes the result. When
   * the operation throws, the file is left exactly as it was and the error propagates.
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
        before = parseWorkspace(text, { source: this.path, retainBitsets: true });
      }
      const etag = text === null ? '' : etagOf(text);
      if (options.ifMatch !== undefined && options.ifMatch !== etag) {
        throw new AdminError('ETAG_MISMATCH', `the workspace changed since it was read (etag ${etag || 'none'}, expected ${options.ifMatch}); read it again and retry`, { path: this.path });
      }
      const outcome = operation(before);
      const next = serializeWorkspace(outcome.workspace, this.format);
      const written = next !== text;
      if (written) await writeAtomically(this.path, next);
      return { workspace: outcome.workspace, etag: etagOf(next), result: outcome.result, warnings: outcome.warnings, written, created };
    }, this.lockOptions);
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

/** Writes `text` to `path` so that readers see the old file or the new one, never a mix. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
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
