/**
 * Loads states without stalling the application: a worker thread reads, parses, compiles and
 * validates, and posts back a prepared form (the JSON of each flag and segment as UTF-8, and
 * the bitsets, in transferred buffers); this thread assembles the compiled state from it in slices of
 * SLICE_MS, yielding to the event loop between them. The caller swaps the finished state in
 * whole; evaluations use the previous one meanwhile.
 *
 * One worker per process, shared by every source: started at the first load, referenced
 * only while a load is in flight (so it never keeps the process alive), ended when the last
 * provider holding it closes, when it is idle and no provider holds it, or after
 * WORKER_IDLE_MS without a load (its heap is given back; the next load starts another). A worker that
 * dies fails the loads in flight with `LOADER_FAILED`; the next load starts a new one.
 * States under INLINE_BELOW, and hosts where a worker cannot start, load on this thread.
 * States over HTTP are fetched by the worker (`fetchState`): this thread reads no large body
 * (a poll is asked here first, for the 304s and small states that need no worker). Bodies
 * this thread did receive (a whole state pushed in a stream) go to the worker as bytes, their
 * buffers transferred: this thread never decodes them into one large string.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

import { StateAssembler, type CompactBitset, type ResolverState } from '@allot/core';
import type { ParseOptions } from '../sources/parse-state.js';
import { decidedByContent, RejectedContent, SourceError } from '../sources/source-error.js';
import type { LoadedState } from '../types.js';
import { bodyBlocks } from './byte-blocks.js';
import { FingerprintsReader } from './fingerprints.js';
import { LastStates, type HeldOffer } from './last-states.js';
import { fetchFailed, isConditional, requestLabel, requestState, stateResponse, withTimeout, type StateRequest, type StateResponse } from './state-fetch.js';
import { StateEntries, type EntryOffer } from './state-entries.js';
import {
  compileJson,
  contentDigest,
  readStateFile,
  stateJsonOf,
  textOfBytes,
  type CancelRequest,
  type LoadReply,
  type LoadRequest,
  type WorkerParseOptions,
} from './state-text.js';

/** Texts shorter than this (in UTF-16 units, or bytes) load on the calling thread: a worker round trip costs more. */
export const INLINE_BELOW: number = 64 * 1024;
/**
 * Longest piece of assembly between two turns of the event loop. 1 ms, not 4: V8 runs its
 * collection tasks between turns, and with shorter pieces the longest stall of a 10,000-segment
 * reload fell from 29–34 ms to 18–19 ms (bench:reload, file row, run in turn), while the
 * reload took as long (3.3–3.5 s).
 */
export const SLICE_MS: number = 1;
/**
 * A worker idle this long is ended, giving back its heap (tens of MB, and the bitsets of its
 * last load: load-worker.ts); the next load starts another. Two default poll intervals (30 s),
 * so that a state that changes at consecutive polls finds the bitsets of the last load.
 */
export const WORKER_IDLE_MS: number = 60_000;

/** A file's state, or null when its content is the one loaded (or rejected) last; with the content's digest. */
export interface LoadedFile {
  readonly loaded: LoadedState | null;
  readonly digest: string;
}

type Request = LoadRequest extends infer R
  ? R extends LoadRequest
    ? Omit<R, 'id'>
    : never
  : never;

/**
 * A state the worker prepared, with the sets this thread offered it (`held`), which the
 * prepared form may name, and the entries offered (`heldEntries`), which its entries may name.
 */
type Prepared = Extract<LoadReply, { kind: 'prepared' }> & {
  readonly held: readonly CompactBitset[];
  readonly heldEntries: EntryOffer | null;
};

/** A worker's answer, or a state loaded on this thread when no worker can run. */
type Outcome =
  | Exclude<LoadReply, { kind: 'failed' | 'ready' | 'prepared' }>
  | Prepared
  | {
      readonly kind: 'loaded';
      readonly file: LoadedFile;
      readonly entries?: StateEntries;
      readonly response?: StateResponse;
    };

/** A state `fetchState` loaded, with what the response said of it. */
export interface FetchedState {
  readonly loaded: LoadedState;
  /** The state's JSON for deltas, when asked for. */
  readonly entries: StateEntries | null;
  readonly response: StateResponse;
}

interface Pending {
  readonly request: Request;
  readonly signal: AbortSignal | undefined;
  /** The sets offered with the request: held until the state is assembled. */
  readonly held: HeldOffer | null;
  /** The entries offered with the request. */
  readonly heldEntries: EntryOffer | null;
  readonly resolve: (outcome: Outcome | Extract<LoadReply, { kind: 'failed' }>) => void;
  readonly reject: (error: Error) => void;
}


/** The compiled worker script (tests run from src/, where only the .ts exists). */
function workerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts'))
    return new URL(
      here.replace(/\/src\/loading\/state-loader\.ts$/, '/dist/loading/load-worker.js'),
    );
  return new URL('./load-worker.js', here);
}

export class StateLoader {
  private worker: Worker | null = null;
  /** Whether the worker's script has loaded: until then requests with buffers wait, so that a worker that never starts leaves them to load here. */
  private ready = false;
  private readonly waitingForReady: (() => void)[] = [];
  /** Set when a worker could not start here: loads run on this thread from then on. */
  private unavailable = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private holders = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  /** A provider uses the loader until `release`: the worker stays up between its loads. */
  acquire(): void {
    this.holders++;
  }

  /** Resolves once the worker has ended, if this was the last holder and no load is in flight. */
  release(): Promise<void> {
    this.holders = Math.max(0, this.holders - 1);
    return this.endIfUnused();
  }

  /** Whether a worker thread is running (for tests and diagnostics). */
  get running(): boolean {
    return this.worker !== null;
  }

  /** How many requests the worker has not answered yet (tests). */
  get inFlightForTesting(): number {
    return this.pending.size;
  }

  /** Ends the worker as if it had crashed (tests). */
  crashForTesting(): Promise<number> {
    return this.worker?.terminate() ?? Promise.resolve(0);
  }

  async loadText(text: string, origin: string, options: ParseOptions): Promise<LoadedState> {
    const offThread = options.offThread ?? text.length >= INLINE_BELOW;
    if (!offThread || this.unavailable)
      return compileJson(await stateJsonOf(text, origin, options), origin, options);
    const outcome = await this.request({
      kind: 'text',
      text,
      origin,
      options: workerOptions(options),
    });
    return (await loadedOf(outcome, origin)).loaded;
  }

  /**
   * Loads a state from UTF-8 bytes in `blocks` (with `sse`, one Server-Sent Event whose data
   * is the state; see `ByteBlocks`), with the state's JSON kept for the deltas that follow
   * it: off this thread as bytes entry by entry (`StateEntries`), never parsed whole here.
   * Off this thread, the blocks' buffers are transferred: do not use them after. `source`
   * names where the states come from when `origin` names each one (a revision): the state
   * loaded replaces the source's last one among the sets this thread offers the worker.
   * `base`: the source's state's entries, which the new one's may share (`StateEntries.offer`).
   */
  async loadBytesForDeltas(
    blocks: readonly Uint8Array[],
    sse: boolean,
    origin: string,
    options: ParseOptions,
    source: string = origin,
    base: StateEntries | null = null,
  ): Promise<{ loaded: LoadedState; entries: StateEntries }> {
    if (!this.bytesOffThread(blocks, options)) return loadHere(textOfBytes(blocks, sse), origin, options);
    const outcome = await this.request(
      { kind: 'bytes', blocks, sse, origin, options: workerOptions(options), entries: true },
      undefined,
      false,
      source,
      base,
    );
    const { loaded, entries } = await loadedOf(outcome, origin, source);
    if (entries === null) throw loaderBug(origin, "without the state's entries");
    return { loaded, entries };
  }

  /**
   * Fetches a state (`state-fetch.ts`) and loads it: the worker sends the request, and reads,
   * parses and prepares the body, so this thread never reads a large one; null when the server
   * answered 304 Not Modified (or a revision not newer than `request.appliedRevision`).
   * `signal` gives the request up (its own timeout is `request.timeoutMs`). With `entries`, the
   * state's JSON is kept for the deltas that follow, as `loadBytesForDeltas` keeps it.
   * `origin` names the state in its problems; the caller names the loaded state (with what the
   * response said) itself.
   *
   * A conditional request (a poll) is sent from this thread first: most polls are answered
   * 304, which then costs no worker (none is started for it), and a state under INLINE_BELOW
   * bytes is read here. Only a larger one is dropped after its headers and asked again by the
   * worker, which reads it. `how.source` names the source when `origin` names one of its
   * servers (default `origin`): its last state is what the load may share (last-states.ts).
   * `how.base`, with `entries`: the source's state's entries, which the new one's may share.
   */
  async fetchState(
    request: StateRequest,
    origin: string,
    options: ParseOptions,
    how: { readonly signal: AbortSignal; readonly entries: boolean; readonly source?: string; readonly base?: StateEntries | null },
  ): Promise<FetchedState | null> {
    const here = options.offThread === false || this.unavailable;
    if (!here && isConditional(request)) {
      const answered = await fetchHere(request, origin, options, how.signal, INLINE_BELOW);
      if (answered !== null) return this.fetched(answered, origin, how);
    }
    const outcome = await this.request(
      { kind: 'url', request, origin, options: workerOptions(options), entries: how.entries },
      how.signal,
      here,
      how.source,
      how.entries ? how.base : null,
    );
    return this.fetched(outcome, origin, how);
  }

  private async fetched(outcome: Outcome, origin: string, how: { readonly entries: boolean; readonly source?: string }): Promise<FetchedState | null> {
    if (outcome.kind === 'not-modified') return null;
    const response = outcome.kind === 'loaded' || outcome.kind === 'prepared' ? outcome.response : undefined;
    const { loaded, entries } = await loadedOf(outcome, origin, how.source);
    if (response === undefined || (how.entries && entries === null)) throw loaderBug(origin, 'without the response or the entries asked for');
    return { loaded, entries, response };
  }

  /**
   * `loaded`, made on this thread from `from` by a delta, is now `source`'s last state: the
   * next whole load offers the worker the bitsets `from` held that it still uses, and takes
   * its unchanged segments and flags (last-states.ts).
   */
  madeFrom(source: string, from: ResolverState, loaded: LoadedState): Promise<void> {
    return lastStates.madeFrom(source, from, loaded, SLICE_MS);
  }

  /** Whether a body in `blocks` loads on the worker: large ones, unless the options or the host say otherwise. */
  private bytesOffThread(blocks: readonly Uint8Array[], options: ParseOptions): boolean {
    const byteLength = blocks.reduce((n, b) => n + b.byteLength, 0);
    return !this.unavailable && (options.offThread ?? byteLength >= INLINE_BELOW);
  }

  async loadFile(
    path: string,
    origin: string,
    options: ParseOptions,
    unlessDigest: string | null,
  ): Promise<LoadedFile> {
    if (options.offThread === false || this.unavailable)
      return loadFileHere(path, origin, options, unlessDigest);
    const outcome = await this.request({
      kind: 'file',
      path,
      unlessDigest,
      origin,
      options: workerOptions(options),
    });
    if (outcome.kind === 'loaded') return outcome.file;
    if (outcome.kind === 'unchanged') return { loaded: null, digest: outcome.digest };
    if (outcome.kind !== 'prepared') throw loaderBug(origin, outcome.kind);
    return { loaded: await assemble(outcome, origin), digest: outcome.digest ?? '' };
  }

  /**
   * Answered by the worker, or here (`here`, or no worker can run). `signal` cancels a `url`
   * request. `source`'s held bitsets go with it (last-states.ts), and `base`'s entries.
   */
  private request(request: Request, signal?: AbortSignal, here = false, source: string = request.origin, base: StateEntries | null = null): Promise<Outcome> {
    let cancel: (() => void) | null = null;
    return new Promise<Outcome | Extract<LoadReply, { kind: 'failed' }>>((resolve, reject) => {
      const id = this.nextId++;
      const worker = here ? null : this.start();
      if (worker === null) {
        this.runHere(request, signal).then(resolve, reject);
        return;
      }
      const held = lastStates.offer(source);
      const heldEntries = base?.offer() ?? null;
      this.pending.set(id, { request, signal, held, heldEntries, resolve, reject });
      this.clearIdle();
      worker.ref();
      // The digests are copied, not transferred: the next request offers them again.
      const message = {
        ...request,
        id,
        ...(held === null ? {} : { held: held.digests }),
        ...(heldEntries === null ? {} : { heldEntries: heldEntries.held }),
      };
      if (request.kind !== 'bytes') {
        worker.postMessage(message);
        if (request.kind === 'url' && signal !== undefined) {
          cancel = () => {
            if (this.pending.has(id)) this.worker?.postMessage({ kind: 'cancel', id } satisfies CancelRequest);
          };
          if (signal.aborted) cancel();
          else signal.addEventListener('abort', cancel, { once: true });
        }
        return;
      }
      const post = (): void => {
        worker.postMessage(
          message,
          request.blocks.map((b) => b.buffer as ArrayBuffer),
        );
      };
      if (this.ready) post();
      else this.waitingForReady.push(post);
    })
      .finally(() => {
        // The signal may outlive many requests (a source's own, until it stops).
        if (cancel !== null) signal?.removeEventListener('abort', cancel);
      })
      .then((outcome) => {
        if (outcome.kind === 'failed') {
          const { code, message, issues } = outcome.error;
          throw typeof outcome.digest === 'string' ? new RejectedContent(code, message, issues, outcome.digest) : new SourceError(code, message, issues);
        }
        return outcome;
      });
  }

  private start(): Worker | null {
    if (this.worker !== null) return this.worker;
    if (this.unavailable) return null;
    let worker: Worker;
    try {
      // V8's default young generation. A worker's collections run partly on V8's helper threads,
      // which every isolate shares at the application's priority; capping the worker's young
      // generation (`resourceLimits.maxYoungGenerationSizeMb: 1`) halved the helpers' work for
      // it (0.89 → 0.46 s over two file reloads, --trace-gc-nvp), but its 8× more scavenges woke
      // them 8× as often, each a chance to hold the application's CPU until the kernel's next
      // tick. Reload maxima at 10,000 segments (file, http and both watch rows, three passes
      // each, in turn, 2026-12-06): median 21.9 ms and 7 of 12 over 20 ms with the cap, median
      // 18.3 ms and 4 of 12 without.
      worker = new Worker(workerUrl());
    } catch {
      this.unavailable = true;
      return null;
    }
    let ready = false;
    let failure: Error | null = null;
    this.ready = false;
    worker.on('message', (reply: LoadReply) => {
      if (reply.kind === 'ready') {
        ready = this.ready = true;
        for (const post of this.waitingForReady.splice(0)) post();
      } else {
        const p = this.settle(reply.id);
        p?.resolve(reply.kind === 'prepared' ? { ...reply, held: p.held?.sets ?? [], heldEntries: p.heldEntries } : reply);
      }
    });
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      // A worker this loader ended itself (idle, unused) had nothing in flight.
      if (this.worker !== worker) return;
      this.worker = null;
      this.ready = false;
      this.waitingForReady.length = 0;
      const inFlight = [...this.pending];
      this.pending.clear();
      if (!ready) {
        // It never started (no worker support, the script missing): load here from now on.
        this.unavailable = true;
        for (const [, p] of inFlight) this.runHere(p.request, p.signal).then(p.resolve, p.reject);
        return;
      }
      const why = failure === null ? `exit code ${code}` : failure.message;
      for (const [, p] of inFlight) {
        p.reject(
          new SourceError(
            'LOADER_FAILED',
            `${p.request.origin}: the worker thread loading states stopped (${why}) before it answered; the last good state stays in use, and the next load starts a new worker`,
          ),
        );
      }
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) {
      this.worker?.unref();
      void this.endIfUnused();
    }
    return p;
  }

  /** Ends the worker when nothing is in flight and no provider holds it; else, once it has idled WORKER_IDLE_MS. */
  private endIfUnused(): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.pending.size > 0) return Promise.resolve();
    if (this.holders > 0) {
      this.clearIdle();
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        if (this.worker === worker && this.pending.size === 0) void this.end(worker);
      }, WORKER_IDLE_MS);
      this.idleTimer.unref();
      return Promise.resolve();
    }
    return this.end(worker);
  }

  private end(worker: Worker): Promise<void> {
    this.clearIdle();
    this.worker = null;
    this.ready = false;
    return worker.terminate().then(() => undefined);
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** A request answered on this thread (no worker here). */
  private async runHere(request: Request, signal?: AbortSignal): Promise<Outcome> {
    const { origin, options } = request;
    if (request.kind === 'url') return fetchHere(request.request, origin, options, signal);
    if (request.kind === 'file')
      return {
        kind: 'loaded',
        file: await loadFileHere(request.path, origin, options, request.unlessDigest),
      };
    const text = request.kind === 'text' ? request.text : textOfBytes(request.blocks, request.sse);
    const { loaded, entries } = await loadHere(text, origin, options);
    return { kind: 'loaded', file: { loaded, digest: '' }, ...(request.entries === true ? { entries } : {}) };
  }
}

/**
 * A `url` request answered on this thread: the body read in turns (`bodyBlocks`), then loaded
 * here. With `readBelow`, a body that turns out longer (by its `Content-Length`, or once that
 * many bytes have come) is not read further: null, for the worker to fetch it.
 */
async function fetchHere(request: StateRequest, origin: string, options: ParseOptions, signal?: AbortSignal): Promise<Outcome>;
async function fetchHere(request: StateRequest, origin: string, options: ParseOptions, signal: AbortSignal, readBelow: number): Promise<Outcome | null>;
async function fetchHere(request: StateRequest, origin: string, options: ParseOptions, signal?: AbortSignal, readBelow?: number): Promise<Outcome | null> {
  const { signal: bounded, clear } = withTimeout(request, signal);
  try {
    const response = await requestState(request, bounded);
    if (response === null) return { id: 0, kind: 'not-modified' };
    if (readBelow !== undefined && Number(response.headers.get('content-length')) >= readBelow) {
      await response.body?.cancel();
      return null;
    }
    let body: { blocks: Uint8Array[] } | null;
    try {
      body = await bodyBlocks(response, readBelow ?? Infinity);
    } catch (error) {
      throw fetchFailed(requestLabel(request.url), 'reading the body failed', error);
    }
    if (body === null) return null;
    const { blocks } = body;
    const { loaded, entries } = await loadHere(textOfBytes(blocks, false), origin, options);
    return { kind: 'loaded', file: { loaded, digest: '' }, entries, response: stateResponse(response) };
  } finally {
    clear();
  }
}

/** A state loaded on this thread, with its JSON for deltas. */
async function loadHere(text: string, origin: string, options: ParseOptions): Promise<{ loaded: LoadedState; entries: StateEntries }> {
  const json = await stateJsonOf(text, origin, options);
  return { loaded: compileJson(json, origin, options), entries: StateEntries.ofJson(json) };
}

async function loadFileHere(
  path: string,
  origin: string,
  options: ParseOptions,
  unlessDigest: string | null,
): Promise<LoadedFile> {
  const bytes = await readStateFile(path, origin);
  const digest = contentDigest(bytes);
  if (digest === unlessDigest) return { loaded: null, digest };
  try {
    return { loaded: compileJson(await stateJsonOf(bytes.toString('utf8'), origin, options), origin, options), digest };
  } catch (error) {
    if (!decidedByContent(error)) throw error;
    throw new RejectedContent(error.code, error.message, error.issues, digest, { cause: error.cause });
  }
}

/**
 * The sets of the states assembled here, offered to the worker with each request: a reload
 * moves only the bitsets that changed (last-states.ts).
 */
const lastStates = new LastStates();

/**
 * Builds the state from its prepared form in slices, letting the event loop run between them;
 * its sets are offered to the worker from then on, in place of `source`'s last state's.
 */
async function assemble({ load, held }: Prepared, origin: string, source: string = origin): Promise<LoadedState> {
  // Not in the turn that received the worker's answer: that turn decodes the message, and V8
  // may answer the buffers it brings with a garbage collection there.
  await nextTurn();
  // The digests first: they say what the source's last state has that this one can take.
  const reader = new FingerprintsReader(load.fingerprints);
  while (!reader.step(SLICE_MS)) await nextTurn();
  const fingerprints = reader.result();
  const assembler = new StateAssembler(load.prepared, held, lastStates.reusable(source, fingerprints));
  while (!assembler.step(SLICE_MS)) await nextTurn();
  const loaded = { state: assembler.finish(), fingerprints, origin };
  await nextTurn();
  await lastStates.remember(source, loaded, load.digests, SLICE_MS);
  return loaded;
}

function workerOptions(options: ParseOptions): WorkerParseOptions {
  return {
    ...(options.accountId === undefined ? {} : { accountId: options.accountId }),
    ...(options.workspacePath === undefined ? {} : { workspacePath: options.workspacePath }),
  };
}

/** The process's loader, shared by every source. */
export const stateLoader: StateLoader = new StateLoader();

/** The state a load answered (loaded here, or prepared by the worker and assembled), with its JSON for deltas when the request asked for it. */
async function loadedOf(outcome: Outcome, origin: string, source: string = origin): Promise<{ loaded: LoadedState; entries: StateEntries | null }> {
  if (outcome.kind === 'loaded' && outcome.file.loaded !== null) return { loaded: outcome.file.loaded, entries: outcome.entries ?? null };
  if (outcome.kind !== 'prepared') throw loaderBug(origin, outcome.kind);
  const entries = outcome.load.entries === undefined ? null : StateEntries.of(outcome.load.entries, outcome.heldEntries);
  return { loaded: await assemble(outcome, origin, source), entries };
}

/** An answer the loader's own requests cannot get: a bug here, not a problem of the state. */
export function loaderBug(origin: string, what: string): SourceError {
  return new SourceError('LOADER_FAILED', `${origin}: the state loader answered ${what}; this is a bug in @allot/openfeature-provider: please report it`);
}
