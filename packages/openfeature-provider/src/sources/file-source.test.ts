import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AllotProvider } from '../provider.js';
import { SECRET, testState } from '../testing/states.js';
import { fileSource } from './file-source.js';

let dir: string;
let file: string;
const providers: AllotProvider[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'allot-file-source-'));
  file = join(dir, 'state.json');
});

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.onClose()));
  rmSync(dir, { recursive: true, force: true });
});

function stateWithColor(color: string): string {
  const state = testState();
  (state.flags as Record<string, { variants: { value: Record<string, unknown> }[] }>)['flags/banner']!.variants[0]!.value.color = color;
  return JSON.stringify(state);
}

function watched(options: { watch?: boolean; pollIntervalMs?: number; offThread?: boolean } = {}, staleAfterMs = 60_000): {
  provider: AllotProvider;
  events: [string, unknown][];
} {
  const provider = new AllotProvider({
    source: fileSource(file, {
      debounceMs: 20,
      pollIntervalMs: options.pollIntervalMs ?? 50,
      ...(options.watch === undefined ? {} : { watch: options.watch }),
      ...(options.offThread === undefined ? {} : { offThread: options.offThread }),
    }),
    clientSecret: SECRET,
    staleAfterMs,
  });
  providers.push(provider);
  const events: [string, unknown][] = [];
  for (const type of [ProviderEvents.ConfigurationChanged, ProviderEvents.Error, ProviderEvents.Stale, ProviderEvents.Ready]) {
    provider.events.addHandler(type, (details) => events.push([type, details?.flagsChanged ?? details?.message]));
  }
  return { provider, events };
}

async function color(provider: AllotProvider): Promise<string> {
  return (await provider.resolveStringEvaluation('banner.color', '', { targetingKey: 'u' })).value;
}

describe('fileSource', () => {
  it('hot-reloads an edited file and reports the changed flags', async () => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider, events } = watched();
    await provider.initialize();
    expect(await color(provider)).toBe('#000');
    writeFileSync(file, stateWithColor('#111'));
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#111'); }, { timeout: 3_000, interval: 20 });
    expect(events).toEqual([[ProviderEvents.ConfigurationChanged, ['banner']]]);
  });

  it('follows an atomic replace (write to a temporary file, rename over)', async () => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider } = watched();
    await provider.initialize();
    writeFileSync(join(dir, 'state.json.tmp'), stateWithColor('#222'));
    renameSync(join(dir, 'state.json.tmp'), file);
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#222'); }, { timeout: 3_000, interval: 20 });
  });

  it('picks up changes by polling when watching is unavailable', async () => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider } = watched({ pollIntervalMs: 30 });
    await provider.initialize();
    // Simulate a file system without notifications: the poll alone must notice the change.
    (provider as unknown as { source: { watcher: { close(): void } | null } }).source.watcher?.close();
    (provider as unknown as { source: { watcher: unknown } }).source.watcher = null;
    writeFileSync(file, stateWithColor('#333'));
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#333'); }, { timeout: 3_000, interval: 20 });
  });

  it('keeps the last good state on a bad file, reports PROVIDER_ERROR then PROVIDER_STALE, and recovers', async () => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider, events } = watched({}, 150);
    await provider.initialize();
    writeFileSync(file, '{"flags": {"flags/x": {"rules": [{"name": 1}]}');
    // The error first; the state goes stale 150 ms after it was loaded, which on a slow machine may be at once.
    await vi.waitFor(() => { expect(events[0]?.[0]).toBe(ProviderEvents.Error); }, { timeout: 3_000, interval: 20 });
    expect(String(events[0]![1])).toMatch(/state\.json: not valid JSON/);
    expect(await color(provider)).toBe('#000');
    await vi.waitFor(() => { expect(events.map((e) => e[0])).toEqual([ProviderEvents.Error, ProviderEvents.Stale]); }, { timeout: 3_000, interval: 20 });
    writeFileSync(file, stateWithColor('#444'));
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#444'); }, { timeout: 3_000, interval: 20 });
    expect(events.map((e) => e[0])).toEqual([ProviderEvents.Error, ProviderEvents.Stale, ProviderEvents.Ready, ProviderEvents.ConfigurationChanged]);
  });

  it.each([
    ['on the loader\'s worker', {}],
    ['on this thread', { offThread: false }],
  ])('reports rejected content once, however often the same bytes are written again (%s)', async (_where, options) => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider, events } = watched(options);
    await provider.initialize();
    const bad = '{"flags": {"flags/x": {"rules": [{"name": 1}]}';
    writeFileSync(file, bad);
    await vi.waitFor(() => { expect(events.map((e) => e[0])).toEqual([ProviderEvents.Error]); }, { timeout: 3_000, interval: 20 });
    for (let i = 0; i < 3; i++) {
      writeFileSync(file, bad); // new stat, same content: the watcher and the poll both see a change
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(events.map((e) => e[0])).toEqual([ProviderEvents.Error]);
    writeFileSync(file, stateWithColor('#000')); // the good content back: loaded again, nothing changed
    await vi.waitFor(() => { expect(events.map((e) => e[0])).toEqual([ProviderEvents.Error, ProviderEvents.Ready]); }, { timeout: 3_000, interval: 20 });
    writeFileSync(file, bad); // rejected content is tried again once other content came between
    await vi.waitFor(() => { expect(events.map((e) => e[0])).toEqual([ProviderEvents.Error, ProviderEvents.Ready, ProviderEvents.Error]); }, { timeout: 3_000, interval: 20 });
  });

  it('rejects a second start on the same bad content as the first, with its reason', async () => {
    writeFileSync(file, '{"flags": [');
    const source = fileSource(file, { watch: false });
    const listener = { update: () => undefined, error: () => undefined, confirm: () => undefined };
    await expect(source.start(listener)).rejects.toThrow(/state\.json: not valid JSON/);
    await expect(source.start(listener)).rejects.toThrow(/state\.json: not valid JSON/);
    await source.stop();
  });

  it('fails initialization naming the file when it is missing, and becomes ready when it appears', async () => {
    const { provider, events } = watched();
    await expect(provider.initialize()).rejects.toThrow(/no usable state from file .*state\.json: .*cannot read it \(no such file\)/);
    writeFileSync(file, stateWithColor('#555'));
    await vi.waitFor(async () => { expect(await color(provider)).toBe('#555'); }, { timeout: 3_000, interval: 20 });
    expect(events.map((e) => e[0])).toEqual([ProviderEvents.Ready, ProviderEvents.ConfigurationChanged]);
  });

  it('does not report unchanged content', async () => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider, events } = watched();
    await provider.initialize();
    writeFileSync(file, stateWithColor('#000'));
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toEqual([]);
  });

  it('stops watching on close', async () => {
    writeFileSync(file, stateWithColor('#000'));
    const { provider, events } = watched();
    await provider.initialize();
    await provider.onClose();
    writeFileSync(file, stateWithColor('#666'));
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toEqual([]);
    expect(await color(provider)).toBe('#000');
  });
});
