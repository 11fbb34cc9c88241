/**
 * The current state and its freshness. A new good state replaces the current one whole
 * (never half-applied) and reports the flags it changed; a failed load keeps the current
 * state, reports `PROVIDER_ERROR`, and `PROVIDER_STALE` once the state has gone
 * `staleAfterMs` without a successful load or confirmation; the next good load reports
 * `PROVIDER_READY` again. `flagsChanged` carries the keys apps call (`search-ranking`), not
 * the state's names (`flags/search-ranking`).
 */
import { ProviderEvents, type Logger, type OpenFeatureEventEmitter } from '@openfeature/server-sdk';
import { evaluationOf, type Evaluation } from './evaluation/evaluation.js';
import { flagKeyOf } from './evaluation/flag-key.js';
import type { AllotEventEmitter } from './events/allot-events.js';
import { changedFlags } from './sources/changed-flags.js';
import type { LoadedState, SourceListener } from './types.js';

export class StateTracker implements SourceListener {
  /** The state evaluations use; null until the first good one. */
  current: Evaluation | null = null;
  private failing = false;
  private stale = false;
  private freshAt = 0;
  private staleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly clientSecret: string | undefined,
    private readonly staleAfterMs: number,
    private readonly events: OpenFeatureEventEmitter,
    private readonly allotEvents: AllotEventEmitter,
    private readonly logger: Logger,
  ) {}

  /** Applies the first state (from `initialize`); throws when its client cannot be chosen. */
  initial(loaded: LoadedState): void {
    this.current = evaluationOf(loaded, this.clientSecret);
    this.freshAt = Date.now();
  }

  /** `initialize` found no good state: the next good one reports `PROVIDER_READY`. */
  initialFailed(): void {
    this.failing = true;
  }

  update(loaded: LoadedState): void {
    if (this.closed) return;
    let next: Evaluation;
    try {
      next = evaluationOf(loaded, this.clientSecret);
    } catch (error) {
      this.error(error as Error);
      return;
    }
    const previous = this.current;
    this.current = next;
    this.confirm();
    const names = previous === null ? [...loaded.state.flags.keys()].sort() : changedFlags(previous.loaded, loaded);
    if (names.length > 0) {
      const flagsChanged = names.map(flagKeyOf);
      this.events.emit(ProviderEvents.ConfigurationChanged, {
        flagsChanged,
        message: `${loaded.origin}: ${flagsChanged.length} flag${flagsChanged.length === 1 ? '' : 's'} changed`,
      });
    }
  }

  error(error: Error): void {
    if (this.closed) return;
    // Once per failing streak at `warn`; a source that keeps failing (a poll) repeats at `debug`.
    if (this.failing) this.logger.debug(`allot: state still rejected: ${error.message}`);
    else this.logger.warn(`allot: state rejected, keeping the last good one: ${error.message}`);
    this.failing = true;
    this.allotEvents.safeEmit('state-error', error);
    this.events.emit(ProviderEvents.Error, { message: error.message });
    this.scheduleStale();
  }

  confirm(): void {
    if (this.closed) return;
    this.freshAt = Date.now();
    this.clearStale();
    if (this.failing) {
      this.failing = false;
      this.stale = false;
      this.logger.info(`allot: ${this.current?.loaded.origin ?? 'source'}: state loaded again`);
      this.events.emit(ProviderEvents.Ready, { message: `${this.current?.loaded.origin ?? 'source'}: state loaded again` });
    }
  }

  notice(message: string): void {
    if (!this.closed) this.logger.info(`allot: ${message}`);
  }

  close(): void {
    this.closed = true;
    this.clearStale();
  }

  private scheduleStale(): void {
    if (this.stale || this.staleTimer !== null || this.current === null) return;
    const wait = Math.max(0, this.freshAt + this.staleAfterMs - Date.now());
    this.staleTimer = setTimeout(() => {
      this.staleTimer = null;
      if (!this.failing || this.closed) return;
      this.stale = true;
      const minutes = ((Date.now() - this.freshAt) / 60_000).toFixed(1);
      const message = `${this.current?.loaded.origin ?? 'source'}: no good state for ${minutes} min; serving the last good one`;
      this.logger.warn(`allot: ${message}`);
      this.events.emit(ProviderEvents.Stale, { message });
    }, wait);
    this.staleTimer.unref();
  }

  private clearStale(): void {
    if (this.staleTimer !== null) clearTimeout(this.staleTimer);
    this.staleTimer = null;
  }
}
