/**
 * `GET /v1/state`: the compiled resolver state for providers to poll
 * (`httpSource('http://…/v1/state')`). A strong ETag (a hash of the state's bytes) and a 304
 * for a matching If-None-Match, so an unchanged state costs a provider nothing to check.
 */
import type { Route } from '../http/router.js';
import type { Store } from '../store/store.js';

/** Whether an If-None-Match header matches `etag` (weak comparison, as RFC 9110 asks). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const strip = (t: string): string => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => strip(t) === strip(etag));
}

export function stateRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/state',
      scope: 'read',
      async handle(ctx) {
        const state = (await store.current()).state();
        const headers = { etag: state.etag, 'cache-control': 'no-cache' };
        if (noneMatch(ctx.req.headers['if-none-match'], state.etag)) return { status: 304, headers };
        return { body: state.text, headers: { ...headers, 'content-type': 'application/json' } };
      },
    },
  ];
}
