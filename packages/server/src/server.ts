/**
 * The HTTP server: node:http, the router, bearer-token auth, body limits, timeouts, JSON
 * errors, an access log without secrets, and a graceful close that lets in-flight requests
 * finish (and their writes reach the file) before the process exits.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { AdminError, type LockOptions } from '@allot/admin';

import { TokenAuthority, type TokenEntry } from './auth/tokens.js';
import { ApiError, fromAdminError } from './http/api-error.js';
import { parseJsonBody, readBody } from './http/body.js';
import { checkLoopbackRequest } from './http/loopback-guard.js';
import { Query, Router, type Reply } from './http/router.js';
import { asksValidateOnly } from './resources/validate-only.js';
import { bucketMapRoutes } from './map/bucket-map.js';
import { flagRoutes } from './resources/flags.js';
import { groupRoutes } from './resources/groups.js';
import { resolveRoutes } from './resources/resolve.js';
import { segmentRoutes } from './resources/segments.js';
import { stateRoutes } from './resources/state.js';
import type { Store } from './store/store.js';
import { WorkspaceStore } from './store/workspace-store.js';
import { StateWatch, type StateWatchOptions } from './watch/state-watch.js';
import { webRoutes } from './web/page.js';

export interface ServerOptions {
  /**
   * The workspace file (YAML, or JSON when it ends in `.json`); created when missing. Give
   * either this or `store`.
   */
  readonly workspace?: string;
  /**
   * Another store than the workspace file (e.g. `PgStore` from `@allot/pg-store`). The server
   * prepares it at start and closes it when it closes.
   */
  readonly store?: Store;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 4747; 0 picks a free port (see `AllotServer.port`). */
  readonly port?: number;
  /**
   * Bearer tokens. None (the default) means open access, which is only allowed on a
   * loopback host; `start` refuses any other host without tokens.
   */
  readonly tokens?: readonly TokenEntry[];
  /** Largest request body; default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Longest a client may take to send a whole request; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Longest a client may take to send the headers; default 10 s. */
  readonly headersTimeoutMs?: number;
  /** How long `close` waits for in-flight requests before cutting connections; default 10 s. */
  readonly shutdownGraceMs?: number;
  /** The workspace file lock. */
  readonly lock?: LockOptions;
  /** The coordination map's built files (index.html, app.js, app.css); default this package's dist/web. */
  readonly webRoot?: string;
  /** `GET /v1/state:watch`: watcher limit, heartbeat, resume history (see `StateWatch`). */
  readonly watch?: StateWatchOptions;
  /** Receives one line per request (`POST /v1/segments 200 12ms`) and notices; default: none. */
  readonly log?: (line: string) => void;
}

/** A configuration the server refuses to start with. */
export class ServerConfigError extends Error {
  readonly code: 'NO_TOKENS_OFF_LOOPBACK';

  constructor(code: 'NO_TOKENS_OFF_LOOPBACK', message: string) {
    super(message);
    this.name = 'ServerConfigError';
    this.code = code;
  }
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

export const DEFAULT_PORT = 4747;
const MB = 1024 * 1024;

export class AllotServer {
  readonly store: Store;
  /** The state streams of `GET /v1/state:watch`. */
  readonly watch: StateWatch;
  private readonly server: Server;
  private readonly router: Router;
  private readonly authority: TokenAuthority;
  private readonly log: (line: string) => void;
  private readonly maxBodyBytes: number;
  private inFlight = 0;
  private closing: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  private constructor(private readonly options: ServerOptions) {
    if (options.store !== undefined) this.store = options.store;
    else if (options.workspace !== undefined) this.store = new WorkspaceStore(options.workspace, options.lock === undefined ? {} : { lock: options.lock });
    else throw new TypeError('AllotServer needs a workspace file (options.workspace) or a store (options.store)');
    this.authority = new TokenAuthority(options.tokens ?? []);
    this.log = options.log ?? (() => undefined);
    this.maxBodyBytes = options.maxBodyBytes ?? MB;
    this.watch = new StateWatch(this.store, options.watch);
    this.router = new Router().add(
      { method: 'GET', path: '/healthz', scope: 'public', handle: () => this.health() },
      ...segmentRoutes(this.store),
      ...flagRoutes(this.store),
      ...groupRoutes(this.store),
      ...resolveRoutes(this.store),
      ...stateRoutes(this.store),
      this.watch.route(),
      ...bucketMapRoutes(this.store),
      ...webRoutes(options.webRoot),
    );
    this.server = createServer({ requestTimeout: options.requestTimeoutMs ?? 30_000, headersTimeout: options.headersTimeoutMs ?? 10_000 }, (req, res) => {
      void this.serve(req, res);
    });
    this.server.keepAliveTimeout = 5_000;
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      this.refuseMalformed(error, socket);
    });
  }

  /** Starts a server; resolves once it accepts connections. */
  static async start(options: ServerOptions): Promise<AllotServer> {
    const host = options.host ?? '127.0.0.1';
    if ((options.tokens ?? []).length === 0 && !isLoopback(host)) {
      throw new ServerConfigError(
        'NO_TOKENS_OFF_LOOPBACK',
        `refusing to listen on ${host} without tokens: anyone who can reach it could change the workspace. ` +
          'Set ALLOT_TOKENS (e.g. "s3cret-admin:write,s3cret-ci:read") or --tokens-file, or listen on 127.0.0.1',
      );
    }
    const server = new AllotServer(options);
    try {
      await server.store.ensureExists();
      await new Promise<void>((resolve, reject) => {
        server.server.once('error', reject);
        server.server.listen(options.port ?? DEFAULT_PORT, host, () => {
          server.server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // Whatever the store opened (a database pool, timers) must not keep the process alive.
      await server.store.close().catch(() => undefined);
      throw error;
    }
    return server;
  }

  /** Whether requests need no token (no tokens configured; loopback only). */
  get open(): boolean {
    return this.authority.open;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** `http://HOST:PORT` */
  get url(): string {
    const host = this.host.includes(':') && !this.host.startsWith('[') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}`;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (their writes included),
   * closes idle keep-alive connections, and after `shutdownGraceMs` cuts what is left.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
      // Streams never finish on their own: end them so their clients reconnect elsewhere.
      this.watch.close();
      this.server.closeIdleConnections();
      const grace = new Promise<'timeout'>((resolve) => setTimeout(() => { resolve('timeout'); }, this.options.shutdownGraceMs ?? 10_000).unref());
      const drained = this.inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.drained = resolve));
      if ((await Promise.race([drained, grace])) === 'timeout') this.log(`shutdown: cutting ${this.inFlight} request(s) still running after the grace period`);
      this.server.closeAllConnections();
      await this.store.idle();
      await closed;
      await this.store.close();
    })();
    return this.closing;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    this.inFlight++;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let reply: Reply;
    try {
      reply = await this.dispatch(req, path, q < 0 ? '' : url.slice(q + 1));
    } catch (error) {
      reply = this.errorReply(error);
    }
    try {
      this.send(req, res, reply);
    } finally {
      this.log(`${req.method ?? '?'} ${path.length > 200 ? `${path.slice(0, 200)}…` : path} ${reply.status ?? 200} ${Math.round(performance.now() - started)}ms`);
      if (--this.inFlight === 0 && this.drained !== null) this.drained();
    }
  }

  private async dispatch(req: IncomingMessage, path: string, search: string): Promise<Reply> {
    if (this.authority.open) checkLoopbackRequest(req, this.port);
    const match = this.router.match(req.method ?? 'GET', path);
    const { route } = match;
    // A preview changes nothing, so a read token may ask for one (see the README).
    const previewScope = route.validateOnly === true && asksValidateOnly(search);
    if (route.scope !== 'public') this.authority.authorize(req.headers.authorization, previewScope ? 'read' : route.scope);
    const query = new Query(search, route.validateOnly === true ? [...(route.query ?? []), 'validateOnly'] : (route.query ?? []));
    const validateOnly = route.validateOnly === true && (query.boolean('validateOnly') ?? false);
    let body: Promise<unknown> | null = null;
    const readJson = async (): Promise<unknown> => parseJsonBody(req, await readBody(req, this.maxBodyBytes));
    return route.handle({
      req,
      params: match.params,
      query,
      validateOnly,
      body: () => (body ??= readJson()),
    });
  }

  /**
   * 200 `{"status": "ok"}`, or 503 with the error when the workspace cannot be read or is
   * invalid. On a store with revisions (PostgreSQL) also the revision served, its age and
   * whether the database answers; with the database unreachable the status is "degraded"
   * (still 200: reads are served from the last good state, writes answer 503).
   */
  private async health(): Promise<Reply> {
    try {
      await this.store.current();
    } catch (error) {
      const reply = this.errorReply(error);
      return { status: 503, body: { status: 'unhealthy', ...(reply.body as object) } };
    }
    const s = this.store.status();
    if (s.databaseReachable === null) return { body: { status: 'ok' } };
    return {
      body: {
        status: s.databaseReachable ? 'ok' : 'degraded',
        store: s.store,
        database: s.databaseReachable ? 'reachable' : 'unreachable',
        ...(s.databaseError === undefined ? {} : { databaseError: s.databaseError }),
        revision: s.revision,
        revisionAgeSeconds: s.revisionAgeMs === null ? null : Math.round(s.revisionAgeMs / 100) / 10,
      },
    };
  }

  /**
   * Requests node:http refuses before they reach `serve` (malformed, headers too large,
   * too slow): the same JSON error shape as every other answer, then the connection closes.
   */
  private refuseMalformed(error: NodeJS.ErrnoException, socket: Socket): void {
    // As node's own handler: answer only on a socket that has not started a response yet.
    if (error.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? ([431, 'HEADERS_TOO_LARGE', 'the request headers are larger than the server accepts (16 KiB in all)'] as const)
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? ([408, 'REQUEST_TIMEOUT', 'the request took too long to arrive'] as const)
          : ([400, 'INVALID_ARGUMENT', `not a valid HTTP/1.1 request (${error.code ?? 'parse error'})`] as const);
    const text = JSON.stringify(new ApiError(status, code, message, { field: 'request' }).body());
    this.log(`- - ${status} (${error.code ?? 'client error'})`);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    );
  }

  private errorReply(thrown: unknown): Reply {
    let error = thrown;
    if (error instanceof AdminError) error = fromAdminError(error);
    if (error instanceof ApiError) return { status: error.status, body: error.body(), headers: error.headers };
    this.log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    const e = new ApiError(500, 'INTERNAL', 'internal error; the server log has the details');
    return { status: 500, body: e.body() };
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    const status = reply.status ?? 200;
    const headers: Record<string, string> = { ...reply.headers };
    if (this.closing !== null) headers.connection = 'close';
    const store = this.store.status();
    if (store.revision !== null) {
      // The revision served and how long ago it was last confirmed as the latest (seconds).
      headers['allot-revision'] = String(store.revision);
      headers['allot-revision-age'] = String(Math.floor((store.revisionAgeMs ?? 0) / 1000));
    }
    if (reply.stream !== undefined && req.method !== 'HEAD') {
      res.writeHead(status, headers);
      reply.stream(res);
      return;
    }
    if (reply.body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : text);
  }
}
