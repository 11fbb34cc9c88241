/**
 * The HTTP server: node:http, the router, bearer-token auth, body limits, timeouts, JSON
 * errors, an access log without secrets, and a graceful close that lets in-flight requests
 * finish (and their writes reach the file) before the process exits.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { AdminError, workspaceNeedsRepair, type LockOptions } from '@allot/admin';
import type { Logger } from 'pino';

import { OPEN_PRINCIPAL, TokenAuthority, type TokenEntry } from './auth/tokens.js';
import { checkTargetId } from './auth/write-limits.js';
import { ApiError, fromAdminError } from './http/api-error.js';
import { parseJsonBody, readBody } from './http/body.js';
import { PreviewBudget, type PreviewBudgetOptions } from './http/preview-budget.js';
import { checkLoopbackRequest } from './http/loopback-guard.js';
import { Query, Router, type Reply, type Route } from './http/router.js';
import { asksValidateOnly } from './resources/validate-only.js';
import { bucketMapRoutes } from './map/bucket-map.js';
import { flagRoutes } from './resources/flags.js';
import { groupRoutes } from './resources/groups.js';
import { resolveRoutes } from './resources/resolve.js';
import { segmentRoutes } from './resources/segments.js';
import { stateRoutes } from './resources/state.js';
import { auditRoutes, type AuditSource } from './audit/audit-routes.js';
import { FileAuditLog } from './audit/file-audit-log.js';
import type { Store } from './store/store.js';
import { WorkspaceStore } from './store/workspace-store.js';
import { StateWatch, type StateWatchOptions } from './watch/state-watch.js';
import { webRoutes } from './web/page.js';
import { ServerMetrics } from './observability/metrics.js';
import { RequestLog } from './observability/request-log.js';

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
  /** How much server time each caller's previews (`?validateOnly=true`) may take; see the README. */
  readonly previewBudget?: PreviewBudgetOptions;
  /** `GET /v1/state:watch`: watcher limit, heartbeat, resume history (see `StateWatch`). */
  readonly watch?: StateWatchOptions;
  /** Receives one line per request (`POST /v1/segments 200 12ms`) and notices; default: none. Unused when `logger` is given. */
  readonly log?: (line: string) => void;
  /**
   * A pino logger: one structured JSON record per request (method, route, path, status,
   * latencyMs, actor, revision) and the notices, instead of `log`'s text lines.
   */
  readonly logger?: Logger;
  /**
   * Where `GET /v1/auditLog` reads the audit log; by default, with `workspace`, the file
   * beside it, and with a `store` that keeps its own (`Store.auditLog`: PostgreSQL's
   * table), that. Without any, the endpoint answers 404.
   */
  readonly auditLog?: AuditSource;
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

/** Whom a preview is charged to: the bearer token, or the peer's address when there is none. */
function previewCaller(req: IncomingMessage): string {
  const header = req.headers.authorization;
  return header === undefined ? `address ${req.socket.remoteAddress ?? '?'}` : `token ${header}`;
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

export const DEFAULT_PORT = 4747;

/** What `serve` learns about a request while dispatching it, for the log and the metrics. */
interface Seen {
  route: Route | null;
  actor: string | null;
  write: boolean;
}
const MB = 1024 * 1024;

export class AllotServer {
  readonly store: Store;
  /** The state streams of `GET /v1/state:watch`. */
  readonly watch: StateWatch;
  private readonly server: Server;
  private readonly router: Router;
  private readonly authority: TokenAuthority;
  private readonly requestLog: RequestLog;
  /** The numbers `GET /metrics` serves; a store with change notifications reports its lag here. */
  readonly metrics: ServerMetrics;
  private readonly maxBodyBytes: number;
  private readonly previews: PreviewBudget;
  private inFlight = 0;
  private closing: Promise<void> | null = null;
  private drained: (() => void) | null = null;

  private constructor(private readonly options: ServerOptions) {
    let audit = options.auditLog;
    if (options.store !== undefined) {
      this.store = options.store;
      audit ??= options.store.auditLog;
    } else if (options.workspace !== undefined) {
      const log = new FileAuditLog(options.workspace);
      audit ??= log;
      this.store = new WorkspaceStore(options.workspace, { ...(options.lock === undefined ? {} : { lock: options.lock }), audit: log });
    }
    else throw new TypeError('AllotServer needs a workspace file (options.workspace) or a store (options.store)');
    this.authority = new TokenAuthority(options.tokens ?? []);
    this.requestLog = new RequestLog(options.logger, options.log ?? (() => undefined));
    this.metrics = new ServerMetrics(() => this.store.status().revision);
    this.store.onNotificationLag?.((seconds) => {
      this.metrics.observeNotificationLag(seconds);
    });
    this.maxBodyBytes = options.maxBodyBytes ?? MB;
    this.previews = new PreviewBudget(options.previewBudget);
    this.watch = new StateWatch(this.store, options.watch);
    this.router = new Router().add(
      { method: 'GET', path: '/healthz', scope: 'public', handle: () => this.health() },
      {
        method: 'GET',
        path: '/metrics',
        scope: 'read',
        handle: async () => {
          const { text, contentType } = await this.metrics.render();
          return { body: text, headers: { 'content-type': contentType } };
        },
      },
      ...segmentRoutes(this.store),
      ...flagRoutes(this.store),
      ...groupRoutes(this.store),
      ...resolveRoutes(this.store),
      ...stateRoutes(this.store),
      this.watch.route(),
      ...bucketMapRoutes(this.store),
      ...(audit === undefined ? [] : auditRoutes(audit)),
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

  /** Every route the server answers (tests enumerate the write routes from here). */
  routes(): readonly Route[] {
    return this.router.list();
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
      if ((await Promise.race([drained, grace])) === 'timeout') this.requestLog.notice(`shutdown: cutting ${this.inFlight} request(s) still running after the grace period`);
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
    const seen: Seen = { route: null, actor: null, write: false };
    let reply: Reply;
    try {
      reply = await this.dispatch(req, path, q < 0 ? '' : url.slice(q + 1), seen);
    } catch (error) {
      reply = this.errorReply(error);
    }
    try {
      this.send(req, res, reply);
    } finally {
      const status = reply.status ?? 200;
      const latencyMs = performance.now() - started;
      const method = req.method ?? '?';
      this.requestLog.request({ method, route: seen.route?.path ?? null, path, status, latencyMs, actor: seen.actor, revision: this.store.status().revision });
      this.metrics.observe({ method, route: seen.route?.path ?? '(unmatched)', status, seconds: latencyMs / 1000, write: seen.write });
      if (--this.inFlight === 0 && this.drained !== null) this.drained();
    }
  }

  private async dispatch(req: IncomingMessage, path: string, search: string, seen: Seen): Promise<Reply> {
    if (this.authority.open) checkLoopbackRequest(req, this.port);
    const match = this.router.match(req.method ?? 'GET', path);
    const { route } = match;
    seen.route = route;
    // A preview changes nothing, so a read token may ask for one (see the README).
    const previewScope = route.validateOnly === true && asksValidateOnly(search);
    const principal = route.scope === 'public' ? OPEN_PRINCIPAL : this.authority.authorize(req.headers.authorization, previewScope ? 'read' : route.scope);
    const query = new Query(search, route.validateOnly === true ? [...(route.query ?? []), 'validateOnly', 'bucketMapCells'] : (route.query ?? []));
    const validateOnly = route.validateOnly === true && (query.boolean('validateOnly') ?? false);
    seen.actor = route.scope === 'public' ? null : principal.name;
    seen.write = route.scope === 'write' && !validateOnly;
    // A team token learns it is out of scope before its body is read; the store checks
    // again on what the write actually changes.
    if (route.scope === 'write' && !validateOnly) {
      for (const [collection, name, id] of [
        ['segments', 'segment', match.params.segment ?? query.string('segmentId')],
        ['flags', 'flag', match.params.flag ?? query.string('flagId')],
        ['groups', 'group', match.params.group ?? query.string('groupId')],
      ] as const) {
        if (id !== undefined && (route.path.includes(`{${name}}`) || route.query?.includes(`${name}Id`) === true)) checkTargetId(principal, collection, id);
      }
    }
    let body: Promise<unknown> | null = null;
    const readJson = async (): Promise<unknown> => parseJsonBody(req, await readBody(req, this.maxBodyBytes));
    const handle = async (): Promise<Reply> =>
      route.handle({
        req,
        params: match.params,
        query,
        validateOnly,
        body: () => (body ??= readJson()),
        principal,
        operation: `${route.method} ${route.path}`,
      });
    if (!validateOnly) return handle();
    const caller = previewCaller(req);
    this.previews.admit(caller);
    const started = performance.now();
    try {
      return await handle();
    } finally {
      this.previews.charge(caller, performance.now() - started);
    }
  }

  /**
   * 200 `{"status": "ok"}`; 200 `{"status": "degraded", error}` while the workspace file is
   * invalid and reads are served from its last good version (restarting would not help: it
   * would refuse to start); 503 with the error when the workspace cannot be read at all. On a
   * store with revisions (PostgreSQL) also the revision served, its age and whether the
   * database answers; with the database unreachable the status is "degraded" (still 200:
   * reads are served from the last good state, writes answer 503).
   */
  private async health(): Promise<Reply> {
    try {
      await this.store.current();
      if (this.store instanceof WorkspaceStore && this.store.invalid !== null) {
        return { body: { status: 'degraded', ...(this.errorReply(workspaceNeedsRepair(this.store.invalid, this.store.file.path)).body as object) } };
      }
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
    this.requestLog.notice(`- - ${status} (${error.code ?? 'client error'})`);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    );
  }

  private errorReply(thrown: unknown): Reply {
    let error = thrown;
    if (error instanceof AdminError) error = fromAdminError(error);
    if (error instanceof ApiError) return { status: error.status, body: error.body(), headers: error.headers };
    this.requestLog.notice(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 'error');
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
