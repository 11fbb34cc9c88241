/**
 * One batched store read per evaluation, bounded in time. A read that fails or outlives the
 * timeout yields no records (the resolver then serves the hash assignment, and rules in
 * paused intake admit no one). After `failureThreshold` failures in a row the circuit opens:
 * for `cooldownMs` the store is not asked at all, so an outage costs microseconds per
 * evaluation instead of a timeout; then one read probes it.
 *
 * A store with a `ready` hook is not read until it has said it is ready (see
 * store-readiness.ts): until then every read yields no records at once, as `not-ready`.
 */
import type { MaterializationKey, MaterializationRecord } from '@allot/core';
import type { StickyStore, StickyStoreStatus } from '../types.js';

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
const NOT_READY: ReadOutcome = Object.freeze({ records: null, status: 'not-ready' });

export class StickyReads {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private reported: StickyStoreStatus = 'ok';
  private ready: boolean;

  constructor(
    private readonly store: StickyStore,
    private readonly options: StickyReadOptions,
    private readonly report: (status: StickyStoreStatus, error: Error | undefined) => void,
  ) {
    this.ready = store.ready === undefined;
  }

  /** Whether reads go to the store (it has no `ready` hook, or said it is ready). */
  get isReady(): boolean {
    return this.ready;
  }

  /** The store is ready: reads go to it from now on (and `ok` is reported if `not-ready` was). */
  becameReady(): void {
    if (this.ready) return;
    this.ready = true;
    if (this.reported !== 'ok') {
      this.reported = 'ok';
      this.report('ok', undefined);
    }
  }

  /** The store failed to get ready: read it anyway (failed reads open the circuit as usual). */
  readyFailed(error: Error): void {
    if (this.ready) return;
    this.ready = true;
    this.reported = 'error';
    this.report('error', error);
  }

  /** `initialize` stopped waiting for the store: reported once, reads still yield nothing. */
  notReady(error: Error): void {
    if (this.ready || this.reported === 'not-ready') return;
    this.reported = 'not-ready';
    this.report('not-ready', error);
  }

  /** The outcome synchronously when the store answers from memory, else a promise of it. */
  read(keys: readonly MaterializationKey[]): ReadOutcome | Promise<ReadOutcome> {
    if (!this.ready) return NOT_READY;
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
      // Timers run before I/O in each turn of the event loop: after a busy stretch (a burst
      // of requests, a cold start) a timer would fire although the reply is already waiting
      // in the socket. Deferring the timeout to the check phase lets that reply be read first.
      timer = setTimeout(timeOutAfterIo, this.options.timeoutMs, resolve);
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

function timeOutAfterIo(resolve: (value: typeof TIMED_OUT) => void): void {
  setImmediate(resolve, TIMED_OUT);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
