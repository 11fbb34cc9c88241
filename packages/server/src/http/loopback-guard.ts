/**
 * What keeps a server without tokens (loopback only) from being driven by web pages the
 * person at this machine happens to open. Such a page can send requests to
 * `http://127.0.0.1:4747` but, short of a CORS preflight (which this server never grants),
 * only "simple" ones; and a page on a domain the attacker re-points at 127.0.0.1 (DNS
 * rebinding) can even read the answers, as its own origin. So, with no tokens:
 *
 * - the `Host` header must name this machine (`localhost`, `127.x.x.x`, `[::1]`) and this
 *   server's port: a rebinding page sends its own domain there;
 * - a change (any method but GET and HEAD) must not come from another origin: an `Origin`
 *   header, when present, must be this server's (a loopback name and its port);
 * - a change must say `Content-Type: application/json`, even with an empty body: a browser
 *   cannot send that type cross-origin without the preflight.
 *
 * With tokens configured none of this applies: a browser cannot attach the token to a
 * cross-origin request without a preflight either, and a server behind a proxy sees other
 * Host names.
 */
import type { IncomingMessage } from 'node:http';

import { ApiError } from './api-error.js';

const LOOPBACK_NAME = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** Whether `authority` (`host[:port]`, as in a Host header or an origin) is this machine at `port`. */
export function isLoopbackAuthority(authority: string, port: number): boolean {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(authority);
  if (m === null || !LOOPBACK_NAME.test(m[1]!)) return false;
  return (m[2] === undefined ? 80 : Number(m[2])) === port;
}

/** Throws the 403 (or 415) a no-token server answers `req` with, if any. */
export function checkLoopbackRequest(req: IncomingMessage, port: number): void {
  const host = req.headers.host;
  if (host === undefined || !isLoopbackAuthority(host.trim(), port)) {
    throw new ApiError(
      403,
      'PERMISSION_DENIED',
      `this server has no tokens, so it only answers requests addressed to this machine (Host localhost:${port}, 127.0.0.1:${port} or [::1]:${port}), ` +
        `got ${host === undefined ? 'no Host header' : `Host ${JSON.stringify(cut(host))}`}; to serve other names, configure tokens (ALLOT_TOKENS or --tokens-file)`,
      { field: 'host' },
    );
  }
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return;
  const origin = req.headers.origin;
  if (origin !== undefined && !sameServer(origin, port)) {
    throw new ApiError(
      403,
      'PERMISSION_DENIED',
      `cross-origin changes are refused (Origin ${JSON.stringify(cut(origin))} is not this server): a web page cannot change the workspace; use allot, curl or a script`,
      { field: 'origin' },
    );
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `send changes with "Content-Type: application/json", even with no body (got ${type === '' ? 'no content type' : JSON.stringify(cut(type))})`,
      { field: 'content-type' },
    );
  }
}

function sameServer(origin: string, port: number): boolean {
  const m = /^http:\/\/([^/]+)$/i.exec(origin.trim());
  return m !== null && isLoopbackAuthority(m[1]!, port);
}

function cut(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
