import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlag, newWorkspace, WorkspaceFile } from '@allot/admin';
import { describe, expect, it } from 'vitest';
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

  it('reports an invalid workspace with admin’s message', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'allot: 1\naccount: [1, 2]\n');
    const provider = new AllotProvider({ source: fileSource(file, { watch: false }) });
    await expect(provider.initialize()).rejects.toThrow(/no usable state from file .*broken\.yaml: .*account/s);
  });
});
