/**
 * An exclusive lock between processes: a lock file created with O_EXCL holding the owner's
 * host, pid and a random token. A lock whose owner is a dead process on this host, or that
 * is older than `staleMs`, is broken, under a second O_EXCL "breaker" file so that two
 * processes breaking the same stale lock cannot remove a fresh one by mistake.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';

import { AdminError } from '../errors.js';

export interface LockOptions {
  /** Give up after this long (default 10 s): LOCK_TIMEOUT. */
  readonly timeoutMs?: number;
  /** A lock older than this is stale whatever its owner (default 60 s). */
  readonly staleMs?: number;
}

interface Owner {
  readonly host: string;
  readonly pid: number;
  readonly token: string;
}

/** Holds the lock at `lockPath` while `body` runs. */
export async function withLock<T>(lockPath: string, body: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const token = await acquire(lockPath, options);
  try {
    return await body();
  } finally {
    await release(lockPath, token);
  }
}

async function acquire(lockPath: string, options: LockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 60_000;
  const me: Owner = { host: hostname(), pid: process.pid, token: randomBytes(12).toString('hex') };
  const deadline = Date.now() + timeoutMs;
  let wait = 2;
  for (;;) {
    if (await createExclusive(lockPath, JSON.stringify(me))) return me.token;
    await breakIfStale(lockPath, staleMs);
    if (Date.now() > deadline) {
      throw new AdminError('LOCK_TIMEOUT', `could not take the workspace lock ${lockPath} within ${timeoutMs} ms; if no allot process is running, delete that file`);
    }
    await sleep(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 50);
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx');
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function readOwner(path: string): Promise<{ owner: Owner | null; text: string; ageMs: number } | null> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    let owner: Owner | null = null;
    try {
      owner = JSON.parse(text) as Owner;
    } catch {
      owner = null; // being written, or garbage: judged by age alone
    }
    return { owner, text, ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function isStale(found: { owner: Owner | null; ageMs: number }, staleMs: number): boolean {
  if (found.ageMs > staleMs) return true;
  const o = found.owner;
  if (o === null || o.host !== hostname() || typeof o.pid !== 'number') return false;
  return !processAlive(o.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function breakIfStale(lockPath: string, staleMs: number): Promise<void> {
  const found = await readOwner(lockPath);
  if (found === null || !isStale(found, staleMs)) return;
  const breaker = `${lockPath}.break`;
  if (!(await createExclusive(breaker, String(process.pid)))) {
    // Another process is breaking it; a breaker left by a crash is removed after a while.
    const b = await readOwner(breaker);
    if (b !== null && b.ageMs > 5_000) await unlink(breaker).catch(ignoreMissing);
    return;
  }
  try {
    const again = await readOwner(lockPath);
    // Remove only the very lock judged stale, not one taken since.
    if (again !== null && again.text === found.text && isStale(again, staleMs)) await unlink(lockPath).catch(ignoreMissing);
  } finally {
    await unlink(breaker).catch(ignoreMissing);
  }
}

async function release(lockPath: string, token: string): Promise<void> {
  const found = await readOwner(lockPath);
  if (found?.owner?.token === token) await unlink(lockPath).catch(ignoreMissing);
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
