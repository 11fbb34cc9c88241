import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlag, newWorkspace, WorkspaceFile } from '@allot/admin';
import { ErrorCode, ProviderEvents } from '@openfeature/server-sdk';
import { describe, expect, it, vi } from 'vitest';
import { AllotProvider } from '../provider.js';
import { fileSource } from './file-source.js';

const dir = mkdtempSync(join(tmpdir(), 'allot-workspace-'));
process.on('exit', () => {
  rmSync(dir, { recursive: true, force: true });
});

function workspace(): ReturnType<typeof newWorkspace> {
  const ws = newWorkspace({ account: 'ws-test', seed: 'seed', clientSecret: 'ws-secret' });
  return createFlag(ws, { id: 'hello', variants: [{ name: 'on', value: { enabled: true } }] }).workspace;
}

describe('fileSource with a workspace document', () => {
  for (const format of ['yaml', 'json'] as const) {
    it(`compiles a ${format} workspace through @allot/admin`, async () => {
      const file = join(dir, `workspace.${format}`);
      // Written as allot writes it: the client's secret in workspace.secrets.<format> beside it.
      await new WorkspaceFile(file).update(() => ({ workspace: workspace(), result: null, warnings: [] }), { create: true });
      expect(readFileSync(file, 'utf8')).not.toContain('ws-secret');
      // With the client's secret (read from the secrets file), and without it (the only client), as the README's snippet does.
      for (const secret of [{ clientSecret: 'ws-secret' }, {}]) {
        const provider = new AllotProvider({ source: fileSource(file, { watch: false }), ...secret });
        await provider.initialize();
        // The flag exists (no rules yet): the default, without FLAG_NOT_FOUND.
        expect(await provider.resolveBooleanEvaluation('hello.enabled', false, { targetingKey: 'u' })).toEqual({ value: false, reason: 'DEFAULT', flagMetadata: {} });
        expect((await provider.resolveBooleanEvaluation('nope', false, {})).errorCode).toBe('FLAG_NOT_FOUND');
        await provider.onClose();
      }
    });
  }

  it('tries the same workspace bytes again once its secrets file, which failed them, is fixed', async () => {
    const file = join(dir, 'secrets-retry.yaml');
    const secretsFile = join(dir, 'secrets-retry.secrets.yaml');
    await new WorkspaceFile(file).update(() => ({ workspace: workspace(), result: null, warnings: [] }), { create: true });
    const secrets = readFileSync(secretsFile, 'utf8');
    const provider = new AllotProvider({ source: fileSource(file, { debounceMs: 20, pollIntervalMs: 50 }), clientSecret: 'ws-secret' });
    const events: string[] = [];
    for (const type of [ProviderEvents.Error, ProviderEvents.Ready, ProviderEvents.ConfigurationChanged]) provider.events.addHandler(type, () => events.push(type));
    await provider.initialize();
    const found = async (): Promise<boolean> => (await provider.resolveBooleanEvaluation('later', false, {})).errorCode !== ErrorCode.FLAG_NOT_FOUND;
    // The next document, written as allot writes it (elsewhere: its secrets file would be read).
    const nextFile = join(dir, 'secrets-retry-next.yaml');
    const next = createFlag(workspace(), { id: 'later', variants: [{ name: 'on', value: true }] }).workspace;
    await new WorkspaceFile(nextFile).update(() => ({ workspace: next, result: null, warnings: [] }), { create: true });
    // The secrets file broken, then the workspace changed: rejected, for the secrets file's sake.
    writeFileSync(secretsFile, 'clients: [');
    writeFileSync(file, readFileSync(nextFile));
    await vi.waitFor(() => { expect(events).toEqual([ProviderEvents.Error]); }, { timeout: 3_000, interval: 20 });
    expect(await found()).toBe(false);
    // The secrets file fixed, the workspace saved again with the same bytes: they load now.
    writeFileSync(secretsFile, secrets);
    writeFileSync(file, readFileSync(file));
    await vi.waitFor(async () => { expect(await found()).toBe(true); }, { timeout: 3_000, interval: 20 });
    expect(events).toEqual([ProviderEvents.Error, ProviderEvents.Ready, ProviderEvents.ConfigurationChanged]);
    await provider.onClose();
  });

  it('reports each write of a bad workspace once, with the stat poll racing the watcher', async () => {
    const file = join(dir, 'racing.yaml');
    await new WorkspaceFile(file).update(() => ({ workspace: workspace(), result: null, warnings: [] }), { create: true });
    // A poll every millisecond: it often reads the new stat while the watcher's reload is under way.
    const provider = new AllotProvider({ source: fileSource(file, { debounceMs: 5, pollIntervalMs: 1 }), clientSecret: 'ws-secret' });
    let errors = 0;
    provider.events.addHandler(ProviderEvents.Error, () => errors++);
    await provider.initialize();
    for (let i = 1; i <= 12; i++) {
      writeFileSync(file, `allot: 1\naccount: [${i}]\n`); // each write different, each rejected (not remembered: a workspace)
      await vi.waitFor(() => { expect(errors).toBe(i); }, { timeout: 3_000, interval: 5 });
      await new Promise((r) => setTimeout(r, 60)); // room for a second report of the same write
    }
    expect(errors).toBe(12);
    await provider.onClose();
  });

  it('reports an invalid workspace with admin’s message', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'allot: 1\naccount: [1, 2]\n');
    const provider = new AllotProvider({ source: fileSource(file, { watch: false }) });
    await expect(provider.initialize()).rejects.toThrow(/no usable state from file .*broken\.yaml: .*account/s);
  });
});
