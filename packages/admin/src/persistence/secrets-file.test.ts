/**
 * Issue 18 item 5: client secrets are kept out of the workspace document (which is meant for
 * git), in `<name>.secrets.<ext>` beside it; a workspace written with its secrets inside is
 * migrated by its next update, losing none.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadState } from '@allot/core';
import { beforeEach, describe, expect, it } from 'vitest';

import { compile } from '../compile/compile.js';
import { createSegment } from '../operations/segments.js';
import { readSecrets, secretsPathOf } from './secrets-file.js';
import { WorkspaceFile } from './workspace-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'allot-secrets-'));
});

describe('client secrets beside the workspace', () => {
  it('names the secrets file after the workspace', () => {
    expect(secretsPathOf('/w/allot.yaml')).toBe('/w/allot.secrets.yaml');
    expect(secretsPathOf('/w/ws.json')).toBe('/w/ws.secrets.json');
    expect(secretsPathOf('/w/workspace')).toBe('/w/workspace.secrets.yaml');
  });

  it('says what is wrong with a bad secrets file, naming the file once and the field', async () => {
    const path = join(dir, 'allot.secrets.yaml');
    const cases: [string, RegExp][] = [
      ['clients: [', /^[^ ]*allot\.secrets\.yaml: not valid YAML or JSON \(.*\); it holds \{clients: \{<client id>: <secret>\}\}$/s],
      ['clients: [a, b]\n', /^[^ ]*allot\.secrets\.yaml: expected \{clients: \{<client id>: <secret>\}\}$/],
      ['clients: { default: "" }\n', /^clients\.default: expected the client's secret, a non-empty string \(in [^ ]*allot\.secrets\.yaml\)$/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(path, text);
      const error = await readSecrets(path).then(() => null, (e: unknown) => e as Error);
      expect(error?.message).toMatch(message);
      expect(error?.message.split('allot.secrets.yaml').length).toBe(2);
    }
  });

  it('a new workspace keeps its secret in the secrets file (mode 0600), not in the document, and compiles with it', async () => {
    const file = new WorkspaceFile(join(dir, 'allot.yaml'));
    const out = await file.update((ws) => createSegment(ws, { id: 'a' }), { create: { account: 'acct', seed: 's', clientSecret: 'secret-new' } });
    expect(readFileSync(file.path, 'utf8')).not.toContain('secret-new');
    expect(readFileSync(file.secretsPath, 'utf8')).toContain('default: secret-new');
    expect(statSync(file.secretsPath).mode & 0o777).toBe(0o600);
    const { workspace } = await file.read();
    expect(workspace.clients[0]!.secret).toBe('secret-new');
    expect(loadState(compile(workspace)).client('secret-new')).toBeDefined();
    expect(out.workspace.clients[0]!.secret).toBe('secret-new');
  });

  it('migrates a workspace written with its secrets inside on the next update: moved to the secrets file, none lost', async () => {
    const path = join(dir, 'allot.yaml');
    writeFileSync(path, [
      'allot: 1', 'account: acct', 'seed: s', 'environments: [production]',
      'clients:', '  default:', '    displayName: Default client', '    secret: secret-legacy', '    environments: [production]',
      '  mobile:', '    secret: secret-mobile', '    environments: [production]',
      'segments: {}', 'flags: {}', 'groups: {}', '',
    ].join('\n'));
    const file = new WorkspaceFile(path);
    expect((await file.read()).workspace.clients.map((c) => c.secret)).toEqual(['secret-legacy', 'secret-mobile']);
    const out = await file.update((ws) => ({ workspace: ws, result: null, warnings: [] }));
    expect(out.written).toBe(true);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('secret-legacy');
    expect(text).not.toContain('secret-mobile');
    expect(text).not.toContain('secret:');
    const { workspace } = await file.read();
    expect(workspace.clients.map((c) => c.secret)).toEqual(['secret-legacy', 'secret-mobile']);
    const state = loadState(compile(workspace));
    expect(state.client('secret-legacy')).toBeDefined();
    expect(state.client('secret-mobile')).toBeDefined();
  });

  it('without its secrets file, a workspace still compiles (the client under its name), and the next update gives it a new secret', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.json'));
    await file.update((ws) => createSegment(ws, { id: 'a' }), { create: { account: 'acct', seed: 's', clientSecret: 'secret-x' } });
    rmSync(file.secretsPath);
    const { workspace } = await file.read();
    expect(workspace.clients[0]!.secret).toBe('');
    expect(loadState(compile(workspace)).client('clients/default')).toBeDefined();
    await file.update((ws) => createSegment(ws, { id: 'b' }));
    const fresh = (await file.read()).workspace.clients[0]!.secret;
    expect(fresh).toMatch(/^secret-[0-9a-f]{32}$/);
    expect(JSON.parse(readFileSync(file.secretsPath, 'utf8'))).toEqual({ clients: { default: fresh } });
  });
});
