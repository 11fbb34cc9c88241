/**
 * States pushed by `allot serve` over Server-Sent Events (`GET /v1/state:watch`), from any of
 * several server URLs. The first state comes from `GET /v1/state` (the first URL that
 * answers); then a stream is kept open to one URL at a time, reconnecting with exponential
 * backoff and jitter to the next URL in the list and resuming with `Last-Event-ID`, so no
 * revision is missed. While no stream can be had, the source polls `GET /v1/state` with
 * `If-None-Match` instead. Each state is applied once and in order: an event whose revision
 * (PostgreSQL store) is not newer than the one applied, or whose id (file store: the state's
 * entity tag) is the one applied, is skipped. After the first state the server sends deltas
 * (`state-delta.ts`), applied onto the JSON of the state applied here; a delta from another
 * state than that one makes the source reconnect, so the server sends what changed since the
 * state it has. The SSE wire format is parsed by `eventsource-parser`; connections, resumes
 * and failover are this file's.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

import type { LoadedState, SourceListener, StateSource } from '../types.js';
import { StateEntries } from '../loading/state-entries.js';
import { loaderBug, SLICE_MS, stateLoader } from '../loading/state-loader.js';
import { compileDeltaInTurns } from '../loading/state-text.js';
import { readBody } from '../loading/byte-blocks.js';
import type { ParseOptions } from './parse-state.js';
import { SourceError } from './source-error.js';
import { parseDelta } from './state-delta.js';
import { StateEventSplitter, type StateEventBytes } from './state-event-splitter.js';

/** A state built for applying, with its JSON, which the next delta applies to. */
interface Loaded {
  readonly loaded: LoadedState;
  readonly entries: StateEntries;
}

/**
 * Loads a whole state from a body (or, `sse`, a pushed event) received as bytes in `blocks`,
 * keeping its JSON for a delta. `source`: the watch source, whose last state the load may
 * share whichever of its servers sent this one (`origin` names the server and revision);
 * `base`: the JSON held here, whose entries the new one's may share.
 */
function wholeState(blocks: Uint8Array[], sse: boolean, origin: string, source: string, options: ParseOptions, base: StateEntries | null): Promise<Loaded> {
  return stateLoader.loadBytesForDeltas(blocks, sse, origin, options, source, base);
}

export interface WatchSourceOptions extends ParseOptions {
  /** Extra request headers, such as `authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time between `GET /v1/state` polls while no stream is up; default 30,000 ms. */
  readonly pollIntervalMs?: number;
  /** Longest a request (or a stream's response headers) may take; default 10,000 ms. */
  readonly timeoutMs?: number;
  /**
   * A stream silent for this long (no event, no heartbeat) is taken as dead and replaced;
   * default 45,000 ms (three of the server's 15 s heartbeats).
   */
  readonly idleTimeoutMs?: number;
  /** First reconnect delay; doubled per failed attempt up to `maxReconnectDelayMs`; default 250 ms. */
  readonly reconnectDelayMs?: number;
  /** Default 15,000 ms. Each delay is drawn between half and all of its value (jitter). */
  readonly maxReconnectDelayMs?: number;
  /**
   * Told of each state the source hands to the provider, for logs and metrics. A provider that
   * resolves bundles compiles a state's flags before it serves it (see the README's "Resolve-all
   * bundles"), so it may serve a state a moment after this, or never if a newer one arrives first.
   */
  readonly onApply?: (applied: AppliedState) => void;
}

/** One state the source applied. */
export interface AppliedState {
  /** The event id: the revision on a PostgreSQL store, else the state's entity tag. */
  readonly id: string;
  /** The store's revision, where it has one. */
  readonly revision: number | null;
  /** The server it came from. */
  readonly url: string;
  readonly via: 'stream' | 'poll';
  /**
   * The server no longer remembered the client's last revision (its history was evicted,
   * or it restarted), so this is the whole state without knowing what changed in between.
   */
  readonly reset: boolean;
  /** It came as a delta: only what changed since the state applied before it. */
  readonly delta: boolean;
}

/** A delta that does not apply to the state applied here: not an error, the stream is resumed. */
class BaseMismatch extends Error {}

const POLLED: Pick<AppliedState, 'via' | 'reset'> = { via: 'poll', reset: false };

/**
 * `watchSource(['http://flags-1:4747', 'http://flags-2:4747'], { headers: { authorization: 'Bearer …' } })`:
 * the server base URLs (no path) of instances serving the same workspace.
 */
export function watchSource(
  urls: readonly (string | URL)[],
  options: WatchSourceOptions = {},
): StateSource {
  if (urls.length === 0)
    throw new TypeError('watchSource: give at least one server URL (e.g. http://127.0.0.1:4747)');
  return new WatchSource(
    urls.map((u) => new URL(u).origin),
    options,
  );
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

const unquote = (etag: string): string => etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

class WatchSource implements StateSource {
  readonly description: string;
  private listener: SourceListener | null = null;
  private appliedId: string | null = null;
  private appliedRevision: number | null = null;
  /** The JSON of the state applied, which the next delta applies to (parsed here only where a delta reads it). */
  private appliedEntries: StateEntries | null = null;
  /** The state applied, whose fingerprints a delta's state starts from. */
  private appliedState: LoadedState | null = null;
  private next = 0;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private streaming = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private applying: Promise<void> = Promise.resolve();
  /** Whether `start` has its first state: later ones go to the listener. */
  private started = false;

  constructor(
    private readonly urls: readonly string[],
    private readonly options: WatchSourceOptions,
  ) {
    this.description = `watch ${urls.join(', ')}`;
  }

  async start(listener: SourceListener): Promise<LoadedState> {
    this.listener = listener;
    const first = await this.pollAll();
    if (first === null)
      throw new SourceError(
        'FETCH_FAILED',
        `${this.description}: answered 304 Not Modified to the first request`,
      );
    this.started = true;
    this.loop = this.watch();
    return first;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    await this.loop;
    await this.applying;
  }

  private isStopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Streams from one URL after another until stopped. */
  private async watch(): Promise<void> {
    let failures = 0;
    while (!this.isStopped()) {
      const url = this.urls[this.next % this.urls.length]!;
      this.next++;
      const outcome = await this.stream(url);
      if (this.isStopped()) break;
      failures = outcome.wasUp ? 0 : failures + 1;
      // A stream that was up ended (the server closing, say): reconnect at once, spread over up
      // to one reconnect delay so its watchers do not all land on the next instance together.
      // Poll only once a connection attempt has failed.
      if (!outcome.wasUp) this.startPolling();
      const first = this.options.reconnectDelayMs ?? 250;
      const base = Math.min(
        this.options.maxReconnectDelayMs ?? 15_000,
        first * 2 ** Math.max(0, failures - 1),
      );
      const wait = Math.max(
        outcome.retryAfterMs,
        failures === 0 ? Math.random() * first : base * (0.5 + Math.random() / 2),
      );
      await sleep(wait, this.stopping.signal);
    }
  }

  /** One stream from `url`, until it ends; whether it was up, and how long the server asked to wait. */
  private async stream(url: string): Promise<{ wasUp: boolean; retryAfterMs: number }> {
    const abort = new AbortController();
    const stop = (): void => {
      abort.abort();
    };
    this.stopping.signal.addEventListener('abort', stop, { once: true });
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const idleMs = this.options.idleTimeoutMs ?? 45_000;
    let heardAt = Date.now();
    const up = { wasUp: false };
    const idle = setInterval(
      () => {
        if (Date.now() - heardAt > (up.wasUp ? idleMs : timeoutMs)) abort.abort();
      },
      Math.max(10, Math.min(idleMs, timeoutMs) / 4),
    );
    idle.unref();
    try {
      const headers: Record<string, string> = {
        accept: 'text/event-stream',
        // Whole states announced (`fetch` events), for the loader's worker to fetch: a 26 MB
        // event read here held the event loop up to 44 ms at a time. Servers that do not know
        // the header send whole states in the stream, which load as before.
        'allot-whole-state': 'fetch',
        ...this.options.headers,
      };
      if (this.appliedId !== null) headers['last-event-id'] = this.appliedId;
      const response = await fetch(`${url}/v1/state:watch`, { headers, signal: abort.signal });
      if (response.status !== 200) {
        await response.body?.cancel();
        const retryAfter = Number(response.headers.get('retry-after') ?? '0');
        return { wasUp: false, retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : 0 };
      }
      up.wasUp = true;
      heardAt = Date.now();
      this.streaming = true;
      this.stopPolling();
      const parser = createParser({
        onEvent: (event) => {
          this.enqueue(event, url, abort);
        },
        onComment: () => {
          // A heartbeat or "up to date": the server answers, the state applied is current.
          this.listener?.confirm();
        },
      });
      // Whole states stay bytes, for the loader's worker; the rest is parsed here.
      const splitter = new StateEventSplitter(
        (text) => {
          parser.feed(text);
        },
        (event) => {
          this.enqueue(event, url, abort);
        },
      );
      await readBody(response.body as ReadableStream<Uint8Array>, (chunk) => {
        heardAt = Date.now();
        splitter.feed(chunk);
      });
    } catch {
      // Refused, reset, timed out or aborted: the loop moves on to the next URL.
    } finally {
      clearInterval(idle);
      this.streaming = false;
      this.stopping.signal.removeEventListener('abort', stop);
    }
    return { wasUp: up.wasUp, retryAfterMs: 0 };
  }

  /** Applies stream events one after another, in arrival order. */
  private enqueue(
    event: EventSourceMessage | StateEventBytes,
    url: string,
    stream: AbortController,
  ): void {
    if (event.event === 'fetch' && !('blocks' in event)) {
      this.fetchAnnounced(event.data, url, stream, event.id ?? '');
      return;
    }
    if (event.event !== 'state' && event.event !== 'reset' && event.event !== 'delta') return;
    const id = event.id ?? '';
    const whole = 'blocks' in event ? event : null;
    const data = 'blocks' in event ? '' : event.data;
    const revision = /^\d+$/.test(id) ? Number(id) : null;
    const applied: AppliedState = {
      id,
      revision,
      url,
      via: 'stream',
      reset: event.event === 'reset',
      delta: event.event === 'delta',
    };
    this.applying = this.applying.then(async () => {
      if (event.event !== 'delta') {
        await this.apply(
          (origin) =>
            whole === null
              ? wholeState([new TextEncoder().encode(data)], false, origin, this.description, this.options, this.appliedEntries)
              : wholeState(whole.blocks, true, origin, this.description, this.options, this.appliedEntries),
          applied,
        );
        return;
      }
      await this.apply(async (origin) => {
        const delta = parseDelta(data, origin);
        if (delta.base !== this.appliedId) {
          // Not from the state applied here (one was rejected, or the server lost track):
          // reconnect, and the server sends what changed since the state applied here. Later
          // events of the same stream are dropped without a word.
          const first = !stream.signal.aborted;
          stream.abort();
          throw new BaseMismatch(
            first
              ? `${origin}: a delta from ${delta.base}, but ${this.appliedId ?? 'no state'} is applied here; reconnecting`
              : '',
          );
        }
        // A new state beside the one applied, which stays as it is should this one be refused.
        // Its JSON and its compiled state are taken in this turn: a poll may apply another
        // state while this one loads (then this one is not applied, below).
        const base = this.appliedEntries ?? StateEntries.ofJson(null);
        const previous = this.appliedState;
        await base.ready();
        const entries = base.apply(delta, origin);
        const incremental = previous === null ? null : await compileDeltaInTurns(entries.json(), origin, this.options, previous, delta, SLICE_MS);
        // Not loadable entry by entry (the account or bloom filters changed, or the result
        // has a problem): the whole state, on the loader's worker like any whole state; its
        // problems are reported as for a whole state.
        const made = incremental !== null ? { loaded: incremental, entries } : await wholeState(await entries.toBlocks(), false, origin, this.description, this.options, entries);
        if (this.appliedId !== delta.base) {
          // Another state was applied meanwhile (a poll): this one was made from the one before.
          stream.abort();
          throw new BaseMismatch(`${origin}: ${this.appliedId} was applied while the delta from ${delta.base} loaded; reconnecting`);
        }
        if (previous !== null && incremental !== null) await stateLoader.madeFrom(this.description, previous.state, incremental);
        return made;
      }, applied);
    });
  }

  /**
   * A whole state the stream announced rather than sent (`event: fetch`, data
   * `{"whole":"state"}` or `{"whole":"reset"}`): `GET /v1/state` from the same server, in turn
   * with the stream's other events. The server may have moved on since: the state fetched is
   * applied under its own id, and the deltas to it that follow are skipped as not new. A
   * request that fails ends the stream: the next one starts from the state applied here.
   */
  private fetchAnnounced(data: string, url: string, stream: AbortController, id: string): void {
    let reset = false;
    try {
      reset = (JSON.parse(data) as { whole?: unknown }).whole === 'reset';
    } catch {
      // Not JSON: fetch the state all the same; it is what the event asks for.
    }
    const revision = /^\d+$/.test(id) ? Number(id) : null;
    this.applying = this.applying.then(async () => {
      if (this.isStopped() || stream.signal.aborted) return;
      // Announced to a watcher that has it (it resumed on an instance behind it): nothing to fetch.
      if (!this.isNew({ id, revision, url, via: 'stream', reset, delta: false })) {
        this.listener?.confirm();
        return;
      }
      try {
        await this.poll(url, { via: 'stream', reset });
      } catch (error) {
        if (this.isStopped()) return;
        if (error instanceof SourceError && error.code === 'INVALID_STATE') {
          this.listener?.error(error);
          return;
        }
        this.listener?.notice?.(`${url}: the whole state the stream announced could not be fetched (${(error as Error).message}); reconnecting`);
        stream.abort();
      }
    });
  }

  /** Builds (with `load`) and hands over a state unless it was applied already (or is older). */
  private async apply(
    load: (origin: string) => Loaded | Promise<Loaded>,
    applied: AppliedState,
  ): Promise<LoadedState | null> {
    const listener = this.listener;
    if (this.isStopped() || listener === null) return null;
    if (!this.isNew(applied)) {
      listener.confirm();
      return null;
    }
    const note = applied.reset
      ? '; the whole state: the server no longer had the last revision applied here'
      : applied.delta
        ? '; a delta'
        : '';
    const origin = `${applied.url} (${applied.revision === null ? `ETag "${applied.id}"` : `revision ${applied.id}`}${note})`;
    let loaded: LoadedState;
    let base: Loaded;
    try {
      base = await load(origin);
      loaded = base.loaded;
    } catch (error) {
      if (error instanceof BaseMismatch) {
        if (error.message !== '') listener.notice?.(error.message);
        return null;
      }
      if (!this.started) throw error;
      listener.error(error as Error);
      return null;
    }
    if (!this.isNew(applied)) return null;
    const previous = this.appliedId;
    this.appliedId = applied.id;
    this.appliedEntries = base.entries;
    this.appliedState = loaded;
    if (applied.revision !== null) this.appliedRevision = applied.revision;
    this.options.onApply?.(applied);
    if (applied.reset)
      listener.notice?.(
        `${applied.url} no longer had the last revision applied here (${previous ?? 'none'}); applied its whole state, ${applied.id}`,
      );
    // The first state is `start`'s answer; the provider applies it itself.
    if (this.started) listener.update(loaded);
    return loaded;
  }

  private isNew(applied: AppliedState): boolean {
    if (applied.revision !== null && this.appliedRevision !== null)
      return applied.revision > this.appliedRevision;
    return applied.id !== this.appliedId;
  }

  private startPolling(): void {
    if (this.pollTimer !== null || this.isStopped()) return;
    const tick = (): void => {
      void this.pollAll()
        .catch((error: unknown) => {
          if (!this.isStopped() && !this.streaming) this.listener?.error(error as Error);
        })
        .finally(() => {
          this.pollTimer = null;
          if (!this.streaming && !this.isStopped()) {
            this.pollTimer = setTimeout(tick, this.options.pollIntervalMs ?? 30_000);
            this.pollTimer.unref();
          }
        });
    };
    // The first poll at once: the stream just went down.
    this.pollTimer = setTimeout(tick, 0);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  /**
   * `GET /v1/state` from each URL in turn until one answers: the state when it is new, null
   * when it is the one applied (a 304, or an older revision). Throws when none answers.
   */
  private async pollAll(): Promise<LoadedState | null> {
    const failures: string[] = [];
    for (let i = 0; i < this.urls.length && !this.isStopped(); i++) {
      const url = this.urls[(this.next + i) % this.urls.length]!;
      try {
        return await this.poll(url);
      } catch (error) {
        if (error instanceof SourceError && error.code === 'INVALID_STATE') throw error;
        failures.push((error as Error).message);
      }
    }
    throw new SourceError(
      'FETCH_FAILED',
      `${this.description}: no server answered: ${failures.join('; ')}`,
    );
  }

  /**
   * `GET /v1/state` from `url`: the state when it is new, null when it is the one applied (a
   * 304, or an older revision). The loader's worker sends the request and reads the body.
   * `how`: polled, or announced by the stream (a `fetch` event) in place of the whole state.
   */
  private async poll(url: string, how: Pick<AppliedState, 'via' | 'reset'> = POLLED): Promise<LoadedState | null> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers };
    if (this.appliedId !== null && this.appliedRevision === null)
      headers['if-none-match'] = `"${this.appliedId}"`;
    const request = {
      url: `${url}/v1/state`,
      headers,
      timeoutMs: this.options.timeoutMs ?? 10_000,
      ...(this.appliedRevision === null ? {} : { appliedRevision: this.appliedRevision }),
    };
    const fetched = await stateLoader.fetchState(request, `${url}/v1/state`, this.options, {
      signal: this.stopping.signal,
      entries: true,
      source: this.description,
      base: this.appliedEntries,
    });
    if (fetched === null) {
      this.listener?.confirm();
      return null;
    }
    const { etag, revision } = fetched.response;
    const entries = fetched.entries;
    // Asked for (`entries: true`), so present: `fetchState` throws otherwise.
    if (entries === null) throw loaderBug(`${url}/v1/state`, "without the state's entries");
    const id = revision === null ? unquote(etag ?? '') : String(revision);
    return this.apply(
      (origin) => ({ loaded: { ...fetched.loaded, origin }, entries }),
      { id, revision, url, ...how, delta: false },
    );
  }

}
