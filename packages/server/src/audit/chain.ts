/**
 * The audit log's hash chain. `hash = SHA-256(prev + canonicalJson(entry without hash))`,
 * hex, where `prev` is the previous entry's hash (`GENESIS` for the first) and is itself a
 * field of the entry. Both stores chain and verify with these functions, so a log copied
 * from one store to the other verifies the same way.
 */
import { createHash } from 'node:crypto';

import { canonicalJson } from './canonical-json.js';
import type { AuditEntry } from '../store/audit-hook.js';
import type { ChainedEntry } from './entry.js';

/** The `prev` of the first entry. */
export const GENESIS: string = '0'.repeat(64);

/** The hash an entry with this content and `prev` must carry. */
type Unhashed = Omit<ChainedEntry, 'hash'>;

export function entryHash(entry: Unhashed): string {
  return createHash('sha256').update(entry.prev, 'utf8').update(canonicalJson(withoutHash(entry)), 'utf8').digest('hex');
}

/** Every field but `hash`: what the hash is taken over. */
export function withoutHash(entry: Unhashed & { readonly hash?: string }): Unhashed {
  return Object.fromEntries(Object.entries(entry).filter(([key]) => key !== 'hash')) as Unhashed;
}

/**
 * `entry` chained after `previous` (null: it is the first), as entry number `seq` (by
 * default one more than `previous.seq`); `etag` as `ChainedEntry.etag`.
 */
export function chainEntry(previous: Pick<ChainedEntry, 'seq' | 'hash'> | null, entry: AuditEntry, options: { readonly seq?: number; readonly etag?: string } = {}): ChainedEntry {
  const seq = options.seq ?? (previous?.seq ?? 0) + 1;
  const unhashed: Unhashed = { ...entry, seq, prev: previous === null ? GENESIS : previous.hash, ...(options.etag === undefined ? {} : { etag: options.etag }) };
  return { ...unhashed, hash: entryHash(unhashed) };
}

/** What is wrong at the first entry that breaks the chain. */
export type ChainBreak =
  | { readonly kind: 'edited'; readonly position: number; readonly seq: number }
  | { readonly kind: 'inserted'; readonly position: number; readonly seq: number }
  | { readonly kind: 'replaced'; readonly position: number; readonly seq: number }
  | { readonly kind: 'deleted'; readonly position: number; readonly missing: { readonly from: number; readonly to: number } }
  | { readonly kind: 'reordered'; readonly position: number; readonly seq: number; readonly with: number }
  | { readonly kind: 'unlinked'; readonly position: number }
  | { readonly kind: 'unreadable'; readonly position: number; readonly reason: string };

export type ChainVerdict =
  | { readonly ok: true; readonly entries: number; readonly head: string; readonly seq: number }
  | { readonly ok: false; readonly entries: number; readonly broken: ChainBreak; readonly message: string };

/** An entry as read back, or why it could not be read (a line that is not JSON, say). */
export type ReadEntry = ChainedEntry | { readonly unreadable: string };

/**
 * Walks the chain in order (positions count from 1, as lines of the JSONL file do) and
 * names the first entry that was edited (its content no longer gives its hash), inserted
 * (the entry after it follows the one before it), deleted (a gap in `seq`), or
 * reordered (two neighbours swapped). Works over any async iterable, so a database table
 * is verified by streaming its rows in order, exactly as the file is.
 */
export async function verifyChain(entries: AsyncIterable<ReadEntry> | Iterable<ReadEntry>): Promise<ChainVerdict> {
  const iterator = (Symbol.asyncIterator in entries ? entries[Symbol.asyncIterator]() : toAsync(entries));
  /** The last two entries that verified, newest last. */
  let previous: ChainedEntry | null = null;
  let beforePrevious: ChainedEntry | null = null;
  let position = 0;
  let next = await iterator.next();
  while (next.done !== true) {
    const current = next.value;
    position++;
    next = await iterator.next();
    if ('unreadable' in current) return broken(position, { kind: 'unreadable', position, reason: current.unreadable });
    const expectedPrev = previous === null ? GENESIS : previous.hash;
    const expectedSeq = previous === null ? 1 : (previous.seq ?? position - 1) + 1;
    const following = next.done === true || 'unreadable' in next.value ? null : next.value;
    // The next entry follows the previous one: this one was put between them.
    const skipped = following !== null && following.prev === expectedPrev && (following.seq ?? expectedSeq) === expectedSeq;
    if (entryHash(current) !== current.hash) {
      return broken(position, { kind: skipped ? 'inserted' : 'edited', position, seq: current.seq ?? position });
    }
    if (current.prev !== expectedPrev || (current.seq ?? expectedSeq) !== expectedSeq) {
      if (following !== null && current.prev === following.hash && following.prev === expectedPrev) {
        return broken(position, { kind: 'reordered', position, seq: current.seq ?? position, with: position + 1 });
      }
      if (skipped) return broken(position, { kind: 'inserted', position, seq: current.seq ?? position });
      // Without numbers, a missing entry and a forged one look alike.
      if (current.seq === undefined) return broken(position, { kind: 'unlinked', position });
      return broken(position, diagnose(position, { ...current, seq: current.seq }, previous, beforePrevious, expectedSeq));
    }
    beforePrevious = previous;
    previous = current;
  }
  return { ok: true, entries: position, head: previous?.hash ?? GENESIS, seq: previous?.seq ?? position };
}

function diagnose(
  position: number,
  current: ChainedEntry & { readonly seq: number },
  previous: ChainedEntry | null,
  beforePrevious: ChainedEntry | null,
  expectedSeq: number,
): ChainBreak {
  // The entry before this one was put between two entries that followed each other.
  if (previous !== null && current.prev === (beforePrevious?.hash ?? GENESIS) && current.seq === previous.seq) {
    return { kind: 'inserted', position: position - 1, seq: current.seq };
  }
  if (current.seq > expectedSeq) {
    return { kind: 'deleted', position, missing: { from: expectedSeq, to: current.seq - 1 } };
  }
  // In its place, but not after the entry before: that one was rewritten, hash and all.
  if (previous !== null && current.seq === expectedSeq) {
    return { kind: 'replaced', position: position - 1, seq: previous.seq ?? position - 1 };
  }
  return { kind: 'inserted', position, seq: current.seq };
}

function broken(entries: number, b: ChainBreak): ChainVerdict {
  return { ok: false, entries, broken: b, message: describeBreak(b) };
}

/** One sentence naming the entry and what happened to it. */
export function describeBreak(b: ChainBreak): string {
  const at = (seq: number, position: number): string => `entry #${seq} (${ordinal(position)} in the log)`;
  switch (b.kind) {
    case 'edited':
      return `${at(b.seq, b.position)} was edited: its content no longer gives its hash`;
    case 'inserted':
      return `${at(b.seq, b.position)} was inserted: it does not follow the entry before it in the chain`;
    case 'replaced':
      return `${at(b.seq, b.position)} was edited or replaced and its hash recomputed: the entry after it no longer follows it`;
    case 'deleted':
      return b.missing.from === b.missing.to
        ? `entry #${b.missing.from} was deleted: the ${ordinal(b.position)} entry in the log follows without it`
        : `entries #${b.missing.from} to #${b.missing.to} were deleted: the ${ordinal(b.position)} entry in the log follows without them`;
    case 'reordered':
      return `${at(b.seq, b.position)} was moved: it and the ${ordinal(b.with)} entry are in each other's place`;
    case 'unlinked':
      return `the ${ordinal(b.position)} entry in the log does not follow the entry before it: an entry was deleted before it, or it was inserted or replaced`;
    case 'unreadable':
      return `the ${ordinal(b.position)} entry in the log cannot be read: ${b.reason}`;
  }
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}
