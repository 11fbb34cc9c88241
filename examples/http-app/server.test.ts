import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'allot-example-'));
const stateFile = join(dir, 'state.json');
let app: ChildProcess;
let base = '';
let output = '';

beforeAll(async () => {
  copyFileSync(join(here, '..', 'states', 'demo.json'), stateFile);
  app = spawn(process.execPath, [join(here, 'server.js')], { env: { ...process.env, STATE_FILE: stateFile, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  app.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  app.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await vi.waitFor(() => {
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match === null) throw new Error(`not listening yet: ${output}`);
    base = match[1]!;
  }, { timeout: 15_000, interval: 50 });
});

afterAll(async () => {
  if (app.exitCode === null) {
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`);
  return (await response.json()) as Record<string, unknown>;
}

describe('examples/http-app', () => {
  it('serves flag values from a bundle and full details through the OpenFeature client', async () => {
    expect(await get('/checkout?user=u1&email=a@allot.dev')).toEqual({ newCheckout: true, steps: 2, banner: 'Winter sale' });
    expect(await get('/checkout?user=u1&country=US')).toEqual({ newCheckout: false, steps: 3, banner: 'Winter sale' });
    expect(await get('/flags/banner?user=u1')).toMatchObject({ value: { title: 'Winter sale', color: '#0af' }, variant: 'winter', reason: 'TARGETING_MATCH' });
    expect(await get('/flags/banner.title?user=u1')).toMatchObject({ value: null, errorCode: 'TYPE_MISMATCH' }); // a string, not an object
    expect(await get('/flags/nope?user=u1')).toMatchObject({ value: null, errorCode: 'FLAG_NOT_FOUND' });
    await vi.waitFor(() => { expect(output).toContain('exposure flags/new-checkout treatment unit=u1'); });
  });

  it('hot-reloads the state file', async () => {
    writeFileSync(stateFile, readFileSync(stateFile, 'utf8').replace('Winter sale', 'Spring sale'));
    await vi.waitFor(async () => { expect((await get('/checkout?user=u1')).banner).toBe('Spring sale'); }, { timeout: 10_000, interval: 50 });
    expect(output).toContain('flags changed: banner');
  });
});
