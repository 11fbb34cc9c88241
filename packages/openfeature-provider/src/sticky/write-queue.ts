/**
 * Sticky writes on their way to the store, off the evaluation path. A write is accepted
 * (acknowledged) only if the bounded queue has room; an accepted write stays queued, and is
 * visible to reads in this process, until the store confirms it, retried with back-off
 * while the store fails. Writes are idempotent, so a retry after a timeout is safe.
 */
import type { MaterializationRecord, MaterializationStore, MaterializationStoreWrite } from '@allot/core';

export interface WriteQueueOptions {
  readonly maxPending: number;
  readonly batchSize: number;
  readonly retryDelayMs: number;
}

const MAX_RETRY_DELAY_MS = 5_000;

interface Pending {
  readonly write: MaterializationStoreWrite;
  inFlight: boolean;
}

export class WriteQueue {
  private readonly pending = new Map<string, Pending>();
  /** Queued variants by (materialization, unit), then rule: what reads see before the store does. */
  private readonly overlay = new Map<string, Map<string, string>>();
  private flushing = false;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private failures = 0;
  private drained: (() => void) | null = null;

  constructor(
    private readonly store: MaterializationStore,
    private readonly options: WriteQueueOptions,
    private readonly onError: (error: Error) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Queues a write; false when the queue is full (the write is not acknowledged). */
  enqueue(write: MaterializationStoreWrite): boolean {
    const id = `${write.materialization}\u0000${write.unit}\u0000${write.rule}`;
    if (this.pending.has(id)) return true; // the store keeps the first write anyway
    if (this.pending.size >= this.options.maxPending) return false;
    this.pending.set(id, { write, inFlight: false });
    const unitId = `${write.materialization}\u0000${write.unit}`;
    let rules = this.overlay.get(unitId);
    if (rules === undefined) this.overlay.set(unitId, (rules = new Map<string, string>()));
    if (!rules.has(write.rule)) rules.set(write.rule, write.variant);
    this.schedule(0);
    return true;
  }

  /**
   * The stored record with queued writes added (stored variants win, as they will in the
   * store); `record` is null when the store has none or could not be read.
   */
  withQueued(unit: string, materialization: string, record: MaterializationRecord | null): MaterializationRecord | null {
    if (this.overlay.size === 0) return record;
    const rules = this.overlay.get(`${materialization}\u0000${unit}`);
    if (rules === undefined) return record;
    const ruleToVariant: Record<string, string> = {};
    for (const [rule, variant] of rules) ruleToVariant[rule] = variant;
    if (record !== null) Object.assign(ruleToVariant, record.ruleToVariant);
    return { isUnitInMaterialization: true, ruleToVariant };
  }

  /** Sends what is queued, waiting at most `timeoutMs`; returns how many writes were left unsent. */
  async drain(timeoutMs: number): Promise<number> {
    if (this.pending.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      this.drained = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    this.failures = 0;
    this.schedule(0);
    await done;
    clearTimeout(timer);
    this.drained = null;
    this.cancel();
    return this.pending.size;
  }

  /** Stops sending (pending writes stay counted). */
  cancel(): void {
    if (this.scheduled !== null) {
      clearTimeout(this.scheduled as NodeJS.Timeout);
      clearImmediate(this.scheduled as NodeJS.Immediate);
    }
    this.scheduled = null;
  }

  private schedule(delayMs: number): void {
    if (this.scheduled !== null || this.flushing) return;
    const run = (): void => {
      this.scheduled = null;
      this.flush();
    };
    // A retry timer must not keep the process alive for a store that is down; an immediate
    // must stay ref'd: with only unref'd immediates pending, the event loop blocks in its poll
    // phase until some timer or I/O wakes it, and a drain at close stalled for its whole timeout.
    if (delayMs === 0) this.scheduled = setImmediate(run);
    else this.scheduled = setTimeout(run, delayMs).unref();
  }

  private flush(): void {
    const batch: [string, Pending][] = [];
    for (const entry of this.pending) {
      if (entry[1].inFlight) continue;
      entry[1].inFlight = true;
      batch.push(entry);
      if (batch.length >= this.options.batchSize) break;
    }
    if (batch.length === 0) return;
    this.flushing = true;
    let sent: Promise<void>;
    try {
      sent = this.store.write(batch.map(([, p]) => p.write));
    } catch (error) {
      sent = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    sent.then(
      () => {
        this.flushing = false;
        this.failures = 0;
        for (const [id, p] of batch) this.settle(id, p.write);
        if (this.pending.size > 0) this.schedule(0);
        else this.drained?.();
      },
      (error: unknown) => {
        this.flushing = false;
        for (const [, p] of batch) p.inFlight = false;
        this.failures++;
        this.onError(error instanceof Error ? error : new Error(String(error)));
        const delay = Math.min(this.options.retryDelayMs * 2 ** (this.failures - 1), MAX_RETRY_DELAY_MS);
        this.schedule(delay * (0.75 + Math.random() * 0.5));
      },
    );
  }

  private settle(id: string, write: MaterializationStoreWrite): void {
    this.pending.delete(id);
    const unitId = `${write.materialization}\u0000${write.unit}`;
    const rules = this.overlay.get(unitId);
    if (rules === undefined) return;
    rules.delete(write.rule);
    if (rules.size === 0) this.overlay.delete(unitId);
  }
}
