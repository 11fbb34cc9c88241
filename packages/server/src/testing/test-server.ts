/**
 * Test fixture: a server on 127.0.0.1 and a free port over a fresh workspace in a temporary
 * directory, with `request` (fetch with the token) and access to the stored bytes.
 *
 * The HTTP suite runs against every store: by default over the workspace file; a test file
 * that calls `useTestStore` first (`@allot/pg-store`'s suite runner does, with a fresh
 * PostgreSQL database per server) makes every `startTestServer` after it use that store.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { WorkspaceFile, type Workspace } from '@allot/admin';

import { AllotServer, type ServerOptions } from '../server.js';
import type { Store } from '../store/store.js';

/** A store for one test server, with direct access to what it stored (not through the server). */
export interface TestStore {
  readonly store: Store;
  /** The stored document's bytes, read from the store itself. */
  bytes(): Promise<string>;
  /** The stored workspace, read from the store itself. */
  read(): Promise<Workspace>;
  /** Removes what the store holds; called after the server closed. */
  dispose(): Promise<void>;
}

export interface TestStoreKind {
  readonly kind: 'file' | 'postgres';
  create(): Promise<TestStore>;
}

const TEST_STORE = Symbol.for('allot.testStore');
type WithTestStore = typeof globalThis & { [TEST_STORE]?: TestStoreKind };

/** Makes every later `startTestServer` in this test file use `kind`'s stores. */
export function useTestStore(kind: TestStoreKind): void {
  (globalThis as WithTestStore)[TEST_STORE] = kind;
}

/** Which store the test servers use: "file" unless `useTestStore` chose another. */
export function testStoreKind(): 'file' | 'postgres' {
  return (globalThis as WithTestStore)[TEST_STORE]?.kind ?? 'file';
}

export const WRITE_TOKEN = 'test-write-token-0123456789abcdef';
export const READ_TOKEN = 'test-read-token-0123456789abcdef';

export interface TestServer {
  readonly server: AllotServer;
  readonly url: string;
  /** The workspace file's path (on another store, a path nothing is written to). */
  readonly workspace: string;
  readonly log: string[];
  /** fetch against the server; `token` defaults to the write token (null: none). */
  request(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
  /** The request's JSON body and status. */
  call(method: string, path: string, json?: unknown, token?: string | null): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The stored workspace document's bytes (the file's, or the database row's). */
  fileBytes(): Promise<string>;
  /** The stored workspace, read past the server. */
  readWorkspace(): Promise<Workspace>;
  stop(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'allot-server-'));
  const workspace = join(dir, 'allot.yaml');
  const log: string[] = [];
  const other = (globalThis as WithTestStore)[TEST_STORE];
  const testStore = other === undefined ? null : await other.create();
  const server = await AllotServer.start({
    ...(testStore === null ? { workspace } : { store: testStore.store }),
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
    fileBytes: () => (testStore === null ? readFile(workspace, 'utf8') : testStore.bytes()),
    readWorkspace: async () => (testStore === null ? (await new WorkspaceFile(workspace).read()).workspace : testStore.read()),
    async stop() {
      await server.close();
      await testStore?.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
