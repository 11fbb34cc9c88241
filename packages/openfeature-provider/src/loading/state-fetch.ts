/**
 * `GET` of a state over HTTP(S), as the loader's worker runs it: the worker fetches and reads
 * the body, so a 26 MB state is never read on the application's thread (reading it there,
 * undici's joins and the copies into blocks, and the collections of the memory they take, held
 * the event loop 16–44 ms at a time). Where no worker runs, the loader runs the same request on
 * its own thread.
 */
import { SourceError } from '../sources/source-error.js';

/** What to fetch: plain data, posted to the worker. */
export interface StateRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Longest the request and its body may take. */
  readonly timeoutMs: number;
  /**
   * The revision applied already: a response whose `Allot-Revision` is not newer is not read,
   * and answers as a 304 would (a server with revisions serves no `If-None-Match`).
   */
  readonly appliedRevision?: number;
}

/** What a 200 said of the state it carries. */
export interface StateResponse {
  /** The `ETag` header as sent (quotes included), or null. */
  readonly etag: string | null;
  /** The `Allot-Revision` header (`allot serve` on a store with revisions), or null. */
  readonly revision: number | null;
}

/** The URL as messages name it: without its query, which may carry a credential. */
export function requestLabel(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/**
 * Sends the request: the response of a 200 (its body to read), or null for a 304 (or a
 * revision not newer than `appliedRevision`); throws `SourceError` (`FETCH_FAILED`) saying why
 * there is no state. `signal` aborts the request and the reading of its body (`withTimeout`
 * adds the request's timeout to it).
 */
export async function requestState(request: StateRequest, signal: AbortSignal): Promise<Response | null> {
  const label = requestLabel(request.url);
  let response: Response;
  try {
    response = await fetch(request.url, { headers: { ...request.headers }, signal });
  } catch (error) {
    throw fetchFailed(label, 'request failed', error);
  }
  if (response.status === 304) {
    await response.body?.cancel();
    return null;
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new SourceError('FETCH_FAILED', `${label}: answered ${response.status} ${response.statusText}; expected 200 with a resolver state`);
  }
  const { revision } = stateResponse(response);
  if (request.appliedRevision !== undefined && revision !== null && revision <= request.appliedRevision) {
    await response.body?.cancel();
    return null;
  }
  return response;
}

/** Whether `request` may be answered without a state: a 304, or a revision not newer than the one applied. */
export function isConditional(request: StateRequest): boolean {
  return request.appliedRevision !== undefined || Object.keys(request.headers).some((h) => h.toLowerCase() === 'if-none-match');
}

/** What a response's headers say of its state. */
export function stateResponse(response: Response): StateResponse {
  const revision = response.headers.get('allot-revision');
  return {
    etag: response.headers.get('etag'),
    revision: revision !== null && /^\d+$/.test(revision) ? Number(revision) : null,
  };
}

/** The whole body, for the worker (which may hold its thread); throws `FETCH_FAILED` if it breaks off. */
export async function bodyBytes(response: Response, label: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw fetchFailed(label, 'reading the body failed', error);
  }
}

/** A signal that aborts with `signal`, or after the request's timeout with a message saying so. */
export function withTimeout(request: StateRequest, signal?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new Error(`no whole answer within ${request.timeoutMs} ms (timeoutMs): raise it for a large state or a slow link`));
  }, request.timeoutMs);
  timer.unref();
  const forward = (): void => {
    controller.abort(signal?.reason);
  };
  if (signal?.aborted === true) forward();
  else signal?.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    },
  };
}

export function fetchFailed(label: string, what: string, error: unknown): SourceError {
  const e = error as Error;
  const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
  return new SourceError('FETCH_FAILED', `${label}: ${what}: ${e.message}${cause}`, [], { cause: error });
}
