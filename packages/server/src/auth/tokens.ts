/**
 * Bearer tokens with a scope: `read` (GET requests and resolves) or `write` (everything,
 * read included). Configured as `TOKEN:read` / `TOKEN:write` entries, comma- or
 * newline-separated (`ALLOT_TOKENS`, or a tokens file with `#` comments). Only SHA-256
 * digests are kept; a presented token is hashed and compared with every digest in constant
 * time, so neither its length nor its content leaks through timing. Tokens never appear in
 * messages or logs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import { ApiError } from '../http/api-error.js';

export type Scope = 'read' | 'write';

export interface TokenEntry {
  readonly token: string;
  readonly scope: Scope;
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
      const token = colon < 0 ? item : item.slice(0, colon);
      const scope = colon < 0 ? '' : item.slice(colon + 1);
      if (scope !== 'read' && scope !== 'write') {
        throw new TokenConfigError(`${where}: expected TOKEN:read or TOKEN:write (the scope is missing or not read/write)`);
      }
      if (!TOKEN.test(token)) {
        throw new TokenConfigError(`${where}: the token is empty or has characters other than printable ASCII`);
      }
      entries.push({ token, scope });
    });
  });
  return entries;
}

interface Digest {
  readonly digest: Buffer;
  readonly scope: Scope;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class TokenAuthority {
  private readonly digests: readonly Digest[];

  constructor(entries: readonly TokenEntry[]) {
    this.digests = entries.map((e) => ({ digest: sha256(e.token), scope: e.scope }));
  }

  /** No tokens configured: every request is allowed (the server only permits this on loopback). */
  get open(): boolean {
    return this.digests.length === 0;
  }

  /** Throws a 401 (no or unknown token) or 403 (read token, write needed) ApiError. */
  authorize(header: string | undefined, needed: Scope): void {
    if (this.open) return;
    const challenge = { 'www-authenticate': 'Bearer realm="allot"' };
    const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) {
      throw new ApiError(401, 'UNAUTHENTICATED', 'send a token as "Authorization: Bearer TOKEN"', { field: 'authorization', headers: challenge });
    }
    const presented = sha256(match[1]!);
    let scope: Scope | null = null;
    // Compare with every digest, without stopping at a match.
    for (const d of this.digests) {
      if (timingSafeEqual(presented, d.digest) && scope !== 'write') scope = d.scope;
    }
    if (scope === null) {
      throw new ApiError(401, 'UNAUTHENTICATED', 'the bearer token is not valid', {
        field: 'authorization',
        headers: { 'www-authenticate': 'Bearer realm="allot", error="invalid_token"' },
      });
    }
    if (needed === 'write' && scope !== 'write') {
      throw new ApiError(403, 'PERMISSION_DENIED', 'this token has the read scope; changes need a token with the write scope', { field: 'authorization' });
    }
  }
}
