/**
 * Client secrets live beside the workspace, not in it: the workspace document is kept in
 * git, and a secret in git is a secret shared with everyone who can read the repository.
 * `allot.yaml`'s secrets are in `allot.secrets.yaml` (`ws.json`'s in `ws.secrets.json`),
 * `clients: {<client id>: <secret>}`, written with mode 0600; ignore `*.secrets.*` in git.
 * A workspace written before this kept them in `clients.<id>.secret`: the next update moves
 * them here (this file first, then the workspace without them, so none is ever lost).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

import { parse as parseYaml, stringify } from 'yaml';

import { AdminError } from '../errors.js';
import type { WorkspaceFormat } from '../workspace/serialize.js';

/** `dir/allot.secrets.yaml` for `dir/allot.yaml`; `dir/ws.secrets.json` for `dir/ws.json`. */
export function secretsPathOf(workspacePath: string): string {
  const ext = extname(workspacePath);
  const name = basename(workspacePath, ext);
  return join(dirname(workspacePath), `${name}.secrets${ext === '' ? '.yaml' : ext}`);
}

/** The secrets in `path` by client id; empty when the file does not exist. */
export async function readSecrets(path: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    // AdminError puts `path` (the file) before the message.
    throw new AdminError('INVALID_WORKSPACE', `not valid YAML or JSON (${(error as Error).message}); it holds {clients: {<client id>: <secret>}}`, { path });
  }
  const clients = (data as { clients?: unknown } | null)?.clients;
  if (typeof clients !== 'object' || clients === null || Array.isArray(clients)) {
    throw new AdminError('INVALID_WORKSPACE', 'expected {clients: {<client id>: <secret>}}', { path });
  }
  const out = new Map<string, string>();
  for (const [id, secret] of Object.entries(clients as Record<string, unknown>)) {
    if (typeof secret !== 'string' || secret === '') throw new AdminError('INVALID_WORKSPACE', `expected the client's secret, a non-empty string (in ${path})`, { path: `clients.${id}` });
    out.set(id, secret);
  }
  return out;
}

/** The secrets file's text for `secrets` (sorted by client id, so it is deterministic). */
export function secretsText(secrets: ReadonlyMap<string, string>, format: WorkspaceFormat): string {
  const clients = Object.fromEntries([...secrets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const doc = { clients };
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : `# Client secrets of the workspace beside this file: keep this file out of git.\n${stringify(doc)}`;
}
