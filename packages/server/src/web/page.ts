/**
 * The coordination map: a read-only page at `/` and its two static files, bundled at build
 * time (`node packages/server/web/build.mjs`, run by scripts/setup.sh and prepack) into
 * `dist/web/` of this package. The files need no token (they hold no workspace data); the
 * page asks the API for everything with the bearer token the user gives it. A strict
 * Content-Security-Policy keeps the page to this origin: no inline script, no other hosts.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { ApiError } from '../http/api-error.js';
import type { Route } from '../http/router.js';

/** Where the build puts the page: `<package>/dist/web`. */
export function defaultWebRoot(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@allot/server/package.json')), 'dist', 'web');
}

/** The page's files: the only answers that are not JSON. */
export const PAGE_FILES: readonly { path: string; file: string; type: string }[] = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
];

const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** The page's routes; `root` is looked up on the first request when not given (a bundler may have moved this module). */
export function webRoutes(root: string | undefined): Route[] {
  const cache = new Map<string, string>();
  const load = async (file: string): Promise<string> => {
    let text = cache.get(file);
    if (text === undefined) {
      let path = file;
      try {
        path = join(root ?? defaultWebRoot(), file);
        text = await readFile(path, 'utf8');
      } catch {
        throw new ApiError(404, 'NOT_FOUND', `the coordination map is not built (no ${path}); run "node packages/server/web/build.mjs" (scripts/setup.sh does)`);
      }
      cache.set(file, text);
    }
    return text;
  };
  return PAGE_FILES.map(({ path, file, type }) => ({
    method: 'GET' as const,
    path,
    scope: 'public' as const,
    async handle() {
      return { body: await load(file), headers: { ...HEADERS, 'content-type': type } };
    },
  }));
}
