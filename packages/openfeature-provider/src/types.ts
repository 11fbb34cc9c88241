/**
 * Public types of @allot/openfeature-provider: the options, what the provider reports
 * (exposures, tracking, sticky-store health), and the sources' contract.
 */
import type {
  EvaluationContext as CoreContext,
  FallthroughRecord,
  MaterializationStore,
  ResolverState,
} from '@allot/core';
import type { Logger } from '@openfeature/server-sdk';
import type { StateFingerprints } from './loading/fingerprints.js';

export type { StateFingerprints } from './loading/fingerprints.js';

/** The value types OpenFeature resolves. */
export type FlagValueType = 'boolean' | 'string' | 'number' | 'object';

/** A state as a source delivers it: compiled, with a digest per flag (for change detection). */
export interface LoadedState {
  readonly state: ResolverState;
  /** Digests of each flag and what it reaches, and of the rest (`changedFlags` compares them). */
  readonly fingerprints: StateFingerprints;
  /** Where it came from, for messages: `file ./state.json`, `https://…` (ETag …). */
  readonly origin: string;
}

/** What a source tells the provider after `start`. */
export interface SourceListener {
  /** A new good state (it may be identical to the current one). */
  update(loaded: LoadedState): void;
  /** A load failed; the provider keeps the last good state. */
  error(error: Error): void;
  /** The source confirmed the current state is still current (an HTTP 304). */
  confirm(): void;
  /** Something an operator should know that is not an error (logged at `info`). */
  notice?(message: string): void;
}

/**
 * Where resolver states come from. `start` resolves with the first good state or rejects with
 * why none could be had; updates after that go to the listener. `stop` ends watchers and
 * timers. Sources never keep the process alive on their own (timers and watchers are unref'd).
 */
export interface StateSource {
  /** For messages: `file /srv/flags.json`. */
  readonly description: string;
  start(listener: SourceListener): Promise<LoadedState>;
  stop(): Promise<void>;
}

/** One assignment that should be logged (Confidence's `shouldApply`), de-duplicated. */
export interface Exposure {
  /** `flags/<id>` */
  readonly flag: string;
  /** The variant served, `""` for a client-default assignment. */
  readonly variant: string;
  /** The randomization unit (the value of the rule's targeting-key selector), `""` if none. */
  readonly unit: string;
  readonly rule: string;
  readonly segment: string;
  readonly assignmentId: string;
  readonly assignmentKind: 'split' | 'rollout' | 'sticky' | 'none';
  /** Fallthrough assignments passed on the way (exposed for analysis, not served). */
  readonly fallthroughs: readonly FallthroughRecord[];
  /** The evaluation context the flag was resolved with, as the caller gave it. */
  readonly context: CoreContext;
  /** Epoch milliseconds. */
  readonly time: number;
}

export interface ExposureOptions {
  /** Called once per (unit, flag, variant) within `windowMs`. Exceptions are caught and logged. */
  readonly onExposure: (exposure: Exposure) => void;
  /** De-duplication window; default one hour. */
  readonly windowMs?: number;
  /** Most (unit, flag, variant) entries remembered; the oldest are forgotten first. Default 100,000. */
  readonly maxEntries?: number;
}

/** An OpenFeature `track` call, as handed to `onTrack`. */
export interface TrackEvent {
  readonly name: string;
  /** The context's targeting key, `""` if it has none. */
  readonly targetingKey: string;
  readonly context: Readonly<Record<string, unknown>>;
  readonly details: Readonly<Record<string, unknown>>;
  readonly time: number;
}

/** The health of the sticky-assignment store, as reported in events and flag metadata. */
export type StickyStoreStatus =
  /** The read answered in time. */
  | 'ok'
  /** The read failed; the hash assignment was served. */
  | 'error'
  /** The read did not answer within `stickyTimeoutMs`; the hash assignment was served. */
  | 'timeout'
  /** Recent reads failed; the store is not asked for a while (circuit open). */
  | 'unavailable'
  /** Not read: `resolveAllSync` with a store that cannot answer synchronously. */
  | 'skipped'
  /**
   * Not read: the store has not become ready since the provider started (it did not within
   * `sticky.readyTimeoutMs`); the hash assignment was served. Reads resume once it is ready.
   */
  | 'not-ready';

/**
 * A sticky-assignment store as the provider uses it: core's `MaterializationStore` (batched
 * `read` and `write`), with two optional hooks for stores that connect to something.
 */
export interface StickyStore extends MaterializationStore {
  /**
   * Resolves once the store can answer reads (its connection is up). `initialize` waits for
   * it, at most `sticky.readyTimeoutMs`, so a new provider does not answer sticky flags from
   * the hash before it can see what is stored. Rejects when `signal` aborts (the provider gave
   * up waiting, or closed). A store without it is ready at once.
   */
  ready?(signal: AbortSignal): Promise<void>;
  /** The provider's logger, for a store that was given no logger of its own. */
  setDefaultLogger?(logger: Logger): void;
}

export interface StickyOptions {
  /** Longest an evaluation waits for the store; default 25 ms. */
  readonly timeoutMs?: number;
  /**
   * Longest `initialize` waits for the store to be ready (`StickyStore.ready`); default
   * 3,000 ms. Past it the provider is ready anyway, serving hash assignments for sticky rules
   * (`flagMetadata.stickyStore: "not-ready"`, a `sticky-store` event with `not-ready`), and
   * reads the store from the moment it becomes ready.
   */
  readonly readyTimeoutMs?: number;
  /** Consecutive failures that open the circuit; default 3. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before one read probes the store; default 1,000 ms. */
  readonly cooldownMs?: number;
  /** Most writes waiting for the store; past it new writes are refused (and reported). Default 100,000. */
  readonly maxPendingWrites?: number;
  /** Most writes sent in one `write` call; default 500. */
  readonly writeBatchSize?: number;
  /** First retry delay after a failed write, doubled up to 5 s; default 50 ms. */
  readonly retryDelayMs?: number;
  /** How long `onClose` waits for pending writes; default 2,000 ms. */
  readonly closeTimeoutMs?: number;
}

/** Events the provider reports beyond OpenFeature's provider events. */
export interface AllotEvents {
  /** An assignment to log (only when `exposure` is configured, which this mirrors). */
  exposure: [exposure: Exposure];
  /** An OpenFeature `track` call. */
  track: [event: TrackEvent];
  /**
   * The sticky store changed health: failing (`error`, `timeout`, `unavailable`), not ready
   * when `initialize` stopped waiting for it (`not-ready`), or back (`ok`).
   */
  'sticky-store': [status: StickyStoreStatus, error: Error | undefined];
  /** A batch of sticky writes failed; they stay queued and are retried with back-off. */
  'sticky-write-retry': [error: Error, pending: number];
  /** Writes refused because the queue was full, or given up on at close. */
  'sticky-writes-lost': [count: number, reason: 'queue-full' | 'closed'];
  /** A state was rejected (the last good one stays). */
  'state-error': [error: Error];
}

export interface AllotProviderOptions {
  /**
   * Where states come from: `fileSource(path)`, `httpSource(url)`, `objectSource(json)`, any
   * `StateSource`, or resolver-state JSON itself (an object or a string).
   */
  readonly source: StateSource | Readonly<Record<string, unknown>> | string;
  /** The client credential's secret. Optional when the state has exactly one client. */
  readonly clientSecret?: string;
  /**
   * Sticky-assignment store. Default: an in-memory `MemoryStore`. `false` disables sticky
   * assignments: rules that read one behave as if the store had nothing.
   */
  readonly stickyStore?: StickyStore | false;
  readonly sticky?: StickyOptions;
  readonly exposure?: ExposureOptions;
  /** Receives OpenFeature `track` calls (they are also emitted as `track` events). */
  readonly onTrack?: (event: TrackEvent) => void;
  /**
   * After a failed reload, how old the last good state may get before the provider reports
   * `PROVIDER_STALE`; default 5 minutes. Age counts from the last successful load or confirmation.
   */
  readonly staleAfterMs?: number;
  /**
   * When the flags of a state loaded off this thread are compiled. `"on-first-use"` (default):
   * each the first time it is evaluated; an application that evaluates a few flags of a large
   * account never compiles the rest. `"before-serving"`: every flag of the client, in 1 ms
   * turns, before the state is served (the first one before `initialize` resolves), so that no
   * evaluation compiles one; for applications that resolve bundles (`resolveAll`), which
   * evaluate every flag. The first bundle switches the provider to it for later states.
   */
  readonly compileFlags?: 'on-first-use' | 'before-serving';
  /**
   * Where the provider logs (OpenFeature's `Logger`: `error`, `warn`, `info`, `debug`).
   * Default: the logger the OpenFeature SDK hands the provider with each evaluation (set with
   * `OpenFeature.setLogger` or `client.setLogger`); before the first evaluation, OpenFeature's
   * default logger (errors and warnings to the console). Also given to a sticky store that has
   * no logger of its own.
   */
  readonly logger?: Logger;
}
