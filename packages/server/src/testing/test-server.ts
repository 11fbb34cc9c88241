/**
 * Test fixture: a server on 127.0.0.1 and a free port over a fresh workspace in a temporary
 * directory, with `request` (fetch with the token) and access to the file's bytes.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AllotServer, type ServerOptions } from '../server.js';

export const WRITE_TOKEN = 'test-write-token-0123456789abcdef';
export const READ_TOKEN = 'test-read-token-0123456789abcdef';

export interface TestServer {
  readonly server: AllotServer;
  readonly url: string;
  readonly workspace: string;
  readonly log: string[];
  /** fetch against the server; `token` defaults to the write token (null: none). */
  request(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
  /** The request's JSON body and status. */
  call(method: string, path: string, json?: unknown, token?: string | null): Promise<{ status: number; body: Record<string, unknown> }>;
  fileBytes(): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'allot-server-'));
  const workspace = join(dir, 'allot.yaml');
  const log: string[] = [];
  const server = await AllotServer.start({
    workspace,
    port: 0,
    tokens: [
      { token: WRITE_TOKEN, scope: 'write' },
      { token: READ_TOKEN, scope: 'read' },
    ],
    log: (line) => log.push(line),
    ...options,
  });
  const request = (path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}): Promise<Response> => {
    const { token = WRITE_TOKEN, json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== null) headers.set('authorization', `Bearer ${token}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${server.url}${path}`, { ...rest, headers, ...(json === undefined ? {} : { body: JSON.stringify(json) }) });
  };
  return {
    server,
    url: server.url,
    workspace,
    log,
    request,
    async call(method, path, json, token) {
      const res = await request(path, { method, ...(json === undefined ? {} : { json }), ...(token === undefined ? {} : { token }) });
      const text = await res.text();
      return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    },
    fileBytes: () => readFile(workspace, 'utf8'),
    async stop() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
