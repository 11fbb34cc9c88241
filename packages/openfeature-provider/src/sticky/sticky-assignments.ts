/**
 * The provider's side of sticky assignments: read what a resolve needs in one batch (bounded
 * in time), hand it to the synchronous resolver, and queue the writes it produced.
 */
import type {
  MaterializationAccess,
  MaterializationKey,
  MaterializationRecord,
  MaterializationWrite,
} from '@allot/core';
import type { StickyOptions, StickyStore, StickyStoreStatus } from '../types.js';
import { StickyReads, type ReadOutcome } from './sticky-reads.js';
import { StoreReadiness } from './store-readiness.js';
import { WriteQueue } from './write-queue.js';

const NO_KEYS: ReadOutcome = Object.freeze({ records: [], status: 'ok' });

export interface StickyReports {
  status(status: StickyStoreStatus, error: Error | undefined): void;
  writeFailed(error: Error): void;
  lost(count: number, reason: 'queue-full' | 'closed'): void;
}

/** What one resolve read, and the writes it produced. */
export class StickyAccess implements MaterializationAccess {
  readonly writes: MaterializationWrite[] = [];

  constructor(
    private readonly keys: readonly MaterializationKey[],
    readonly outcome: ReadOutcome,
    private readonly queue: WriteQueue,
  ) {}

  read(unit: string, materialization: string): MaterializationRecord | null | undefined {
    const i = this.indexOf(unit, materialization);
    if (i === -1) return undefined;
    return this.queue.withQueued(unit, materialization, this.outcome.records?.[i] ?? null);
  }

  write(write: MaterializationWrite): void {
    this.writes.push(write);
  }

  /** The variant the store holds for the write's rule when it differs (a removed variant). */
  staleVariant(write: MaterializationWrite): string | undefined {
    const i = this.indexOf(write.unit, write.materialization);
    const map = i === -1 ? undefined : this.outcome.records?.[i]?.ruleToVariant;
    if (map === undefined || !Object.hasOwn(map, write.rule)) return undefined;
    const stored = map[write.rule];
    return stored === write.variant ? undefined : stored;
  }

  private indexOf(unit: string, materialization: string): number {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k.unit === unit && k.materialization === materialization) return i;
    }
    return -1;
  }
}

export class StickyAssignments {
  private readonly reads: StickyReads;
  private readonly readiness: StoreReadiness;
  private readonly queue: WriteQueue;

  constructor(
    private readonly store: StickyStore,
    private readonly options: StickyOptions,
    private readonly reports: StickyReports,
  ) {
    this.reads = new StickyReads(
      store,
      {
        timeoutMs: options.timeoutMs ?? 25,
        failureThreshold: options.failureThreshold ?? 3,
        cooldownMs: options.cooldownMs ?? 1_000,
      },
      (status, error) => {
        reports.status(status, error);
      },
    );
    this.readiness = new StoreReadiness(store, this.reads);
    this.queue = new WriteQueue(
      store,
      {
        maxPending: options.maxPendingWrites ?? 100_000,
        batchSize: options.writeBatchSize ?? 500,
        retryDelayMs: options.retryDelayMs ?? 50,
      },
      (error) => {
        reports.writeFailed(error);
      },
    );
  }

  /** Waits until the store is ready, at most `readyTimeoutMs` (3 s); never rejects. */
  ready(): Promise<void> {
    return this.readiness.wait(this.options.readyTimeoutMs ?? 3_000);
  }

  /** Whether reads go to the store (false until a store with a `ready` hook is ready). */
  get storeReady(): boolean {
    return this.reads.isReady;
  }

  /** Writes accepted and not yet confirmed by the store. */
  get pendingWrites(): number {
    return this.queue.size;
  }

  /** Reads `keys` in one batch: synchronously when the store answers from memory. */
  read(keys: readonly MaterializationKey[]): ReadOutcome | Promise<ReadOutcome> {
    return keys.length === 0 ? NO_KEYS : this.reads.read(keys);
  }

  /** An outcome for resolves that do not read the store (`resolveAllSync` with an async store). */
  readSyncOnly(keys: readonly MaterializationKey[]): ReadOutcome {
    if (keys.length === 0) return NO_KEYS;
    const outcome = this.store.readSync === undefined ? undefined : this.reads.read(keys);
    return outcome === undefined || outcome instanceof Promise ? { records: null, status: 'skipped' } : outcome;
  }

  access(keys: readonly MaterializationKey[], outcome: ReadOutcome): StickyAccess {
    return new StickyAccess(keys, outcome, this.queue);
  }

  /** Queues the writes of a resolve; returns how many were refused (queue full). */
  commit(access: StickyAccess): number {
    let refused = 0;
    for (const write of access.writes) {
      const replaces = access.staleVariant(write);
      if (!this.queue.enqueue(replaces === undefined ? write : { ...write, replaces })) refused++;
    }
    if (refused > 0) this.reports.lost(refused, 'queue-full');
    return refused;
  }

  /** Sends pending writes (waiting at most `closeTimeoutMs`), then stops. */
  async close(): Promise<void> {
    this.readiness.close();
    const lost = await this.queue.drain(this.options.closeTimeoutMs ?? 2_000);
    if (lost > 0) this.reports.lost(lost, 'closed');
  }
}
