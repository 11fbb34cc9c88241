/**
 * A small router for Google-style resource paths: `/v1/segments/{segment}:allocate`.
 * Paths are matched on the raw request path split at `/` (never normalized, so `..` or an
 * encoded `%2F` stays inside one parameter, where the id check refuses it); parameters are
 * percent-decoded. A custom method (`:allocate`) is the text after the last `:` of the last
 * path segment.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Principal, Scope } from '../auth/tokens.js';
import { ApiError, invalid } from './api-error.js';

export type Method = 'GET' | 'POST' | 'PATCH';

/** What a handler returns: status 200 unless said otherwise. */
export interface Reply {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** A stream instead of a body: called with the response once the status and headers are sent. */
  readonly stream?: (res: ServerResponse) => void;
}

export interface RequestContext {
  readonly req: IncomingMessage;
  /** Path parameters, percent-decoded (not yet checked as ids). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Query;
  /** `?validateOnly=true` on a route that allows it: preview the change, write nothing (AIP-163). */
  readonly validateOnly: boolean;
  /** The JSON body (`{}` when empty); read on first call. */
  body(): Promise<unknown>;
  /** Whose token the request carries (`local` when no tokens are configured). */
  readonly principal: Principal;
  /** The route as `METHOD /path/{param}`, for the audit log. */
  readonly operation: string;
}

export interface Route {
  readonly method: Method;
  /** `/v1/segments/{segment}:allocate` */
  readonly path: string;
  /** The token scope needed; `public` needs none (health checks). */
  readonly scope: Scope | 'public';
  /** Query parameters the route accepts; any other is a 400. */
  readonly query?: readonly string[];
  /**
   * A write that also takes `?validateOnly=true` (AIP-163): then it is applied to a copy of
   * the workspace, answers with an `impact` preview, writes nothing, and needs only `read`.
   */
  readonly validateOnly?: boolean;
  handle(ctx: RequestContext): Promise<Reply> | Reply;
}

interface CompiledRoute {
  readonly route: Route;
  readonly parts: readonly Part[];
  readonly verb: string | null;
}

type Part = { readonly literal: string } | { readonly param: string };

export interface Match {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
}

export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(...routes: readonly Route[]): this {
    for (const route of routes) this.routes.push(compile(route));
    return this;
  }

  /** Every route, in the order added (tests enumerate the write routes from here). */
  list(): readonly Route[] {
    return this.routes.map((r) => r.route);
  }

  /** The route for `method` and the raw `path`; a 404 or 405 ApiError when there is none. */
  match(method: string, path: string): Match {
    const segments = path.split('/');
    const last = segments[segments.length - 1]!;
    const colon = last.lastIndexOf(':');
    const verb = colon < 0 ? null : last.slice(colon + 1);
    const head = colon < 0 ? segments : [...segments.slice(0, -1), last.slice(0, colon)];
    const allowed = new Set<string>();
    for (const candidate of this.routes) {
      const params = matchParts(candidate, head, verb);
      if (params === null) continue;
      const routeMethod = candidate.route.method;
      if (routeMethod === method || (method === 'HEAD' && routeMethod === 'GET')) return { route: candidate.route, params };
      allowed.add(routeMethod);
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allow}`, { headers: { allow } });
    }
    throw new ApiError(404, 'NOT_FOUND', `no endpoint ${path}; see the @allot/server README for the API`);
  }
}

function compile(route: Route): CompiledRoute {
  const segments = route.path.split('/');
  const last = segments[segments.length - 1]!;
  const colon = last.lastIndexOf(':');
  const verb = colon < 0 ? null : last.slice(colon + 1);
  const head = colon < 0 ? segments : [...segments.slice(0, -1), last.slice(0, colon)];
  const parts = head.map((s): Part => (s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s }));
  return { route, parts, verb };
}

function matchParts(candidate: CompiledRoute, segments: readonly string[], verb: string | null): Record<string, string> | null {
  if (candidate.verb !== verb || candidate.parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const part = candidate.parts[i]!;
    const raw = segments[i]!;
    if ('literal' in part) {
      if (part.literal !== raw) return null;
      continue;
    }
    if (raw === '') return null;
    params[part.param] = decodeParam(raw, part.param);
  }
  return params;
}

function decodeParam(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalid(name, `${JSON.stringify(raw)} is not valid percent-encoding`);
  }
}

/** Query parameters, checked against the route's list. */
export class Query {
  private readonly params: URLSearchParams;

  constructor(search: string, allowed: readonly string[]) {
    this.params = new URLSearchParams(search);
    for (const name of new Set(this.params.keys())) {
      if (!allowed.includes(name)) {
        throw invalid(name, `unknown query parameter; ${allowed.length === 0 ? 'this endpoint takes none' : `expected ${allowed.join(', ')}`}`);
      }
    }
  }

  /** A parameter given at most once. */
  string(name: string): string | undefined {
    const values = this.params.getAll(name);
    if (values.length > 1) throw invalid(name, 'give this query parameter once');
    return values[0];
  }

  /** A list: repeated (`?tag=a&tag=b`) or comma-separated (`?tag=a,b`); empty items dropped. */
  list(name: string): string[] | undefined {
    const values = this.params.getAll(name);
    if (values.length === 0) return undefined;
    return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  }

  /** `true`/`false` (or absent). */
  boolean(name: string): boolean | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw invalid(name, `expected true or false, got ${JSON.stringify(v)}`);
  }
}
