/**
 * Bearer tokens with a scope: `read` (GET requests and resolves) or `write` (everything,
 * read included), and a name the audit log and the request log show instead of the secret.
 * Configured as `[NAME=]TOKEN:read` / `[NAME=]TOKEN:write[(LIMITS)]` entries, comma- or
 * newline-separated (`ALLOT_TOKENS`, or a tokens file with `#` comments); LIMITS confine a
 * write token to a team's resources (see `write-limits.ts`). Only SHA-256 digests are
 * kept; a presented token is hashed and compared with every digest in constant time, so
 * neither its length nor its content leaks through timing. Tokens never appear in messages
 * or logs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import { ApiError } from '../http/api-error.js';
import { describeLimits, parseLimits, type WriteLimits } from './write-limits.js';

export type Scope = 'read' | 'write';

export interface TokenEntry {
  readonly token: string;
  readonly scope: Scope;
  /** Shown in logs and the audit log; default `token-` and the first 8 hex digits of the token's SHA-256. */
  readonly name?: string;
  /** A write token confined to some resources; absent: it may change anything. */
  readonly limits?: WriteLimits;
}

/** Who a request comes from, once its token is checked. */
export interface Principal {
  readonly name: string;
  readonly scope: Scope;
  readonly limits: WriteLimits | null;
}

/** The principal of every request when no tokens are configured (loopback only). */
export const OPEN_PRINCIPAL: Principal = { name: 'local', scope: 'write', limits: null };

/** The name of a token configured without one: not secret (8 hex digits of its SHA-256), and stable. */
export function defaultTokenName(token: string): string {
  return `token-${sha256(token).toString('hex').slice(0, 8)}`;
}

/** A tokens configuration that cannot be used; the message never contains a token. */
export class TokenConfigError extends Error {
  readonly code = 'INVALID_TOKENS' as const;

  constructor(message: string) {
    super(message);
    this.name = 'TokenConfigError';
  }
}

const TOKEN = /^[\x21-\x7e]+$/;
const NAMED = /^([a-z][a-z0-9-]{0,62})=(.+)$/s;
const SCOPE = /^(read|write)(?:\((.*)\))?$/s;

/**
 * Parses `TOKEN:scope` entries separated by commas or newlines; blank entries and `#`
 * comment lines are skipped. `source` names where they came from, for errors.
 */
export function parseTokens(text: string, source: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, lineIndex) => {
    if (line.trim().startsWith('#')) return;
    line.split(',').forEach((raw, itemIndex) => {
      const item = raw.trim();
      if (item === '') return;
      const where = lines.length > 1 ? `${source} line ${lineIndex + 1}` : `${source} entry ${itemIndex + 1}`;
      const colon = item.lastIndexOf(':');
      const named = NAMED.exec(colon < 0 ? item : item.slice(0, colon));
      const token = named !== null ? named[2]! : colon < 0 ? item : item.slice(0, colon);
      const scopeMatch = SCOPE.exec(colon < 0 ? '' : item.slice(colon + 1));
      if (scopeMatch === null) {
        throw new TokenConfigError(`${where}: expected [NAME=]TOKEN:read or [NAME=]TOKEN:write[(LIMITS)] (the scope is missing or not read/write)`);
      }
      const scope = scopeMatch[1] as Scope;
      if (!TOKEN.test(token)) {
        throw new TokenConfigError(`${where}: the token is empty or has characters other than printable ASCII`);
      }
      if (scopeMatch[2] !== undefined && scope !== 'write') {
        throw new TokenConfigError(`${where}: limits only apply to write tokens (reads are account-wide); write TOKEN:read without them`);
      }
      const limits = scopeMatch[2] === undefined ? undefined : parseLimits(scopeMatch[2], where);
      entries.push({ token, scope, ...(named === null ? {} : { name: named[1]! }), ...(limits === undefined ? {} : { limits }) });
    });
  });
  return entries;
}

interface Digest {
  readonly digest: Buffer;
  readonly principal: Principal;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class TokenAuthority {
  private readonly digests: readonly Digest[];

  constructor(entries: readonly TokenEntry[]) {
    this.digests = entries.map((e) => ({
      digest: sha256(e.token),
      principal: { name: e.name ?? defaultTokenName(e.token), scope: e.scope, limits: e.limits ?? null },
    }));
  }

  /** No tokens configured: every request is allowed (the server only permits this on loopback). */
  get open(): boolean {
    return this.digests.length === 0;
  }

  /** The token's principal; throws a 401 (no or unknown token) or 403 (read token, write needed) ApiError. */
  authorize(header: string | undefined, needed: Scope): Principal {
    if (this.open) return OPEN_PRINCIPAL;
    const challenge = { 'www-authenticate': 'Bearer realm="allot"' };
    const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) {
      throw new ApiError(401, 'UNAUTHENTICATED', 'send a token as "Authorization: Bearer TOKEN"', { field: 'authorization', headers: challenge });
    }
    const presented = sha256(match[1]!);
    let principal: Principal | null = null;
    // Compare with every digest, without stopping at a match; of the same token configured
    // twice, the first entry with the widest scope wins.
    for (const d of this.digests) {
      if (timingSafeEqual(presented, d.digest) && rank(d.principal) > rank(principal)) principal = d.principal;
    }
    if (principal === null) {
      throw new ApiError(401, 'UNAUTHENTICATED', 'the bearer token is not valid', {
        field: 'authorization',
        headers: { 'www-authenticate': 'Bearer realm="allot", error="invalid_token"' },
      });
    }
    if (needed === 'write' && principal.scope !== 'write') {
      throw new ApiError(403, 'PERMISSION_DENIED', `this token (${principal.name}) has the read scope; changes need a token with the write scope`, { field: 'authorization' });
    }
    return principal;
  }
}

function rank(p: Principal | null): number {
  return p === null ? 0 : p.scope === 'read' ? 1 : p.limits === null ? 3 : 2;
}

/** `read`, `write`, or `write(prefix=search-;family=search)`, as configured. */
export function describeScope(p: Principal): string {
  return p.limits === null ? p.scope : `${p.scope}(${describeLimits(p.limits)})`;
}
