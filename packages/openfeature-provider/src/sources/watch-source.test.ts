/**
 * `watchSource` against a scripted server (not `allot serve`, whose deltas always apply): a
 * delta is applied onto the state applied here; a delta that breaks the state is rejected and
 * the last good state stays; a delta from another state than the one applied makes the source
 * reconnect with its `Last-Event-ID`, and it applies what the server sends then; a delta whose
 * base a poll replaced while it loaded is not applied.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { StateEntries } from '../loading/state-entries.js';
import { AllotProvider } from '../provider.js';
import { SECRET, testState } from '../testing/states.js';
import type { StateSource } from '../types.js';
import type { AppliedState } from './watch-source.js';
import { watchSource } from './watch-source.js';

let server: Server;
let url: string;
/** Each stream's `Last-Event-ID`, and the open streams. */
let resumes: (string | undefined)[];
let streams: ServerResponse[];
/** What a new stream is sent first, by its `Last-Event-ID`. */
let onConnect: (lastId: string | undefined) => string;
const providers: AllotProvider[] = [];
/** What `GET /v1/state` answers (null: a 500). */
let polled: { revision: string; json: unknown };
/** Each stream request's `Allot-Whole-State` header. */
let wholeStateHeaders: (string | undefined)[];
/** `GET /v1/state` requests answered. */
let stateRequests: number;

const banner = (color: string): Record<string, unknown> => {
  const flag = structuredClone((testState().flags as Record<string, Record<string, unknown>>)['flags/banner']!);
  (flag.variants as { value: Record<string, unknown> }[])[0]!.value.color = color;
  return flag;
};
const deltaEvent = (id: string, base: string, set: Record<string, unknown>): string => `event: delta\nid: ${id}\ndata: ${JSON.stringify({ base, set })}\n\n`;

beforeEach(async () => {
  resumes = [];
  streams = [];
  onConnect = () => '';
  polled = { revision: '1', json: testState() };
  wholeStateHeaders = [];
  stateRequests = 0;
  server = createServer((req, res) => {
    if (req.url === '/v1/state') {
      stateRequests++;
      if (polled.json === null) res.writeHead(500).end();
      else res.writeHead(200, { 'content-type': 'application/json', 'allot-revision': polled.revision }).end(JSON.stringify(polled.json));
      return;
    }
    const lastId = req.headers['last-event-id'] as string | undefined;
    resumes.push(lastId);
    wholeStateHeaders.push(req.headers['allot-whole-state'] as string | undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(onConnect(lastId));
    streams.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(providers.splice(0).map((p) => p.onClose()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 5_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function watching(
  offThread: boolean,
): Promise<{ provider: AllotProvider; source: StateSource; changes: string[][]; errors: string[]; applied: AppliedState[]; infos: string[] }> {
  const applied: AppliedState[] = [];
  const infos: string[] = [];
  const source = watchSource([url], { reconnectDelayMs: 10, maxReconnectDelayMs: 50, pollIntervalMs: 60_000, onApply: (a) => applied.push(a), offThread });
  const provider = new AllotProvider({
    source,
    clientSecret: SECRET,
    logger: { error: () => undefined, warn: () => undefined, info: (m: string) => infos.push(m), debug: () => undefined },
  });
  providers.push(provider);
  const changes: string[][] = [];
  const errors: string[] = [];
  provider.events.addHandler(ProviderEvents.ConfigurationChanged, (e) => changes.push([...((e?.flagsChanged ?? []) as string[])]));
  provider.events.addHandler(ProviderEvents.Error, (e) => errors.push(e?.message ?? ''));
  await provider.initialize();
  await until(() => streams.length === 1, 'the stream');
  return { provider, source, changes, errors, applied, infos };
}

const color = async (provider: AllotProvider): Promise<string> => (await provider.resolveStringEvaluation('banner.color', '', { targetingKey: 'u' })).value;

// Off the thread, the state's JSON comes back from the loader's worker entry by entry (as for a
// large state); on it, the source holds it as parsed here.
describe.each([
  ['loaded on the worker', true],
  ['loaded here', false],
])('watchSource with deltas, the first state %s', (_, offThread) => {
  it('applies a delta onto the state applied, and names only the flags it changed', async () => {
    const w = await watching(offThread);
    streams[0]!.write(deltaEvent('2', '1', { flags: { 'flags/banner': banner('teal') } }));
    await until(() => w.changes.length === 1, 'flagsChanged');
    expect(w.changes).toEqual([['banner']]);
    expect(await color(w.provider)).toBe('teal');
    expect(w.applied.at(-1)).toMatchObject({ id: '2', delta: true, via: 'stream' });
  });

  it('rejects a delta that breaks the state, keeps the last good one, and resumes from it', async () => {
    const w = await watching(offThread);
    streams[0]!.write(deltaEvent('2', '1', { flags: { 'flags/banner': { name: 'flags/banner', rules: 3 } } }));
    await until(() => w.errors.length === 1, 'the error');
    expect(await color(w.provider)).not.toBe('');
    // The next delta builds on the rejected state: the source reconnects from revision 1.
    onConnect = (lastId) => (lastId === '1' ? deltaEvent('3', '1', { flags: { 'flags/banner': banner('olive') } }) : '');
    streams[0]!.write(deltaEvent('3', '2', { flags: { 'flags/other': banner('x') } }));
    await until(() => w.changes.length === 1, 'flagsChanged after the resume');
    // The first stream resumed from the state polled at start, the second from the last good one.
    expect(resumes).toEqual(['1', '1']);
    expect(await color(w.provider)).toBe('olive');
    expect(w.applied.map((a) => a.id)).toEqual(['1', '3']);
    expect(w.infos.filter((m) => m.includes('a delta from 2, but 1 is applied here; reconnecting'))).toHaveLength(1);
  });

  it('a rejected delta leaves nothing of itself in the state the next one applies to', async () => {
    const w = await watching(offThread);
    const ghost = { ...banner('x'), name: 'flags/ghost' };
    streams[0]!.write(deltaEvent('2', '1', { flags: { 'flags/ghost': ghost, 'flags/banner': { name: 'flags/banner', rules: 3 } } }));
    await until(() => w.errors.length === 1, 'the error');
    onConnect = (lastId) => (lastId === '1' ? deltaEvent('3', '1', { flags: { 'flags/banner': banner('olive') } }) : '');
    streams[0]!.write(deltaEvent('3', '2', {}));
    await until(() => w.changes.length === 1, 'flagsChanged after the resume');
    // Replacing the segments (with the same ones) loads the whole state: a flag left over from
    // the rejected delta would show up in it.
    const replace = { segments: testState().segments };
    streams[1]!.write(`event: delta\nid: 4\ndata: ${JSON.stringify({ base: '3', replace })}\n\n`);
    await until(() => w.applied.length === 3, 'revision 4');
    expect(w.changes).toEqual([['banner']]);
    expect(await w.provider.resolveBooleanEvaluation('ghost', false, { targetingKey: 'u' })).toMatchObject({ errorCode: 'FLAG_NOT_FOUND' });
  });
});

describe('watchSource, a poll while a delta loads', () => {
  it('a delta whose base a poll replaced while it loaded is not applied; the source resumes from the polled state', async () => {
    const w = await watching(false);
    // The delta (1 → 3) waits in the middle of loading while a poll applies revision 2.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ready: (this: StateEntries) => Promise<void> = Reflect.get(StateEntries.prototype, 'ready');
    let loading = false;
    vi.spyOn(StateEntries.prototype, 'ready').mockImplementation(async function (this: StateEntries) {
      await ready.call(this);
      loading = true;
      await gate;
    });
    streams[0]!.write(deltaEvent('3', '1', { flags: { 'flags/checkout': (testState().flags as Record<string, unknown>)['flags/checkout'] } }));
    await until(() => loading, 'the delta to load');
    const red = testState();
    (red.flags as Record<string, unknown>)['flags/banner'] = banner('red');
    polled = { revision: '2', json: red };
    await (w.source as unknown as { pollAll(): Promise<unknown> }).pollAll();
    release();
    await until(() => resumes.length === 2, 'the reconnect');
    expect(w.applied.map((a) => a.id)).toEqual(['1', '2']);
    expect(await color(w.provider)).toBe('red');
    expect(resumes).toEqual(['1', '2']);
    expect(w.infos.some((m) => m.includes('2 was applied while the delta from 1 loaded; reconnecting'))).toBe(true);
  });
});

describe('watchSource, whole states announced (`event: fetch`)', () => {
  const withBanner = (color: string): unknown => {
    const state = testState();
    (state.flags as Record<string, unknown>)['flags/banner'] = banner(color);
    return state;
  };

  it('asks for announcements, fetches the state announced, applies it under the id it was served with, and skips the deltas up to it', async () => {
    const w = await watching(true);
    expect(wholeStateHeaders).toEqual(['fetch']);
    // The server moved on to 6 between announcing 5 and answering the request.
    polled = { revision: '6', json: withBanner('teal') };
    streams[0]!.write('event: fetch\nid: 5\ndata: {"whole":"reset"}\n\n');
    await until(() => w.applied.length === 2, 'the announced state');
    expect(w.applied[1]).toMatchObject({ id: '6', revision: 6, via: 'stream', reset: true, delta: false });
    expect(await color(w.provider)).toBe('teal');
    expect(w.infos.some((m) => m.includes('no longer had the last revision applied here (1); applied its whole state, 6'))).toBe(true);
    // The delta to 6 is not new here; the one after it applies onto 6.
    streams[0]!.write(deltaEvent('6', '5', { flags: { 'flags/banner': banner('red') } }));
    streams[0]!.write(deltaEvent('7', '6', { flags: { 'flags/banner': banner('olive') } }));
    await until(() => w.applied.length === 3, 'revision 7');
    expect(w.applied.map((a) => a.id)).toEqual(['1', '6', '7']);
    expect(await color(w.provider)).toBe('olive');
    expect(resumes).toEqual(['1']);
  });

  it('a large whole state after a delta answers as it says: it takes from the delta-made state only what did not change', async () => {
    // Over 64 KiB, so that each whole state is loaded on the worker and assembled taking from the last.
    const large = (banner: string): unknown => {
      const state = withBanner(banner) as Record<string, Record<string, unknown> | undefined>;
      const segments = (state.segments ??= {});
      const bitsets = (state.bitsets ??= {});
      for (let i = 0; i < 600; i++) {
        segments[`segments/pad${i}`] = { targeting: { criteria: { c: { attribute: { attributeName: 'country', eqRule: { value: { stringValue: `C${i}` } } } } }, expression: { ref: 'c' } } };
        bitsets[`segments/pad${i}`] = [i, i + 1, i + 2];
      }
      return state;
    };
    expect(JSON.stringify(large('x')).length).toBeGreaterThan(64 * 1024);
    polled = { revision: '1', json: large('olive') };
    const w = await watching(true);
    expect(await color(w.provider)).toBe('olive');
    streams[0]!.write(deltaEvent('2', '1', { flags: { 'flags/banner': banner('teal') }, bitsets: { 'segments/pad7': [9, 10] } }));
    await until(() => w.applied.length === 2, 'the delta');
    expect(await color(w.provider)).toBe('teal');
    for (const [revision, banner] of [['3', 'navy'], ['4', 'teal'], ['5', 'teal']] as const) {
      polled = { revision, json: large(banner) };
      streams[0]!.write(`event: fetch\nid: ${revision}\ndata: {"whole":"state"}\n\n`);
      await until(() => w.applied.length === Number(revision), `revision ${revision}`);
      expect(await color(w.provider)).toBe(banner);
    }
    expect(w.errors).toEqual([]);
  });

  it('does not fetch a state announced that it has (an instance behind it announces its older states)', async () => {
    const w = await watching(true);
    const before = stateRequests;
    streams[0]!.write('event: fetch\nid: 1\ndata: {"whole":"state"}\n\n');
    streams[0]!.write(deltaEvent('2', '1', { flags: { 'flags/banner': banner('olive') } }));
    await until(() => w.applied.length === 2, 'the delta after it');
    expect(stateRequests).toBe(before);
    expect(w.applied.map((a) => a.id)).toEqual(['1', '2']);
  });

  it('a state announced that cannot be fetched: says so, and reconnects from the state applied', async () => {
    const w = await watching(true);
    polled = { revision: '2', json: null };
    onConnect = (lastId) => (lastId === '1' ? deltaEvent('2', '1', { flags: { 'flags/banner': banner('olive') } }) : '');
    streams[0]!.write('event: fetch\nid: 2\ndata: {"whole":"state"}\n\n');
    await until(() => w.applied.length === 2, 'the delta after the reconnect');
    expect(resumes).toEqual(['1', '1']);
    expect(w.infos.some((m) => m.includes('the whole state the stream announced could not be fetched') && m.includes('answered 500'))).toBe(true);
    expect(await color(w.provider)).toBe('olive');
  });

  it('a state announced that is invalid is reported, and the last good one stays', async () => {
    const w = await watching(true);
    polled = { revision: '2', json: { account: { name: 'accounts/a' }, flags: 3 } };
    streams[0]!.write('event: fetch\nid: 2\ndata: {"whole":"state"}\n\n');
    await until(() => w.errors.length === 1, 'the error');
    expect(w.errors[0]).toContain('invalid resolver state');
    expect(await color(w.provider)).not.toBe('');
    expect(w.applied.map((a) => a.id)).toEqual(['1']);
  });
});
