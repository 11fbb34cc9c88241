/**
 * Waiting for the sticky store at start-up. A provider that answered before its store could
 * be read would give every stored user the hash variant for the first moments after each
 * deploy (the store fails fast while it connects, and the circuit then stays open). So
 * `initialize` waits for the store's `ready`, at most `readyTimeoutMs`; past that the provider
 * is ready on hash assignments (`not-ready`, with the store's own account of why), and keeps
 * waiting in the background: the moment the store is ready, reads go to it.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StickyStore } from '../types.js';
import type { StickyReads } from './sticky-reads.js';

const READY = Symbol('ready');
const TIMED_OUT = Symbol('timed out');

export class StoreReadiness {
  private readonly closing = new AbortController();
  private waiting: Promise<void> | null = null;

  constructor(
    private readonly store: StickyStore,
    private readonly reads: StickyReads,
  ) {}

  /**
   * Resolves once the store is ready or `timeoutMs` has passed, whichever is first; never
   * rejects. Later calls return the first call's wait.
   */
  wait(timeoutMs: number): Promise<void> {
    this.waiting ??= this.first(timeoutMs);
    return this.waiting;
  }

  /** Stops waiting (the provider is closing). */
  close(): void {
    this.closing.abort(new Error('the provider closed'));
  }

  private async first(timeoutMs: number): Promise<void> {
    if (this.reads.isReady) return;
    const attempt = new AbortController();
    const stop = (): void => {
      attempt.abort(this.closing.signal.reason);
    };
    this.closing.signal.addEventListener('abort', stop);
    const ready = this.ask(attempt.signal);
    let timer: NodeJS.Timeout | undefined;
    // Not unref'd: `initialize` is waiting on it, and it is bounded.
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, TIMED_OUT);
    });
    let outcome = await Promise.race([ready, timedOut]);
    clearTimeout(timer);
    this.closing.signal.removeEventListener('abort', stop);
    if (this.closing.signal.aborted) return;
    if (outcome === TIMED_OUT) {
      // Ask the store to stop and say why it is not ready; a store that ignores the signal
      // is not waited for.
      attempt.abort(new Error(`not ready within ${timeoutMs} ms (sticky.readyTimeoutMs)`));
      outcome = await Promise.race([ready, nextTurn(TIMED_OUT)]);
    }
    if (outcome === READY) {
      this.reads.becameReady();
    } else if (outcome === TIMED_OUT || attempt.signal.aborted) {
      const why = `the sticky store was not ready within ${timeoutMs} ms (sticky.readyTimeoutMs)`;
      this.reads.notReady(outcome === TIMED_OUT ? new Error(why) : outcome);
      void this.background();
    } else {
      this.refused(outcome);
    }
  }

  /** After the first wait timed out: waits until the store is ready, or the provider closes. */
  private async background(): Promise<void> {
    const outcome = await this.ask(this.closing.signal);
    if (this.closing.signal.aborted) return;
    if (outcome === READY) this.reads.becameReady();
    else this.refused(outcome);
  }

  /** The store says it will not get ready: read it anyway; failed reads open the circuit as usual. */
  private refused(error: Error): void {
    this.reads.readyFailed(new Error(`the sticky store failed to get ready: ${error.message}`, { cause: error }));
  }

  /** The store's `ready`, as READY or the error it rejected with. */
  private ask(signal: AbortSignal): Promise<typeof READY | Error> {
    try {
      return this.store.ready!(signal).then(
        () => READY,
        (error: unknown) => asError(error),
      );
    } catch (error) {
      return Promise.resolve(asError(error));
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
