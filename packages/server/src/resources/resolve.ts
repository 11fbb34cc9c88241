/**
 * `POST /v1/flags:resolve`: Confidence's resolve call (`{flags, evaluationContext,
 * clientSecret, apply}`) against the compiled state, answered with core's resolve response.
 * The caller is already authenticated by its bearer token (read scope), so `clientSecret`
 * only picks the client (its flags and environments): it may be left out when the workspace
 * has one client, as with `allot resolve` and the provider.
 * Sticky assignments are not kept here: rules that read them resolve as if the store were
 * empty (providers keep them, next to the application).
 */
import { resolveFlags, ResolveError, type ResolveRequest, type ResolverState } from '@allot/core';

import { ApiError, invalid } from '../http/api-error.js';
import type { Route } from '../http/router.js';
import { describe, isObject, optionalBoolean, optionalString, optionalStringList, readObject } from '../input/fields.js';
import type { Store } from '../store/store.js';

export function resolveRoutes(store: Store): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/flags:resolve',
      scope: 'read',
      async handle(ctx) {
        const body = readObject(await ctx.body(), '', ['flags', 'evaluationContext', 'clientSecret', 'apply', 'sdk']);
        const context = body.evaluationContext ?? {};
        if (!isObject(context)) throw invalid('evaluationContext', `expected an object, got ${describe(context)}`);
        const flags = optionalStringList(body, 'flags', '');
        const apply = optionalBoolean(body, 'apply', '');
        const state = (await store.current()).state();
        const request: ResolveRequest = {
          evaluationContext: context,
          clientSecret: optionalString(body, 'clientSecret', '') ?? onlyClient(state.resolver),
          ...(flags === undefined ? {} : { flags }),
          ...(apply === undefined ? {} : { apply }),
        };
        try {
          return { body: resolveFlags(state.resolver, request) };
        } catch (error) {
          if (error instanceof ResolveError) {
            const field = error.code === 'CLIENT_NOT_FOUND' ? 'clientSecret' : undefined;
            throw new ApiError(400, error.code === 'CLIENT_NOT_FOUND' ? 'CLIENT_NOT_FOUND' : 'INVALID_ARGUMENT', error.message, { field });
          }
          throw error;
        }
      },
    },
  ];
}

/** The secret of the state's only client; with several, the request must name one. */
function onlyClient(state: ResolverState): string {
  if (state.clients.size === 1) return [...state.clients.keys()][0]!;
  const names = [...state.clients.values()].map((c) => c.name).join(', ');
  throw new ApiError(400, 'INVALID_ARGUMENT', `clientSecret: required, since the workspace has ${state.clients.size} clients (${names || 'none'}); their secrets are in the secrets file beside the workspace`, { field: 'clientSecret' });
}
