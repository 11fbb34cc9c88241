/**
 * The page's only way to the server: same-origin `fetch` with the bearer token in the
 * Authorization header, never in a URL, no cookies. The token is pasted by the user or taken
 * once from a `#token=` URL fragment (which the browser never sends to a server), removed
 * from the address bar at once, and kept in sessionStorage (this tab only).
 */
import type { ApiErrorJson } from './types.js';

export const TOKEN_KEY = 'allot.token';

export function takeFragmentToken(): void {
  const m = /^#token=(.+)$/.exec(window.location.hash);
  if (m === null) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
  history.replaceState(null, '', window.location.pathname + window.location.search);
}

export function hasToken(): boolean {
  return (sessionStorage.getItem(TOKEN_KEY) ?? '') !== '';
}

/** An answer: the body as the endpoint documents it, or the error. */
export type Answer<T> = { readonly ok: true; readonly status: number; readonly body: T } | { readonly ok: false; readonly status: number; readonly error: ApiErrorJson };

export async function api<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token !== null && token !== '') headers.authorization = `Bearer ${token}`;
  if (method !== 'GET') headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: method === 'GET' ? null : JSON.stringify(body ?? {}),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    return { ok: false, status: res.status, error: { code: 'NOT_JSON', message: text.slice(0, 300) } };
  }
  if (res.ok) return { ok: true, status: res.status, body: json as T };
  const error = (json as { error?: ApiErrorJson }).error;
  return { ok: false, status: res.status, error: error ?? { code: String(res.status), message: text.slice(0, 300) } };
}
