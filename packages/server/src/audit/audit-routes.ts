/**
 * `GET /v1/auditLog`: the audit log's entries, oldest first, filtered by `resource`, `actor`
 * and a time range (`startTime` inclusive, `endTime` exclusive, RFC 3339), in pages as
 * AIP-158 has it: `pageSize` (default 50, at most 1000; larger asks are cut to 1000),
 * `pageToken` from the previous page's `nextPageToken`, which is empty on the last page.
 * A token is opaque and only valid with the same filters.
 */
import { createHash } from 'node:crypto';

import { invalid } from '../http/api-error.js';
import type { Route } from '../http/router.js';
import type { ReadEntry } from './chain.js';
import { matchesFilter, type AuditFilter } from './audit-query.js';

/** Where the server reads the audit log from (the file store's `FileAuditLog`, or a database's). */
export interface AuditSource {
  entries(): AsyncIterable<ReadEntry>;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1_000;

function time(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(t)) throw invalid(name, `expected an RFC 3339 time such as 2026-12-04T21:00:00Z, got ${JSON.stringify(value)}`);
  return new Date(t);
}

function filterKey(f: AuditFilter): string {
  return createHash('sha256').update(JSON.stringify([f.resource ?? null, f.actor ?? null, f.since?.toISOString() ?? null, f.until?.toISOString() ?? null])).digest('base64url').slice(0, 12);
}

export function auditRoutes(source: AuditSource): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/auditLog',
      scope: 'read',
      query: ['resource', 'actor', 'startTime', 'endTime', 'pageSize', 'pageToken'],
      async handle(ctx) {
        const filter: AuditFilter = {
          ...(ctx.query.string('resource') === undefined ? {} : { resource: ctx.query.string('resource')! }),
          ...(ctx.query.string('actor') === undefined ? {} : { actor: ctx.query.string('actor')! }),
          ...(ctx.query.string('startTime') === undefined ? {} : { since: time(ctx.query.string('startTime'), 'startTime')! }),
          ...(ctx.query.string('endTime') === undefined ? {} : { until: time(ctx.query.string('endTime'), 'endTime')! }),
        };
        const sizeText = ctx.query.string('pageSize');
        if (sizeText !== undefined && !/^\d+$/.test(sizeText)) throw invalid('pageSize', `expected a whole number, got ${JSON.stringify(sizeText)}`);
        const size = sizeText === undefined || sizeText === '0' ? DEFAULT_PAGE : Math.min(Number(sizeText), MAX_PAGE);
        const key = filterKey(filter);
        let after = 0;
        const token = ctx.query.string('pageToken');
        if (token !== undefined && token !== '') {
          const m = /^(\d+)\.([A-Za-z0-9_-]{12})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
          if (m === null) throw invalid('pageToken', 'not a page token from this endpoint; pass nextPageToken as it came');
          if (m[2] !== key) throw invalid('pageToken', 'the page token was made for other filters; send the same resource, actor, startTime and endTime as the first page, or start again without pageToken');
          after = Number(m[1]);
        }
        // Pages are cut by position in the log, which appending never changes.
        const entries = [];
        let position = 0;
        let lastPosition = 0;
        let more = false;
        for await (const e of source.entries()) {
          position++;
          if ('unreadable' in e || position <= after || !matchesFilter(e, filter)) continue;
          if (entries.length === size) {
            more = true;
            break;
          }
          entries.push(e);
          lastPosition = position;
        }
        const nextPageToken = more ? Buffer.from(`${lastPosition}.${key}`).toString('base64url') : '';
        return { body: { entries, nextPageToken } };
      },
    },
  ];
}
