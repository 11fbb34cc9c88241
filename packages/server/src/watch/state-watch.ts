/**
 * `GET /v1/state:watch`: the compiled resolver state as Server-Sent Events, so providers
 * learn of a change as soon as this server does. Each event carries the whole state (its
 * `data` lines are the bytes `GET /v1/state` serves) and its id:
 * - the store's revision where it has one (PostgreSQL: one counter shared by every
 *   instance, so a client may resume on any instance);
 * - else the compiled state's entity tag without quotes (the file store has no revisions).
 *
 * On connect the client gets the current state (`event: state`), unless its
 * `Last-Event-ID` is already current (a `: up to date` comment then). When its id is
 * older than this server's bounded history the event is `event: reset`, which tells the
 * client that the revisions in between are not individually known here. Then one event per
 * new state, and a `: heartbeat` comment every `heartbeatMs` so proxies keep the stream open.
 *
 * Every event is encoded once and shared by all watchers; each watcher writes it in
 * `chunkBytes` pieces, one piece per turn of the event loop and waiting for `drain` when
 * the socket is full, so a 10 MB state never blocks the server. A watcher too slow to take
 * an event before the next is ready skips to the newest one (states are whole, nothing is
 * lost by skipping).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { ApiError } from '../http/api-error.js';
import type { Reply, Route } from '../http/router.js';
import type { Store } from '../store/store.js';
import type { WorkspaceSnapshot } from '../store/workspace-store.js';

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

/** One encoded state: its id, and its `state` and `reset` events as sent on the wire. */
interface Encoded {
  readonly id: string;
  readonly revision: number | null;
  readonly data: string;
  state?: Buffer;
  reset?: Buffer;
}

function eventBytes(kind: 'state' | 'reset', encoded: Encoded): Buffer {
  return Buffer.from(`event: ${kind}\nid: ${encoded.id}\n${encoded.data}\n\n`, 'utf8');
}

function bytesOf(encoded: Encoded, kind: 'state' | 'reset'): Buffer {
  if (kind === 'state') return (encoded.state ??= eventBytes('state', encoded));
  return (encoded.reset ??= eventBytes('reset', encoded));
}

class Watcher {
  private readonly queue: Buffer[] = [];
  private writing = false;
  private ended = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly chunkBytes: number,
    heartbeatMs: number,
    private readonly onEnd: (w: Watcher) => void,
  ) {
    this.heartbeat = setInterval(() => {
      // Only between events: a comment inside an event's bytes would corrupt it.
      if (!this.writing) this.send(Buffer.from(': heartbeat\n\n'));
    }, heartbeatMs);
    this.heartbeat.unref();
    res.on('close', () => {
      this.finish();
    });
  }

  /** Queues `bytes`; a `state` event replaces what has not started yet (states are whole). */
  send(bytes: Buffer, state = false): void {
    if (this.ended) return;
    if (state) this.queue.length = 0;
    this.queue.push(bytes);
    if (!this.writing) void this.pump();
  }

  end(): void {
    if (this.ended) return;
    this.res.end();
    this.finish();
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
        const bytes = this.queue.shift()!;
        for (let at = 0; at < bytes.length && this.isOpen(); at += this.chunkBytes) {
          const more = this.res.write(bytes.subarray(at, at + this.chunkBytes));
          if (!more) await this.drained();
          // Let other requests and watchers run between pieces of a large state.
          else if (at + this.chunkBytes < bytes.length) await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.writing = false;
    }
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

export class StateWatch {
  private readonly watchers = new Set<Watcher>();
  /** Ids of the states this server has served, oldest first, at most `historySize`. */
  private readonly history: string[] = [];
  private latest: Encoded | null = null;
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
    return {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx: pass events through as they are written.
        'x-accel-buffering': 'no',
      },
      stream: (res) => {
        this.attach(res, current, lastId);
      },
    };
  }

  private attach(res: ServerResponse, current: Encoded, lastId: string | null): void {
    if (this.closed) {
      res.end();
      return;
    }
    const watcher = new Watcher(res, this.chunkBytes, this.heartbeatMs, (w) => this.watchers.delete(w));
    this.watchers.add(watcher);
    res.flushHeaders();
    // The latest may have moved on while the reply was being sent.
    const latest = this.latest ?? current;
    const resume = this.resumeOf(lastId, latest);
    if (resume === 'current') watcher.send(Buffer.from(`: up to date at ${latest.id}\n\n`));
    else if (resume === 'ahead') watcher.send(Buffer.from(`: this server is at ${latest.id}, behind ${lastId ?? ''}; events follow as it catches up\n\n`));
    else watcher.send(bytesOf(latest, resume), true);
  }

  /** What a client that last saw `lastId` needs: nothing, the state, or the state as a reset. */
  private resumeOf(lastId: string | null, latest: Encoded): 'current' | 'ahead' | 'state' | 'reset' {
    if (lastId === null) return 'state';
    if (lastId === latest.id) return 'current';
    if (latest.revision !== null && /^\d+$/.test(lastId)) {
      // Revisions are ordered: any id from the oldest remembered on is known here.
      const seen = Number(lastId);
      if (seen > latest.revision) return 'ahead';
      return seen >= Number(this.history[0] ?? latest.id) ? 'state' : 'reset';
    }
    return this.history.includes(lastId) ? 'state' : 'reset';
  }

  /** Encodes a new snapshot, remembers its id and sends it to every watcher; answers the latest. */
  private publish(snapshot: WorkspaceSnapshot): Encoded {
    const state = snapshot.state();
    const id = snapshot.revision === null ? state.etag.slice(1, -1) : String(snapshot.revision);
    const latest = this.latest;
    if (latest !== null && (latest.id === id || (latest.revision !== null && snapshot.revision !== null && snapshot.revision < latest.revision))) return latest;
    const text = state.text.endsWith('\n') ? state.text.slice(0, -1) : state.text;
    const encoded: Encoded = { id, revision: snapshot.revision, data: `data: ${text.replaceAll('\n', '\ndata: ')}` };
    this.latest = encoded;
    this.history.push(id);
    if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize);
    // Encoded here, with the state's compilation, rather than when a watcher connects: for a
    // 10 MB state that is several milliseconds a streaming turn need not pay.
    const bytes = bytesOf(encoded, 'state');
    for (const w of this.watchers) w.send(bytes, true);
    return encoded;
  }
}
