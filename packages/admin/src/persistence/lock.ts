/**
 * An exclusive lock between processes: a lock file created with O_EXCL holding the owner's
 * host, pid and a random token. A lock whose owner is a dead process on this host, or that
 * is older than `staleMs`, is broken, under a second O_EXCL "breaker" file so that two
 * processes breaking the same stale lock cannot remove a fresh one by mistake.
 *
 * Waiting is first come, first served: a process that finds the lock taken puts a ticket
 * beside it (`<lock>.wait.<time>.<host>.<pid>.<random>`, touched while it waits), and
 * takes the lock only when no live ticket is older than its own; a newcomer that sees any
 * ticket queues too. So a busy writer (a server under load, releasing and re-taking the
 * lock back to back) cannot starve a CLI waiting beside it. A ticket whose process died,
 * or that has not been touched for WAITER_STALE_MS, is removed by whoever sees it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

import { AdminError } from '../errors.js';

export interface LockOptions {
  /** Give up after this long (default 10 s): LOCK_TIMEOUT, naming the holder. */
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

/** Default `timeoutMs`. */
export const LOCK_TIMEOUT_MS = 10_000;
/** A waiter touches its ticket at least this often (it polls every few ms). */
const WAITER_STALE_MS = 2_000;
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

async function acquire(lockPath: string, options: LockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? LOCK_TIMEOUT_MS;
  const staleMs = options.staleMs ?? 60_000;
  const me: Owner = { host: hostname(), pid: process.pid, token: randomBytes(12).toString('hex') };
  const deadline = Date.now() + timeoutMs;
  const queue = new Queue(lockPath);
  let wait = 2;
  try {
    for (;;) {
      const ahead = await queue.ahead();
      if (ahead === 0 && (await createExclusive(lockPath, JSON.stringify(me)))) return me.token;
      await queue.join();
      await breakIfStale(lockPath, staleMs);
      if (Date.now() > deadline) throw await timeoutError(lockPath, timeoutMs, ahead);
      // Next in line: look again soon, the holder may be done any moment; further back, less often.
      await sleep(ahead === 0 ? 1 + Math.random() * 2 : wait + Math.random() * wait);
      wait = Math.min(wait * 2, 25);
    }
  } finally {
    await queue.leave();
  }
}

/** The waiting line of one lock: ticket files beside it, oldest first. */
class Queue {
  private readonly dir: string;
  private readonly prefix: string;
  private ticket: string | null = null;

  constructor(lockPath: string) {
    this.dir = dirname(lockPath);
    this.prefix = `${basename(lockPath)}.wait.`;
  }

  /** Live tickets ahead of ours (all of them before we hold one); removes dead ones. */
  async ahead(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    const mine = this.ticket === null ? null : basename(this.ticket);
    let count = 0;
    for (const name of names) {
      if (!name.startsWith(this.prefix) || name === mine) continue;
      if (mine !== null && name > mine) continue;
      if (await this.live(name)) count++;
    }
    return count;
  }

  /** Takes a ticket (the first time), or shows ours is still alive. */
  async join(): Promise<void> {
    if (this.ticket !== null) {
      const now = new Date();
      try {
        await utimes(this.ticket, now, now);
        return;
      } catch (error) {
        // Removed as stale (this process stalled for seconds): queue again, at the back.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    const name = `${this.prefix}${String(Date.now()).padStart(15, '0')}.${HOST_TAG}.${process.pid}.${randomBytes(4).toString('hex')}`;
    this.ticket = join(this.dir, name);
    await createExclusive(this.ticket, '');
  }

  async leave(): Promise<void> {
    if (this.ticket !== null) await unlink(this.ticket).catch(ignoreMissing);
    this.ticket = null;
  }

  private async live(name: string): Promise<boolean> {
    const [, host, pid] = name.slice(this.prefix.length).split('.');
    const path = join(this.dir, name);
    let dead = host === HOST_TAG && !processAlive(Number(pid));
    if (!dead) {
      try {
        dead = Date.now() - (await stat(path)).mtimeMs > WAITER_STALE_MS;
      } catch {
        return false; // gone: it got the lock or gave up
      }
    }
    if (dead) await unlink(path).catch(ignoreMissing);
    return !dead;
  }
}

async function timeoutError(lockPath: string, timeoutMs: number, ahead: number): Promise<AdminError> {
  const found = await readOwner(lockPath).catch(() => null);
  const holder =
    found === null
      ? 'the lock is free now'
      : found.owner === null || typeof found.owner.pid !== 'number'
        ? `it is held (owner unreadable) for ${seconds(found.ageMs)}`
        : `it is held by process ${found.owner.pid} on ${found.owner.host === hostname() ? 'this host' : `host ${found.owner.host}`} for ${seconds(found.ageMs)}`;
  const queue = ahead > 0 ? `, and ${ahead} other writer${ahead === 1 ? ' was' : 's were'} waiting ahead of this one` : '';
  return new AdminError(
    'LOCK_TIMEOUT',
    `could not take the workspace lock ${lockPath} within ${timeoutMs} ms: ${holder}${queue}. ` +
      'Retry when it is done; if no allot process is running, delete that file',
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
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

/** Whether process `pid` runs on this host (EPERM: it does, as another user). */
export function processAlive(pid: number): boolean {
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
