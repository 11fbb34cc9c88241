/**
 * `POST /v1/flags:resolve`: Confidence's resolve call (`{flags, evaluationContext,
 * clientSecret, apply}`) against the compiled state, answered with core's resolve response.
 * Sticky assignments are not kept here: rules that read them resolve as if the store were
 * empty (providers keep them, next to the application).
 */
import { resolveFlags, ResolveError, type ResolveRequest } from '@allot/core';

import { ApiError, invalid } from '../http/api-error.js';
import type { Route } from '../http/router.js';
import { describe, isObject, optionalBoolean, optionalStringList, readObject, requiredString } from '../input/fields.js';
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
        const request: ResolveRequest = {
          evaluationContext: context,
          clientSecret: requiredString(body, 'clientSecret', ''),
          ...(flags === undefined ? {} : { flags }),
          ...(apply === undefined ? {} : { apply }),
        };
        const state = (await store.current()).state();
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
