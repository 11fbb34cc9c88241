/**
 * The OpenFeature server provider: a thin adapter over `@allot/core`'s resolver. It keeps the
 * current state (from a source), turns OpenFeature calls into resolves, and does the I/O
 * core leaves out: one batched sticky-store read per evaluation, queued writes, exposures.
 */
import { requiredReads, resolveFlag, type CompiledFlag, type EvaluationContext as CoreContext, type MaterializationKey, type ResolvedFlag } from '@allot/core';
import {
  ErrorCode,
  OpenFeatureEventEmitter,
  StandardResolutionReasons,
  type EvaluationContext,
  type JsonValue,
  type Logger,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import { FlagBundle } from './bundle/flag-bundle.js';
import { coreContext } from './evaluation/context.js';
import { detailsOf, flagNotFound, unexpected } from './evaluation/details.js';
import type { Evaluation } from './evaluation/evaluation.js';
import type { FlagKey } from './evaluation/flag-key.js';
import { AllotEventEmitter } from './events/allot-events.js';
import { ExposureLog } from './exposure/exposure-log.js';
import { stateLoader } from './loading/state-loader.js';
import { ProviderLogger } from './logging/provider-logger.js';
import { objectSource } from './sources/object-source.js';
import { StateTracker } from './state-tracker.js';
import { MemoryStore } from './sticky/memory-store.js';
import { StickyAssignments } from './sticky/sticky-assignments.js';
import type { ReadOutcome } from './sticky/sticky-reads.js';
import type { AllotProviderOptions, FlagValueType, StateSource, StickyOptions, StickyStore, TrackEvent } from './types.js';

const FIVE_MINUTES_MS = 5 * 60 * 1000;

export class AllotProvider implements Provider {
  readonly metadata = { name: 'allot' } as const;
  readonly runsOn = 'server' as const;
  /** OpenFeature provider events: ready, error, stale, configuration changed. */
  readonly events: OpenFeatureEventEmitter = new OpenFeatureEventEmitter();
  /**
   * allot's own events: `exposure`, `track`, `sticky-store`, `sticky-write-retry`,
   * `sticky-writes-lost`, `state-error`.
   */
  readonly allotEvents: AllotEventEmitter;

  private readonly logger: ProviderLogger;
  private readonly source: StateSource;
  private readonly tracker: StateTracker;
  private readonly sticky: StickyAssignments | null;
  private readonly ownStore: MemoryStore | null;
  private readonly exposures: ExposureLog | null;
  private holdsLoader = false;

  constructor(private readonly options: AllotProviderOptions) {
    const logger = (this.logger = new ProviderLogger(options.logger));
    this.allotEvents = new AllotEventEmitter(logger);
    const source = options.source;
    this.source = isSource(source) ? source : objectSource(source);
    this.tracker = new StateTracker(options.clientSecret, options.staleAfterMs ?? FIVE_MINUTES_MS, this.events, this.allotEvents, logger);
    const compileFlags: unknown = options.compileFlags ?? 'on-first-use';
    if (compileFlags !== 'on-first-use' && compileFlags !== 'before-serving') {
      throw new TypeError(`options.compileFlags must be "on-first-use" or "before-serving", got ${JSON.stringify(compileFlags)}`);
    }
    if (compileFlags === 'before-serving') this.tracker.compileEveryFlag();
    this.ownStore = options.stickyStore === undefined ? new MemoryStore() : null;
    const store = options.stickyStore === undefined ? this.ownStore : options.stickyStore;
    this.sticky = store === false || store === null ? null : this.stickyOver(store, options.sticky ?? {});
    const exposure = options.exposure;
    this.exposures =
      exposure === undefined
        ? null
        : new ExposureLog({ windowMs: exposure.windowMs ?? 3_600_000, maxEntries: exposure.maxEntries ?? 100_000 }, (e) => {
            try {
              exposure.onExposure(e);
            } catch (error) {
              logger.error('allot: onExposure threw:', error);
            }
            this.allotEvents.safeEmit('exposure', e);
          });
  }

  /** Sticky assignments over `store`, reporting its health and its lost writes as events and logs. */
  private stickyOver(store: StickyStore, options: StickyOptions): StickyAssignments {
    const logger = this.logger;
    store.setDefaultLogger?.(logger);
    return new StickyAssignments(store, options, {
      status: (status, error) => {
        if (status === 'ok') logger.info('allot: sticky store ok: reading stored assignments');
        else logger.warn(`allot: sticky store ${status}: ${error?.message ?? 'no detail'}; serving hash assignments meanwhile`);
        this.allotEvents.safeEmit('sticky-store', status, error);
      },
      writeFailed: (error) => {
        logger.debug(`allot: sticky writes failed, retrying (${this.pendingStickyWrites} pending): ${error.message}`);
        this.allotEvents.safeEmit('sticky-write-retry', error, this.pendingStickyWrites);
      },
      lost: (count, reason) => {
        const why = reason === 'queue-full' ? 'the write queue is full (sticky.maxPendingWrites)' : 'the store did not confirm them within sticky.closeTimeoutMs';
        logger.error(`allot: ${count} sticky write${count === 1 ? '' : 's'} lost: ${why}`);
        this.allotEvents.safeEmit('sticky-writes-lost', count, reason);
      },
    });
  }

  /**
   * Loads the first state and waits for the sticky store to be ready (at most
   * `sticky.readyTimeoutMs`; past it the provider is ready on hash assignments). Rejects,
   * naming the source and the problem, when no state can be had.
   */
  async initialize(): Promise<void> {
    const storeReady = this.sticky?.ready();
    // The loader's worker stays up between this provider's loads, until onClose.
    if (!this.holdsLoader) stateLoader.acquire();
    this.holdsLoader = true;
    try {
      await this.tracker.initial(await this.source.start(this.tracker));
    } catch (error) {
      this.tracker.initialFailed();
      throw new Error(`allot: no usable state from ${this.source.description}: ${(error as Error).message}`, { cause: error });
    }
    await storeReady;
    this.tracker.initialized();
  }

  /** Stops the source's watchers and timers, ends the loader's worker if no other provider uses it, and flushes pending sticky writes. */
  async onClose(): Promise<void> {
    this.tracker.close();
    await this.source.stop();
    if (this.holdsLoader) {
      this.holdsLoader = false;
      await stateLoader.release();
    }
    await this.sticky?.close();
    await this.ownStore?.close();
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext, logger?: Logger): Promise<ResolutionDetails<boolean>> {
    if (logger !== undefined) this.logger.sdkLogger(logger);
    return this.evaluate(flagKey, 'boolean', defaultValue, context);
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext, logger?: Logger): Promise<ResolutionDetails<string>> {
    if (logger !== undefined) this.logger.sdkLogger(logger);
    return this.evaluate(flagKey, 'string', defaultValue, context);
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext, logger?: Logger): Promise<ResolutionDetails<number>> {
    if (logger !== undefined) this.logger.sdkLogger(logger);
    return this.evaluate(flagKey, 'number', defaultValue, context);
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext, logger?: Logger): Promise<ResolutionDetails<T>> {
    if (logger !== undefined) this.logger.sdkLogger(logger);
    return this.evaluate(flagKey, 'object', defaultValue, context);
  }

  /** Forwards an OpenFeature `track` call to `onTrack` and the `track` event. */
  track(trackingEventName: string, context: EvaluationContext, trackingEventDetails: TrackingEventDetails): void {
    const targetingKey = context.targetingKey ?? context.targeting_key;
    const event: TrackEvent = {
      name: trackingEventName,
      targetingKey: typeof targetingKey === 'string' ? targetingKey : '',
      context,
      details: trackingEventDetails,
      time: Date.now(),
    };
    try {
      this.options.onTrack?.(event);
    } catch (error) {
      this.logger.error('allot: onTrack threw:', error);
    }
    this.allotEvents.safeEmit('track', event);
  }

  /**
   * Resolves every flag of the client for one context, with one batched sticky read; read
   * typed values from the bundle without further evaluation. Never rejects.
   */
  resolveAll(context: EvaluationContext): Promise<FlagBundle> {
    this.tracker.compileEveryFlag();
    const current = this.tracker.current;
    const ctx = coreContext(context);
    if (current === null || this.sticky === null || !current.usesStore) return Promise.resolve(this.bundle(current, ctx, null));
    const keys = readsOf(current, ctx);
    const outcome = this.sticky.read(keys);
    if (!(outcome instanceof Promise)) return Promise.resolve(this.bundle(current, ctx, this.sticky.access(keys, outcome)));
    return outcome.then((o) => this.bundle(current, ctx, this.sticky!.access(keys, o)));
  }

  /**
   * Like `resolveAll`, without waiting for anything: a store that cannot answer synchronously
   * (Redis) is not read, and flags with sticky rules say so in their metadata (`stickyStore: "skipped"`).
   */
  resolveAllSync(context: EvaluationContext): FlagBundle {
    this.tracker.compileEveryFlag();
    const current = this.tracker.current;
    const ctx = coreContext(context);
    if (current === null || this.sticky === null || !current.usesStore) return this.bundle(current, ctx, null);
    const keys = readsOf(current, ctx);
    return this.bundle(current, ctx, this.sticky.access(keys, this.sticky.readSyncOnly(keys)));
  }

  /** Sticky writes accepted and not yet confirmed by the store. */
  get pendingStickyWrites(): number {
    return this.sticky?.pendingWrites ?? 0;
  }

  /** Logs an exposure for a result, if exposures are configured. */
  expose(key: FlagKey, resolved: ResolvedFlag, context: CoreContext): void {
    if (this.exposures === null || !resolved.shouldApply) return;
    const rule = key.rules.get(resolved.rule !== '' ? resolved.rule : (resolved.fallthroughs[0]?.rule ?? ''));
    this.exposures.expose(resolved, rule, context);
  }

  private bundle(current: Evaluation | null, context: CoreContext, access: ReturnType<StickyAssignments['access']> | null): FlagBundle {
    if (current === null) return new FlagBundle(this, null, [], null, context, 'ok');
    const flags = current.state.flagsOf(current.client);
    const results: ResolvedFlag[] = new Array<ResolvedFlag>(flags.length);
    let failures: Map<number, unknown> | null = null;
    for (let i = 0; i < flags.length; i++) {
      try {
        results[i] = resolveFlag(current.state, current.client, flags[i]!, context, access);
      } catch (error) {
        // Only a flag of a prepared form core did not make can fail here (on its first compile):
        // that flag answers with the error, the others as usual.
        (failures ??= new Map()).set(i, error);
      }
    }
    if (access !== null) this.sticky!.commit(access);
    return new FlagBundle(this, current, results, failures, context, access?.outcome.status ?? 'ok');
  }

  private evaluate<T>(flagKey: string, type: FlagValueType, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    try {
      const current = this.tracker.current;
      if (current === null) return Promise.resolve(notReady(defaultValue));
      const key = current.keys.lookup(flagKey);
      if (key === null) return Promise.resolve(flagNotFound(flagKey, defaultValue));
      const ctx = coreContext(context);
      if (key.usesStore && this.sticky !== null) return this.evaluateSticky(current, key, type, defaultValue, ctx);
      const resolved = resolveFlag(current.state, current.client, key.flag, ctx, null);
      if (resolved.shouldApply && this.exposures !== null) this.expose(key, resolved, ctx);
      return Promise.resolve(detailsOf(key, resolved, type, defaultValue, ctx));
    } catch (error) {
      return Promise.resolve(unexpected(defaultValue, error));
    }
  }

  private evaluateSticky<T>(current: Evaluation, key: FlagKey, type: FlagValueType, defaultValue: T, ctx: CoreContext): Promise<ResolutionDetails<T>> {
    const keys = requiredReads(current.client, [key.flag], ctx);
    const outcome = this.sticky!.read(keys);
    if (!(outcome instanceof Promise)) return Promise.resolve(this.finishSticky(current, key, type, defaultValue, ctx, keys, outcome));
    return outcome.then(
      (o) => this.finishSticky(current, key, type, defaultValue, ctx, keys, o),
      (error: unknown) => unexpected(defaultValue, error),
    );
  }

  private finishSticky<T>(
    current: Evaluation,
    key: FlagKey,
    type: FlagValueType,
    defaultValue: T,
    ctx: CoreContext,
    keys: Parameters<StickyAssignments['access']>[0],
    outcome: ReadOutcome,
  ): ResolutionDetails<T> {
    try {
      const access = this.sticky!.access(keys, outcome);
      const resolved = resolveFlag(current.state, current.client, key.flag, ctx, access);
      const refused = this.sticky!.commit(access);
      if (resolved.shouldApply && this.exposures !== null) this.expose(key, resolved, ctx);
      const details = detailsOf(key, resolved, type, defaultValue, ctx);
      if (outcome.status === 'ok' && refused === 0) return details;
      return withStickyMetadata(details, outcome.status, refused);
    } catch (error) {
      return unexpected(defaultValue, error);
    }
  }
}

function isSource(source: AllotProviderOptions['source']): source is StateSource {
  return typeof source === 'object' && typeof (source as Partial<StateSource>).start === 'function';
}

function notReady<T>(defaultValue: T): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.PROVIDER_NOT_READY,
    errorMessage: 'allot has no state yet (initialize has not succeeded)',
  };
}

/**
 * The sticky reads a bundle needs. A flag that fails its first compile (only a prepared form
 * core did not make holds one) reads nothing: its result in the bundle is that error.
 */
function readsOf(current: Evaluation, context: CoreContext): MaterializationKey[] {
  const flags = current.state.flagsOf(current.client);
  try {
    return requiredReads(current.client, flags, context);
  } catch {
    return requiredReads(current.client, flags.filter(compiles), context);
  }
}

function compiles(flag: CompiledFlag): boolean {
  try {
    flag.compile();
    return true;
  } catch {
    return false;
  }
}

/** Adds the sticky store's trouble to a result's metadata (a copy: cached results are shared). */
export function withStickyMetadata<T>(details: ResolutionDetails<T>, status: string, refusedWrites: number): ResolutionDetails<T> {
  const flagMetadata: Record<string, string | number | boolean> = { ...details.flagMetadata, stickyStore: status };
  if (refusedWrites > 0) flagMetadata.stickyWritesRefused = refusedWrites;
  return { ...details, flagMetadata };
}
