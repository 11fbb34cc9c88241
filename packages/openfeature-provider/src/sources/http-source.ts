/**
 * A state served over HTTP(S) (by `@allot/server` or any static host), polled with
 * `If-None-Match` so an unchanged state costs a 304 and no parsing.
 */
import type { LoadedState, SourceListener, StateSource } from '../types.js';
import { stateLoader } from '../loading/state-loader.js';
import type { ParseOptions } from './parse-state.js';
import { SourceError } from './source-error.js';

export interface HttpSourceOptions extends ParseOptions {
  /** Time between polls; default 30,000 ms. 0 fetches once and never polls. */
  readonly pollIntervalMs?: number;
  /** Longest one request may take; default 10,000 ms. */
  readonly timeoutMs?: number;
  /** Extra request headers, such as `authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A state from a URL: `httpSource('https://flags.internal/v1/state', { pollIntervalMs: 10_000 })`. */
export function httpSource(url: string | URL, options: HttpSourceOptions = {}): StateSource {
  return new HttpSource(new URL(url), options);
}

class HttpSource implements StateSource {
  readonly description: string;
  private listener: SourceListener | null = null;
  private etag: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private stopped = false;

  constructor(
    private readonly url: URL,
    private readonly options: HttpSourceOptions,
  ) {
    this.description = `${url.origin}${url.pathname}`;
  }

  async start(listener: SourceListener): Promise<LoadedState> {
    this.listener = listener;
    try {
      const loaded = await this.fetchState();
      if (loaded === null) throw new SourceError('FETCH_FAILED', `${this.description}: answered 304 Not Modified to the first request`);
      return loaded;
    } finally {
      this.schedule();
    }
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    return this.inFlight ?? Promise.resolve();
  }

  private schedule(): void {
    const interval = this.options.pollIntervalMs ?? 30_000;
    if (this.stopped || interval <= 0) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.poll().finally(() => {
        this.inFlight = null;
        this.schedule();
      });
    }, interval);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const listener = this.listener;
    if (listener === null) return;
    try {
      const loaded = await this.fetchState();
      if (this.stopped) return;
      if (loaded === null) listener.confirm();
      else listener.update(loaded);
    } catch (error) {
      if (!this.stopped) listener.error(error as Error);
    }
  }

  /**
   * The new state, or null when the server says it is unchanged (304). The loader's worker
   * sends the request and reads the body: a large state is never read on this thread.
   */
  private async fetchState(): Promise<LoadedState | null> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers };
    if (this.etag !== null) headers['if-none-match'] = this.etag;
    this.abort = new AbortController();
    const request = { url: this.url.href, headers, timeoutMs: this.options.timeoutMs ?? 10_000 };
    const fetched = await stateLoader.fetchState(request, this.description, this.options, { signal: this.abort.signal, entries: false });
    if (fetched === null) return null;
    // Remember the ETag only for a state that loaded, so a bad one is fetched again.
    this.etag = fetched.response.etag;
    return { ...fetched.loaded, origin: this.etag === null ? this.description : `${this.description} (ETag ${this.etag})` };
  }
}
