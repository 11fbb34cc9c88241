/**
 * The default sticky-assignment store: in process, bounded (least recently used entries go
 * first), entries living `ttlMs` (90 days) from their last read or write. Right for one
 * server; a fleet shares assignments through `@allot/redis-store`.
 */
import type { MaterializationKey, MaterializationRecord, MaterializationStoreWrite } from '@allot/core';
import type { StickyStore } from '../types.js';

export const NINETY_DAYS_MS: number = 90 * 24 * 60 * 60 * 1000;

export interface MemoryStoreOptions {
  /** Most (unit, materialization) entries kept; default 100,000. */
  readonly maxEntries?: number;
  /** Lifetime of an entry since its last read or write; default 90 days. */
  readonly ttlMs?: number;
  /** The clock, for tests. */
  readonly now?: () => number;
}

interface Entry {
  record: MaterializationRecord;
  expires: number;
}

export class MemoryStore implements StickyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.ttlMs = options.ttlMs ?? NINETY_DAYS_MS;
    this.now = options.now ?? Date.now;
    if (!(this.maxEntries >= 1)) throw new RangeError(`MemoryStore maxEntries must be at least 1, got ${this.maxEntries}`);
    if (!(this.ttlMs > 0)) throw new RangeError(`MemoryStore ttlMs must be positive, got ${this.ttlMs}`);
  }

  /** Number of live and not yet evicted entries. */
  get size(): number {
    return this.entries.size;
  }

  /** Always ready: nothing to connect to. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  read(keys: readonly MaterializationKey[]): Promise<readonly (MaterializationRecord | null)[]> {
    return Promise.resolve(this.readSync(keys));
  }

  readSync(keys: readonly MaterializationKey[]): readonly (MaterializationRecord | null)[] {
    const now = this.now();
    const out: (MaterializationRecord | null)[] = [];
    for (const key of keys) out.push(this.get(idOf(key), now));
    return out;
  }

  write(writes: readonly MaterializationStoreWrite[]): Promise<void> {
    const now = this.now();
    for (const w of writes) {
      const id = idOf(w);
      const current = this.get(id, now)?.ruleToVariant ?? {};
      const stored = Object.prototype.hasOwnProperty.call(current, w.rule) ? current[w.rule] : undefined;
      // First write wins; `replaces` swaps a stale variant only if it is still the stored one.
      const variant = stored === undefined || (w.replaces !== undefined && stored === w.replaces) ? w.variant : stored;
      const ruleToVariant = Object.freeze({ ...current, [w.rule]: variant });
      this.set(id, Object.freeze({ isUnitInMaterialization: true, ruleToVariant }), now);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }

  private get(id: string, now: number): MaterializationRecord | null {
    const entry = this.entries.get(id);
    if (entry === undefined) return null;
    this.entries.delete(id);
    if (entry.expires <= now) return null;
    entry.expires = now + this.ttlMs; // a read renews the entry, and makes it the most recent
    this.entries.set(id, entry);
    return entry.record;
  }

  private set(id: string, record: MaterializationRecord, now: number): void {
    this.entries.delete(id);
    this.entries.set(id, { record, expires: now + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

function idOf(key: MaterializationKey): string {
  return `${key.materialization}\u0000${key.unit}`;
}
