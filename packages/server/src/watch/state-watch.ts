/**
 * `GET /v1/state:watch`: the compiled resolver state as Server-Sent Events, so providers
 * learn of a change as soon as this server does. Every event's id is the state's:
 * - the store's revision where it has one (PostgreSQL: one counter shared by every
 *   instance, so a client may resume on any instance);
 * - else the compiled state's entity tag without quotes (the file store has no revisions).
 *
 * Three events (the wire format is in the README, "Watching the state"):
 * - `state`: the whole state (its `data` lines are the bytes `GET /v1/state` serves);
 * - `delta`: what changed since the state whose id it names as `base` (see `state-delta.ts`),
 *   computed once per new state and shared by every watcher;
 * - `reset`: the whole state, for a client whose last id this server does not remember;
 * - `fetch`: in place of `state` and `reset`, for a client that asks with the request header
 *   `Allot-Whole-State: fetch`: the whole state announced, data `{"whole":"state"}` or
 *   `{"whole":"reset"}`, for the client to `GET /v1/state` (a provider fetches it on its
 *   loader's worker, where a 26 MB event read on the application's thread stalls it).
 *
 * On connect the client gets the current state, or, with a `Last-Event-ID` this server
 * remembers, one delta from it to the current state (a `: up to date` comment when it is
 * current). Then one event per new state: a delta to a watcher whose last event was its
 * base, else the whole state. A `: heartbeat` comment every `heartbeatMs` keeps proxies open.
 *
 * A delta is encoded once; a whole state is written from the compiled text the server holds
 * anyway, each piece given its `data: ` prefixes as it is written (a second, prefixed copy of
 * a 20 MB state would be 22 MB more held for as long as the state is current). Each watcher
 * writes an event in `chunkBytes` pieces, one piece per turn of the event loop and waiting for
 * `drain` when the socket is full, so a 10 MB state never blocks the server. A watcher so
 * slow that the deltas waiting for it outgrow the state gets the whole state instead (nothing
 * is lost: a state replaces everything before it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { ApiError } from '../http/api-error.js';
import type { Reply, Route } from '../http/router.js';
import type { Store } from '../store/store.js';
import type { WorkspaceSnapshot } from '../store/workspace-store.js';
import { composeChanges, diffStates, digestOf, encodeDelta, type StateChanges, type StateDigest } from './state-delta.js';
import { eventBytes, WholeState } from './state-event.js';

export interface StateWatchOptions {
  /** Most watchers this instance serves at once; past it, 503 with `Retry-After`. Default 1,000. */
  readonly maxWatchers?: number;
  /** Time between heartbeat comments; default 15,000 ms. */
  readonly heartbeatMs?: number;
  /** How many past event ids are remembered for `Last-Event-ID` resumes; default 1,000. */
  readonly historySize?: number;
  /** Bytes written per turn of the event loop; default 64 KiB. */
  readonly chunkBytes?: number;
  /** Seconds a refused watcher is told to wait (`Retry-After`); default 5. */
  readonly retryAfterSeconds?: number;
}

/** One installed state: its id, its digest (for the next state's delta), and its `state` and `reset` events (made from the compiled text as they are written). */
interface Encoded {
  readonly id: string;
  readonly revision: number | null;
  readonly digest: StateDigest;
  readonly text: string;
  readonly state: WholeState;
  reset?: WholeState;
}

/** What a watcher queues: encoded bytes (a delta, a comment) or a whole state. */
type Outgoing = Buffer | WholeState;

function outgoingBytes(event: Outgoing): number {
  return Buffer.isBuffer(event) ? event.length : event.bytes;
}

/** A state this server installed, with what changed since the one before it in the history. */
interface Remembered {
  readonly id: string;
  /** Null when no delta can be had from the previous state (or it was let go to save memory). */
  changes: StateChanges | null;
  /** Bytes of its delta event, counted against the history's budget. */
  bytes: number;
}

/** Bytes of the changes the history keeps beyond the state's own size: 4 states' worth, at least 4 MiB. */
const historyBudget = (stateBytes: number): number => Math.max(4 * stateBytes, 4 * 1024 * 1024);

/** The `fetch` event that announces a whole state: the client gets it with `GET /v1/state`. */
function fetchEvent(state: WholeState): Buffer {
  return eventBytes('fetch', state.id, `data: {"whole":"${state.kind}"}`);
}

const revisionOf = (id: string | null): number | null => (id !== null && /^\d+$/.test(id) ? Number(id) : null);

class Watcher {
  private readonly queue: Outgoing[] = [];
  private writing = false;
  private ended = false;
  private readonly heartbeat: NodeJS.Timeout;
  /** The id of the last event queued: what the client will have once it takes the queue. */
  lastId: string | null = null;
  /** Bytes queued and not started. */
  private pending = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly chunkBytes: number,
    heartbeatMs: number,
    private readonly onEnd: (w: Watcher) => void,
    /** Whether the client asked for whole states to be announced (`fetch` events) rather than sent. */
    private readonly announcesWhole: boolean,
  ) {
    this.heartbeat = setInterval(() => {
      // Only between events: a comment inside an event's bytes would corrupt it.
      if (!this.writing) this.comment(': heartbeat\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
    res.on('close', () => {
      this.finish();
    });
  }

  get pendingBytes(): number {
    return this.pending;
  }

  /** Queues an event; a whole state replaces what has not started yet. */
  send(event: Outgoing, id: string): void {
    if (this.ended) return;
    if (!Buffer.isBuffer(event)) {
      this.queue.length = 0;
      this.pending = 0;
    }
    this.lastId = id;
    this.push(this.announcesWhole && !Buffer.isBuffer(event) ? fetchEvent(event) : event);
  }

  comment(text: string): void {
    if (!this.ended) this.push(Buffer.from(text, 'utf8'));
  }

  end(): void {
    if (this.ended) return;
    this.res.end();
    this.finish();
  }

  private push(event: Outgoing): void {
    this.queue.push(event);
    this.pending += outgoingBytes(event);
    if (!this.writing) void this.pump();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    this.queue.length = 0;
    this.onEnd(this);
  }

  /** A call, not a field read, for the linter: the stream may end while `pump` awaits. */
  private isOpen(): boolean {
    return !this.ended;
  }

  private async pump(): Promise<void> {
    this.writing = true;
    try {
      while (this.isOpen() && this.queue.length > 0) {
        const event = this.queue.shift()!;
        this.pending -= outgoingBytes(event);
        const pieces = this.piecesOf(event);
        for (let piece = pieces.next(); !piece.done && this.isOpen(); ) {
          const more = this.res.write(piece.value);
          piece = pieces.next();
          if (!more) await this.drained();
          // Let other requests and watchers run between pieces of a large state.
          else if (piece.done !== true) await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private *piecesOf(event: Outgoing): Generator<Buffer> {
    if (!Buffer.isBuffer(event)) {
      yield* event.write();
      return;
    }
    for (let at = 0; at < event.length; at += this.chunkBytes) yield event.subarray(at, at + this.chunkBytes);
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}

/** What a client that last saw some id is sent first. */
type Resume =
  | { readonly kind: 'current' | 'ahead' | 'state' | 'reset' }
  | { readonly kind: 'delta'; readonly bytes: Buffer };

export class StateWatch {
  private readonly watchers = new Set<Watcher>();
  /** The states this server installed, oldest first, at most `historySize`. */
  private readonly history: Remembered[] = [];
  /** Bytes of the deltas the history holds. */
  private historyBytes = 0;
  private latest: Encoded | null = null;
  /** Deltas to the latest state from older ones, by base id, composed once for every client resuming from there. */
  private readonly resumes = new Map<string, Buffer | null>();
  private readonly unsubscribe: () => void;
  private readonly maxWatchers: number;
  private readonly heartbeatMs: number;
  private readonly historySize: number;
  private readonly chunkBytes: number;
  private readonly retryAfterSeconds: number;
  private closed = false;

  constructor(
    private readonly store: Store,
    options: StateWatchOptions = {},
  ) {
    this.maxWatchers = options.maxWatchers ?? 1_000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.historySize = Math.max(1, options.historySize ?? 1_000);
    this.chunkBytes = Math.max(1_024, options.chunkBytes ?? 64 * 1024);
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
    this.unsubscribe = store.subscribe((snapshot) => {
      this.publish(snapshot);
    });
  }

  /** Watchers connected now. */
  get size(): number {
    return this.watchers.size;
  }

  route(): Route {
    return {
      method: 'GET',
      path: '/v1/state:watch',
      scope: 'read',
      handle: (ctx) => this.open(ctx.req),
    };
  }

  /** Ends every stream (clients reconnect elsewhere) and stops following the store. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const w of [...this.watchers]) w.end();
  }

  private async open(req: IncomingMessage): Promise<Reply> {
    if (this.closed) throw new ApiError(503, 'UNAVAILABLE', 'this server is shutting down; watch another instance', { headers: { 'retry-after': '1' } });
    if (this.watchers.size >= this.maxWatchers) {
      throw new ApiError(
        503,
        'UNAVAILABLE',
        `this server already streams to ${this.maxWatchers} watchers (its limit); retry after ${this.retryAfterSeconds} s, watch another instance, or poll GET /v1/state`,
        { headers: { 'retry-after': String(this.retryAfterSeconds) } },
      );
    }
    const current = this.publish(await this.store.current());
    const header = req.headers['last-event-id'];
    const lastId = typeof header === 'string' && header.length > 0 ? header : null;
    const announcesWhole = req.headers['allot-whole-state'] === 'fetch';
    return {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx: pass events through as they are written.
        'x-accel-buffering': 'no',
      },
      stream: (res) => {
        this.attach(res, current, lastId, announcesWhole);
      },
    };
  }

  private attach(res: ServerResponse, current: Encoded, lastId: string | null, announcesWhole: boolean): void {
    if (this.closed) {
      res.end();
      return;
    }
    const watcher = new Watcher(res, this.chunkBytes, this.heartbeatMs, (w) => this.watchers.delete(w), announcesWhole);
    this.watchers.add(watcher);
    res.flushHeaders();
    // The latest may have moved on while the reply was being sent.
    const latest = this.latest ?? current;
    const resume = this.resumeOf(lastId, latest);
    switch (resume.kind) {
      case 'current':
        watcher.lastId = latest.id;
        watcher.comment(`: up to date at ${latest.id}\n\n`);
        break;
      case 'ahead':
        // Deltas from here on would not start from the client's state: it gets each newer state whole.
        watcher.lastId = lastId;
        watcher.comment(`: this server is at ${latest.id}, behind ${lastId ?? ''}; events follow as it catches up\n\n`);
        break;
      case 'delta':
        watcher.send(resume.bytes, latest.id);
        break;
      case 'state':
        watcher.send(latest.state, latest.id);
        break;
      case 'reset':
        watcher.send((latest.reset ??= new WholeState('reset', latest.id, latest.text, this.chunkBytes)), latest.id);
        break;
    }
  }

  /** What a client that last saw `lastId` needs: nothing, a delta, the state, or the state as a reset. */
  private resumeOf(lastId: string | null, latest: Encoded): Resume {
    if (lastId === null) return { kind: 'state' };
    if (lastId === latest.id) return { kind: 'current' };
    const seen = revisionOf(lastId);
    if (latest.revision !== null && seen !== null && seen > latest.revision) return { kind: 'ahead' };
    const delta = this.deltaFrom(lastId, latest);
    if (delta !== null) return { kind: 'delta', bytes: delta };
    // Revisions are ordered: any id from the oldest remembered on is known here, even one this
    // instance skipped (several writes installed at once), and the state is all it needs.
    if (latest.revision !== null && seen !== null) return { kind: seen >= Number(this.history[0]?.id ?? latest.id) ? 'state' : 'reset' };
    return { kind: this.history.some((h) => h.id === lastId) ? 'state' : 'reset' };
  }

  /** The `delta` event from `base` to `latest`, when the history holds every change since and it is smaller than the state. */
  private deltaFrom(base: string, latest: Encoded): Buffer | null {
    const cached = this.resumes.get(base);
    if (cached !== undefined) return cached;
    let at = -1;
    for (let i = this.history.length - 1; i >= 0; i--) {
      if (this.history[i]!.id === base) {
        at = i;
        break;
      }
    }
    let changes: StateChanges | null = at < 0 ? null : new Map();
    for (let i = at + 1; i < this.history.length && changes !== null; i++) {
      const next = this.history[i]!.changes;
      changes = next === null ? null : composeChanges(changes, next);
    }
    let bytes: Buffer | null = null;
    if (changes !== null) {
      bytes = eventBytes('delta', latest.id, `data: ${encodeDelta(base, changes)}`);
      if (bytes.length >= latest.state.bytes) bytes = null;
    }
    if (at >= 0) this.resumes.set(base, bytes);
    return bytes;
  }

  /** Encodes a new snapshot and its delta, remembers it and sends it to every watcher; answers the latest. */
  private publish(snapshot: WorkspaceSnapshot): Encoded {
    const state = snapshot.state();
    const id = snapshot.revision === null ? state.etag.slice(1, -1) : String(snapshot.revision);
    const previous = this.latest;
    if (previous !== null && (previous.id === id || (previous.revision !== null && snapshot.revision !== null && snapshot.revision < previous.revision))) return previous;
    const json = state.json;
    const encoded: Encoded = { id, revision: snapshot.revision, digest: digestOf(json), text: state.text, state: new WholeState('state', id, state.text, this.chunkBytes) };
    this.latest = encoded;
    this.resumes.clear();
    const changes = previous === null ? null : diffStates(previous.digest, json, encoded.digest);
    let delta = previous === null || changes === null ? null : eventBytes('delta', id, `data: ${encodeDelta(previous.id, changes)}`);
    if (delta !== null && delta.length >= encoded.state.bytes) delta = null;
    this.remember({ id, changes: delta === null ? null : changes, bytes: delta?.length ?? 0 }, encoded.state.bytes);
    for (const w of this.watchers) {
      const seen = revisionOf(w.lastId);
      // A watcher ahead of this server (it resumed from a newer instance) already has this state.
      if (encoded.revision !== null && seen !== null && seen >= encoded.revision) continue;
      if (delta !== null && previous !== null && w.lastId === previous.id && w.pendingBytes + delta.length < encoded.state.bytes) w.send(delta, id);
      else w.send(encoded.state, id);
    }
    return encoded;
  }

  /** Adds a state to the history, forgetting the oldest past `historySize` and the oldest changes past the byte budget. */
  private remember(entry: Remembered, stateBytes: number): void {
    this.history.push(entry);
    this.historyBytes += entry.bytes;
    while (this.history.length > this.historySize) this.historyBytes -= this.history.shift()!.bytes;
    const budget = historyBudget(stateBytes);
    for (let i = 0; i < this.history.length && this.historyBytes > budget; i++) {
      const h = this.history[i]!;
      this.historyBytes -= h.bytes;
      h.changes = null;
      h.bytes = 0;
    }
  }
}
