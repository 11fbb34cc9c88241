/**
 * The current state and its freshness. A new good state replaces the current one whole
 * (never half-applied) and reports the flags it changed; a failed load keeps the current
 * state, reports `PROVIDER_ERROR`, and `PROVIDER_STALE` once the state has gone
 * `staleAfterMs` without a successful load or confirmation; the next good load reports
 * `PROVIDER_READY` again. `flagsChanged` carries the keys apps call (`search-ranking`), not
 * the state's names (`flags/search-ranking`).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import { ProviderEvents, type Logger, type OpenFeatureEventEmitter } from '@openfeature/server-sdk';
import { evaluationOf, type Evaluation } from './evaluation/evaluation.js';
import { flagKeyOf } from './evaluation/flag-key.js';
import type { AllotEventEmitter } from './events/allot-events.js';
import { SLICE_MS } from './loading/state-loader.js';
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
  /** Set by `compileEveryFlag`. */
  private everyFlag = false;
  /** Updates received: one being compiled is applied only if no other came after it. */
  private updates = 0;
  /** Failed loads reported (`error`), and the last one's message. */
  private errors = 0;
  private lastError: string | null = null;
  /** While the first state's flags compile: what the source reported meanwhile, to handle after it. */
  private held: (() => void)[] | null = null;

  constructor(
    private readonly clientSecret: string | undefined,
    private readonly staleAfterMs: number,
    private readonly events: OpenFeatureEventEmitter,
    private readonly allotEvents: AllotEventEmitter,
    private readonly logger: Logger,
  ) {}

  /**
   * Applies the first state (from `initialize`), its client's flags compiled first if every
   * flag is to be (`compileEveryFlag`). Throws when its client cannot be chosen, or a flag
   * does not compile.
   */
  async initial(loaded: LoadedState): Promise<void> {
    const next = evaluationOf(loaded, this.clientSecret);
    if (!this.everyFlag) {
      this.setInitial(next);
      return;
    }
    // What the source reports meanwhile (it has started) comes after this state: it is held,
    // and handled once this state is applied (or has failed), in the order it came.
    const held: (() => void)[] = [];
    this.held = held;
    try {
      await this.compiledInTurns(next, () => !this.closed);
      if (this.closed) throw new Error('the provider was closed while its first state was compiled');
      this.setInitial(next);
    } catch (error) {
      this.failing = true;
      throw error;
    } finally {
      this.held = null;
      for (const handle of held) handle();
    }
  }

  private setInitial(next: Evaluation): void {
    if (this.current !== null) return;
    this.current = next;
    this.freshAt = Date.now();
  }

  /**
   * `initialize` has resolved, and the OpenFeature SDK has reported the provider ready: if a
   * failed load was reported before that (while the first state's flags compiled, or the
   * sticky store was awaited), it is reported again, so that the SDK's status says so.
   */
  initialized(): void {
    if (!this.failing || this.closed || this.lastError === null) return;
    const message = this.lastError;
    setImmediate(() => {
      if (this.failing && !this.closed) this.events.emit(ProviderEvents.Error, { message });
    });
  }

  /** `initialize` found no good state (a rejected `initialize` leaves the SDK in error): the next good one reports `PROVIDER_READY`. */
  initialFailed(): void {
    this.failing = true;
  }

  /**
   * Compiles every flag of the client before each new state is applied, from now on: called
   * when the app first resolves a bundle of all of them (`resolveAll`), which would otherwise
   * compile the flags a new state defers (core's `CompiledFlag`) in one turn, on its first call.
   */
  compileEveryFlag(): void {
    this.everyFlag = true;
  }

  update(loaded: LoadedState): void {
    if (this.closed) return;
    if (this.held !== null) {
      this.held.push(() => {
        this.update(loaded);
      });
      return;
    }
    let next: Evaluation;
    try {
      next = evaluationOf(loaded, this.clientSecret);
    } catch (error) {
      this.error(error as Error);
      return;
    }
    const update = ++this.updates;
    if (this.everyFlag && next.state.flagsOf(next.client).some((flag) => !flag.compiled)) {
      // Loaded now: once applied, the state's age counts from here.
      void this.appliedOnceCompiled(next, update, this.errors, Date.now());
      return;
    }
    this.apply(next, true);
  }

  /**
   * Applies `next` once every flag of its client is compiled, compiling in turns of SLICE_MS;
   * not if another update came meanwhile (it is applied instead) or the tracker closed. A
   * failed load reported meanwhile (`error`, since `errors` were counted) came after `next`:
   * `next` is applied, and the provider stays in error, as if it had been applied at once
   * (when it arrived, `arrivedAt`: STALE counts from there). A flag of `next` that does not
   * compile makes it a failed load, and the state served keeps its age.
   */
  private async appliedOnceCompiled(next: Evaluation, update: number, errors: number, arrivedAt: number): Promise<void> {
    const wanted = (): boolean => !this.closed && update === this.updates;
    try {
      // Asked again after the await: another update may have come in the turn it resolved in.
      if (!(await this.compiledInTurns(next, wanted)) || !wanted()) return;
    } catch (error) {
      if (update === this.updates) this.error(error as Error);
      return;
    }
    if (this.errors === errors) {
      this.apply(next, true);
      return;
    }
    // Applied after a failed load: its age counts from its arrival (or a confirmation after it).
    this.freshAt = Math.max(this.freshAt, arrivedAt);
    this.apply(next, false);
  }

  /**
   * Compiles every flag of `next`'s client in turns of SLICE_MS; false if `wanted` turned
   * false between two turns (nothing more is compiled). Throws what a flag's compile throws,
   * with the state's origin (only a prepared form core did not make can hold such a flag).
   */
  private async compiledInTurns(next: Evaluation, wanted: () => boolean): Promise<boolean> {
    let until = performance.now() + SLICE_MS;
    for (const flag of next.state.flagsOf(next.client)) {
      if (flag.compiled) continue;
      try {
        flag.compile();
      } catch (error) {
        throw new Error(`${next.loaded.origin}: ${(error as Error).message}`, { cause: error });
      }
      if (performance.now() < until) continue;
      await nextTurn();
      if (!wanted()) return false;
      until = performance.now() + SLICE_MS;
    }
    return wanted();
  }

  /** Makes `next` current and reports the flags it changed; `confirm`: it is the latest word from the source. */
  private apply(next: Evaluation, confirm: boolean): void {
    const loaded = next.loaded;
    const previous = this.current;
    this.current = next;
    if (confirm) this.confirm();
    else {
      // Applied after a failed load: still failing, and stale in its time from `freshAt`, even
      // if the state it replaces was stale already or no timer was set (no state before).
      this.clearStale();
      this.stale = false;
      this.scheduleStale();
    }
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
    if (this.held !== null) {
      this.held.push(() => {
        this.error(error);
      });
      return;
    }
    // Once per failing streak at `warn`; a source that keeps failing (a poll) repeats at `debug`.
    if (this.failing) this.logger.debug(`allot: state still rejected: ${error.message}`);
    else this.logger.warn(`allot: state rejected, keeping the last good one: ${error.message}`);
    this.failing = true;
    this.errors++;
    this.lastError = error.message;
    this.allotEvents.safeEmit('state-error', error);
    this.events.emit(ProviderEvents.Error, { message: error.message });
    this.scheduleStale();
  }

  confirm(): void {
    if (this.closed) return;
    if (this.held !== null) {
      this.held.push(() => {
        this.confirm();
      });
      return;
    }
    // Without a state, a source's confirmation (a 304 to the ETag of a state that failed) is no good state.
    if (this.current === null) return;
    this.freshAt = Date.now();
    this.clearStale();
    if (this.failing) {
      this.failing = false;
      this.stale = false;
      this.logger.info(`allot: ${this.current.loaded.origin}: state loaded again`);
      this.events.emit(ProviderEvents.Ready, { message: `${this.current.loaded.origin}: state loaded again` });
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
