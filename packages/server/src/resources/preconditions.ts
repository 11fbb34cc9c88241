/**
 * Optimistic concurrency on single resources (AIP-154 style): every resource carries an
 * `etag`, a hash of its representation; an update may name the etag it was based on, in the
 * body (`"etag": "…"`) or as `If-Match`, and is refused with 412 when the resource changed
 * since. The check runs inside the locked file update, against the latest workspace.
 */
import type { IncomingMessage } from 'node:http';

import { AdminError, etagOf } from '@allot/admin';

import { ApiError } from '../http/api-error.js';

/** The etag of a resource representation (without its own `etag` member). */
export function resourceEtag(representation: unknown): string {
  return etagOf(JSON.stringify(representation));
}

/** The entity tags an update requires: from the body's `etag` and the If-Match header. */
export function requiredEtags(req: IncomingMessage, bodyEtag: string | undefined): string[] | undefined {
  const header = req.headers['if-match'];
  const tags: string[] = [];
  if (header !== undefined && header.trim() !== '*') {
    for (const raw of header.split(',')) {
      const t = raw.trim();
      // Weak tags never match under If-Match's strong comparison.
      if (t.startsWith('W/')) {
        throw new ApiError(412, 'ETAG_MISMATCH', 'If-Match needs a strong entity tag; weak ones (W/"…") never match', { field: 'if-match' });
      }
      tags.push(t.replace(/^"(.*)"$/, '$1'));
    }
  }
  if (bodyEtag !== undefined) tags.push(bodyEtag);
  return tags.length === 0 ? undefined : tags;
}

/** Throws ETAG_MISMATCH (412) unless `current` is among `required`. */
export function checkEtag(required: readonly string[] | undefined, current: string, field: string): void {
  if (required === undefined || required.includes(current)) return;
  throw new AdminError('ETAG_MISMATCH', `the resource changed since it was read (its etag is now ${current}); read it again and retry`, { path: field });
}

/** The ETag header value for `etag`. */
export function etagHeader(etag: string): { etag: string } {
  return { etag: `"${etag}"` };
}
