import { describe, expect, it } from 'vitest';

import { ApiError } from '../http/api-error.js';
import { parseTokens, TokenAuthority, TokenConfigError } from './tokens.js';

describe('parseTokens', () => {
  it('reads comma-separated entries (ALLOT_TOKENS) and lines with comments (a tokens file)', () => {
    expect(parseTokens('admin-secret:write, ci-secret:read ,', 'ALLOT_TOKENS')).toEqual([
      { token: 'admin-secret', scope: 'write' },
      { token: 'ci-secret', scope: 'read' },
    ]);
    expect(parseTokens('# team tokens\nadmin-secret:write\n\n  ci:secret:read\n', 'tokens.txt')).toEqual([
      { token: 'admin-secret', scope: 'write' },
      { token: 'ci:secret', scope: 'read' },
    ]);
  });

  it('refuses a bad entry without echoing the token', () => {
    for (const [text, where] of [
      ['good:write,hunter2-secret', 'ALLOT_TOKENS entry 2'],
      ['good:write,hunter2-secret:admin', 'ALLOT_TOKENS entry 2'],
      ['hunter2 secret:read', 'ALLOT_TOKENS entry 1'],
    ] as const) {
      let error: unknown;
      try {
        parseTokens(text, 'ALLOT_TOKENS');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TokenConfigError);
      expect((error as Error).message).toContain(where);
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => parseTokens('# x\nok:read\nbad', 'tokens.txt')).toThrow(/tokens.txt line 3/);
  });
});

describe('TokenAuthority', () => {
  const authority = new TokenAuthority(parseTokens('w-token:write,r-token:read', 'test'));
  const status = (header: string | undefined, scope: 'read' | 'write'): number => {
    try {
      authority.authorize(header, scope);
      return 200;
    } catch (error) {
      return (error as ApiError).status;
    }
  };

  it('lets a write token do everything and a read token only read', () => {
    expect(status('Bearer w-token', 'write')).toBe(200);
    expect(status('Bearer w-token', 'read')).toBe(200);
    expect(status('bearer r-token', 'read')).toBe(200);
    expect(status('Bearer r-token', 'write')).toBe(403);
  });

  it('answers 401 without a token, with a wrong one, or with another scheme', () => {
    expect(status(undefined, 'read')).toBe(401);
    expect(status('Bearer w-token-but-longer', 'read')).toBe(401);
    expect(status('Bearer w-toke', 'read')).toBe(401);
    expect(status('Basic dzp0b2tlbg==', 'read')).toBe(401);
    expect(status('Bearer', 'read')).toBe(401);
    expect(status('w-token', 'read')).toBe(401);
  });

  it('is open when no tokens are configured', () => {
    const open = new TokenAuthority([]);
    expect(open.open).toBe(true);
    expect(() => { open.authorize(undefined, 'write'); }).not.toThrow();
  });
});
