/**
 * One batched store read per evaluation, bounded in time. A read that fails or outlives the
 * timeout yields no records (the resolver then serves the hash assignment, and rules in
 * paused intake admit no one). After `failureThreshold` failures in a row the circuit opens:
 * for `cooldownMs` the store is not asked at all, so an outage costs microseconds per
 * evaluation instead of a timeout; then one read probes it.
 */
import type { MaterializationKey, MaterializationRecord, MaterializationStore } from '@allot/core';
import type { StickyStoreStatus } from '../types.js';

export interface StickyReadOptions {
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly cooldownMs: number;
}

export interface ReadOutcome {
  /** The records in key order, or null when the store could not answer. */
  readonly records: readonly (MaterializationRecord | null)[] | null;
  readonly status: StickyStoreStatus;
  readonly error?: Error;
}

const TIMED_OUT = Symbol('timed out');

export class StickyReads {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private reported: StickyStoreStatus = 'ok';

  constructor(
    private readonly store: MaterializationStore,
    private readonly options: StickyReadOptions,
    private readonly report: (status: StickyStoreStatus, error: Error | undefined) => void,
  ) {}

  /** The outcome synchronously when the store answers from memory, else a promise of it. */
  read(keys: readonly MaterializationKey[]): ReadOutcome | Promise<ReadOutcome> {
    if (this.store.readSync !== undefined) {
      try {
        const records = this.store.readSync(keys);
        if (records !== undefined) return this.succeeded(records);
      } catch (error) {
        return this.failed('error', asError(error));
      }
    }
    if (this.failures >= this.options.failureThreshold) {
      if (this.probing || Date.now() < this.openUntil) return { records: null, status: 'unavailable' };
      this.probing = true;
    }
    return this.readAsync(keys);
  }

  private async readAsync(keys: readonly MaterializationKey[]): Promise<ReadOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, this.options.timeoutMs, TIMED_OUT);
    });
    let pending: Promise<readonly (MaterializationRecord | null)[]>;
    try {
      pending = this.store.read(keys);
    } catch (error) {
      pending = Promise.reject(asError(error));
    }
    // The store may still reject after the timeout won: that must not become unhandled.
    pending.catch(() => undefined);
    try {
      const records = await Promise.race([pending, timeout]);
      if (records === TIMED_OUT) {
        return this.failed('timeout', new Error(`the sticky store did not answer within ${this.options.timeoutMs} ms`));
      }
      if (records.length !== keys.length) {
        return this.failed('error', new Error(`the sticky store returned ${records.length} records for ${keys.length} keys`));
      }
      return this.succeeded(records);
    } catch (error) {
      return this.failed('error', asError(error));
    } finally {
      clearTimeout(timer);
      this.probing = false;
    }
  }

  private succeeded(records: readonly (MaterializationRecord | null)[]): ReadOutcome {
    this.failures = 0;
    if (this.reported !== 'ok') {
      this.reported = 'ok';
      this.report('ok', undefined);
    }
    return { records, status: 'ok' };
  }

  private failed(status: 'error' | 'timeout', error: Error): ReadOutcome {
    this.failures++;
    if (this.failures >= this.options.failureThreshold) this.openUntil = Date.now() + this.options.cooldownMs;
    if (this.reported === 'ok') {
      this.reported = status;
      this.report(status, error);
    } else if (this.failures === this.options.failureThreshold) {
      this.reported = 'unavailable';
      this.report('unavailable', error);
    }
    return { records: null, status, error };
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
