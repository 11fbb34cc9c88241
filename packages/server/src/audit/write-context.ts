/**
 * The audit change of a request's write (`AuditChange`): who (the token's name), what (the
 * route and the request), which resource, and, once the store has applied it, every
 * resource it changed before and after and its impact. `describe` is also where a team
 * token's limits are checked, on what the write actually changes: it runs inside the
 * store's write (under the file lock, or in the transaction), so a write outside the
 * token's scope fails alone with a 403 and nothing of it is stored or logged.
 */
import { checkChanges } from '../auth/write-limits.js';
import type { RequestContext } from '../http/router.js';
import type { AuditChange } from '../store/audit-hook.js';
import { beforeAndAfter, changedResources, impactSummary } from './changes.js';

/** The resource a request names by its path or its create query (`segments/x`), or null. */
function namedResource(ctx: RequestContext): string | null {
  for (const [collection, param] of [['segments', 'segment'], ['flags', 'flag'], ['groups', 'group']] as const) {
    const id = ctx.params[param] ?? (ctx.operation.startsWith(`POST /v1/${collection}`) && !ctx.operation.includes('{') ? ctx.query.string(`${param}Id`) : undefined);
    if (id !== undefined) return `${collection}/${id}`;
  }
  return null;
}

export async function requestChange(ctx: RequestContext): Promise<AuditChange> {
  const body = await ctx.body();
  return {
    actor: ctx.principal.name,
    operation: ctx.operation,
    // The query matters as much as the body (`force=true`, `updateMask`), so both are kept.
    request: { path: ctx.req.url ?? '/', body },
    resource: namedResource(ctx),
    describe(before, after) {
      const changes = changedResources(before, after);
      checkChanges(ctx.principal, changes);
      return { ...beforeAndAfter(changes), impact: impactSummary(before, after) };
    },
  };
}
