import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { ProviderEvents } from '@openfeature/server-sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AllotProvider } from '../provider.js';
import { fileSource } from '../sources/file-source.js';
import { httpSource } from '../sources/http-source.js';
import { watchSource } from '../sources/watch-source.js';
import { resolveFlags, type ResolverState } from '@allot/core';
import type { StateSource } from '../types.js';
import { compileState, parseState } from '../sources/parse-state.js';
import { SourceError } from '../sources/source-error.js';
import { applyDelta } from '../sources/state-delta.js';
import type { StateEntries } from './state-entries.js';
import { stateLoader } from './state-loader.js';

const SECRET = 'secret';

/** A state of `segments` segments with allocations; flags `a` and `b` both serve `{ revision }`. */
/** A state of `segments` segments and flags `a` and `b` (`{ revision }`); `bitsets: false` leaves the segments without (quick to make, slow to assemble). */
function bigState(segments: number, revision: number, bitsets = true): string {
  const seg: Record<string, object> = {};
  const bits: Record<string, string> = {};
  for (let i = 0; i < segments; i++) {
    seg[`segments/s${i}`] = {
      targeting: {
        criteria: {
          c: {
            attribute: {
              attributeName: 'country',
              eqRule: { value: { stringValue: `C${i % 7}` } },
            },
          },
        },
        expression: { ref: 'c' },
      },
    };
    if (!bitsets) continue;
    const bytes = new Uint8Array(125_000);
    for (let k = 0; k < 500; k++) bytes[(i * 7919 + k * 104_729) % 125_000] = 1 << (k & 7);
    bits[`segments/s${i}`] = gzipSync(bytes).toString('base64');
  }
  seg['segments/all'] = {};
  const flag = (name: string): object => ({
    name,
    state: 'ACTIVE',
    clients: ['clients/app'],
    variants: [{ name: `${name}/variants/v`, value: { revision } }],
    rules: [
      {
        name: `${name}/rules/r`,
        segment: 'segments/all',
        enabled: true,
        targetingKeySelector: '',
        assignmentSpec: {
          bucketCount: 1,
          assignments: [
            {
              assignmentId: 'x',
              variant: { variant: `${name}/variants/v` },
              bucketRanges: [{ lower: 0, upper: 1 }],
            },
          ],
        },
      },
    ],
  });
  return JSON.stringify({
    account: { name: 'accounts/test' },
    clients: {
      [SECRET]: {
        client: { name: 'clients/app' },
        clientCredential: { name: 'clients/app/credentials/c' },
      },
    },
    segments: seg,
    bitsets: bits,
    flags: { 'flags/a': flag('flags/a'), 'flags/b': flag('flags/b') },
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'allot-loader-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A server answering `GET /v1/state` with `body()` (ETag = its revision) and holding `GET /v1/state:watch` streams open. */
async function stateServer(body: () => { revision: number; text: string }): Promise<{ url: string; streams: ServerResponse[]; close: () => Promise<void> }> {
  const streams: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/v1/state:watch') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': up to date\n\n');
      streams.push(res);
      return;
    }
    const { revision, text } = body();
    if (req.headers['if-none-match'] === `"${revision}"`) res.writeHead(304).end();
    else res.writeHead(200, { 'content-type': 'application/json', etag: `"${revision}"` }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    streams,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Reloads `source` from revision 1 to 2 (`reload` causes it) while a 1 ms timer evaluates:
 * every answer is whole (flags a and b agree), revision 1 until the swap and 2 after it,
 * and the timer never waits near what the same load blocks this thread for.
 */
async function reloadWhileEvaluating(source: StateSource, next: string, reload: () => void | Promise<void>): Promise<void> {
  const started = performance.now();
  compileState(JSON.parse(next), 'here');
  const blockingMs = performance.now() - started;
  const provider = new AllotProvider({ source, clientSecret: SECRET, stickyStore: false });
  await provider.initialize();
  const seen: number[] = [];
  const problems: string[] = [];
  let last = performance.now();
  let longestGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    const bundle = provider.resolveAllSync({ targetingKey: 'u' });
    const a = bundle.details('a.revision', 'number', -1);
    const b = bundle.details('b.revision', 'number', -1);
    if (a.errorCode !== undefined || b.errorCode !== undefined)
      problems.push(`${a.errorCode ?? ''} ${b.errorCode ?? ''}`);
    if (a.value !== b.value) problems.push(`mixed: a ${a.value}, b ${b.value}`);
    seen.push(a.value);
  }, 1);
  try {
    const swapped = new Promise<void>((resolve) => {
      provider.events.addHandler(ProviderEvents.ConfigurationChanged, () => {
        resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    longestGapMs = 0;
    await reload();
    await swapped;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(problems).toEqual([]);
    // Revision 1 until the swap, revision 2 after it, never back.
    expect(seen.join('')).toMatch(/^1+2+$/);
    // The timer kept running while the state loaded: no wait came near the load's own length.
    expect(longestGapMs).toBeLessThan(blockingMs / 2);
  } finally {
    clearInterval(timer);
    await provider.onClose();
  }
}

describe('loading off the main thread', () => {
  it('keeps answering from the previous state while a reload runs, swaps the new one in whole, and lets the event loop run meanwhile', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, bigState(800, 1));
    const next = bigState(800, 2);
    writeFileSync(join(dir, 'next.tmp'), next);
    await reloadWhileEvaluating(fileSource(file, { debounceMs: 5 }), next, () => {
      renameSync(join(dir, 'next.tmp'), file);
    });
  });

  it('does the same for a state polled over HTTP (the worker fetches it)', async () => {
    let current = { revision: 1, text: bigState(800, 1) };
    const next = bigState(800, 2);
    const server = await stateServer(() => current);
    try {
      await reloadWhileEvaluating(httpSource(`${server.url}/v1/state`, { pollIntervalMs: 20 }), next, () => {
        current = { revision: 2, text: next };
      });
    } finally {
      await server.close();
    }
  });

  it('does the same for a whole state pushed over a watch stream (the event goes to the worker as bytes)', async () => {
    const server = await stateServer(() => ({ revision: 1, text: bigState(800, 1) }));
    // Pretty-printed, as allot serve sends it: one `data:` line per line of JSON.
    const next = JSON.stringify(JSON.parse(bigState(800, 2)), null, 2);
    const event = Buffer.from(`event: state\nid: 2\ndata: ${next.replaceAll('\n', '\ndata: ')}\n\n`);
    try {
      await reloadWhileEvaluating(watchSource([server.url], { pollIntervalMs: 60_000 }), next, async () => {
        while (server.streams.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        // In pieces, as a network delivers it.
        const [stream] = server.streams;
        for (let at = 0; at < event.length; at += 16_384) stream!.write(event.subarray(at, at + 16_384));
      });
    } finally {
      await server.close();
    }
  });

  it('never answers from a bitset an earlier load decoded once the state changed it (the worker keeps its last load\'s bitsets by content)', async () => {
    /** Flag `a` on segment `s`, whose bitset holds the even buckets or the odd ones: texts of the same length that differ. */
    const state = (even: boolean): string => {
      const bits = gzipSync(new Uint8Array(125_000).fill(even ? 0x55 : 0xaa)).toString('base64');
      return JSON.stringify({
        account: { name: 'accounts/test' },
        clients: { [SECRET]: { client: { name: 'clients/app' }, clientCredential: { name: 'clients/app/credentials/c' } } },
        segments: { 'segments/s': {} },
        bitsets: { 'segments/s': bits },
        flags: {
          'flags/a': {
            name: 'flags/a',
            state: 'ACTIVE',
            clients: ['clients/app'],
            variants: [{ name: 'flags/a/variants/on', value: { on: true } }],
            rules: [
              {
                name: 'flags/a/rules/r',
                segment: 'segments/s',
                enabled: true,
                targetingKeySelector: '',
                assignmentSpec: {
                  bucketCount: 1,
                  assignments: [{ assignmentId: 'x', variant: { variant: 'flags/a/variants/on' }, bucketRanges: [{ lower: 0, upper: 1 }] }],
                },
              },
            ],
          },
        },
      });
    };
    expect(state(true).length).toBe(state(false).length);
    const file = join(dir, 'state.json');
    writeFileSync(file, state(true));
    // A provider holds the worker (and its bitsets) from one reload to the next.
    const provider = new AllotProvider({ source: fileSource(file, { debounceMs: 5 }), clientSecret: SECRET, stickyStore: false });
    await provider.initialize();
    try {
      const matched = [provider.resolveAllSync({ targetingKey: 'u' }).details('a.on', 'boolean', false).value];
      for (const even of [false, true, false]) {
        // A stale bitset would leave the flags' fingerprints as they were: no change event.
        const swapped = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            reject(new Error(`no configuration change after writing the ${even ? 'even' : 'odd'} buckets' bitset: was a stale bitset loaded?`));
          }, 5_000);
          const handler = (): void => {
            clearTimeout(timer);
            provider.events.removeHandler(ProviderEvents.ConfigurationChanged, handler);
            resolve();
          };
          provider.events.addHandler(ProviderEvents.ConfigurationChanged, handler);
        });
        writeFileSync(join(dir, 'next.tmp'), state(even));
        renameSync(join(dir, 'next.tmp'), file);
        await swapped;
        matched.push(provider.resolveAllSync({ targetingKey: 'u' }).details('a.on', 'boolean', false).value);
      }
      // Unit u's bucket is even or odd: it is in one of the two bitsets.
      expect(matched).toEqual([matched[0], !matched[0], matched[0], !matched[0]]);
    } finally {
      await provider.onClose();
    }
  });

  it('sends back only the bitsets this thread does not hold: a reload shares the unchanged ones, and a set left alone in an old buffer is sent again', async () => {
    /** Segments s0..s9, segment i's buckets from `salts[i]`, and flag `a` on each (a rule per segment). */
    const state = (salts: readonly number[]): string => {
      const segments: Record<string, object> = {};
      const bitsets: Record<string, string> = {};
      for (const [i, salt] of salts.entries()) {
        segments[`segments/s${i}`] = {};
        const bytes = new Uint8Array(125_000);
        for (let k = 0; k < 300; k++) bytes[(salt * 7_919 + k * 104_729) % 125_000] = 1 << (k & 7);
        bitsets[`segments/s${i}`] = gzipSync(bytes).toString('base64');
      }
      return JSON.stringify({
        account: { name: 'accounts/test' },
        clients: { [SECRET]: { client: { name: 'clients/app' }, clientCredential: { name: 'clients/app/credentials/c' } } },
        segments,
        bitsets,
        flags: {
          'flags/a': {
            name: 'flags/a',
            state: 'ACTIVE',
            clients: ['clients/app'],
            variants: salts.map((_, i) => ({ name: `flags/a/variants/v${i}`, value: { segment: i } })),
            rules: salts.map((_, i) => ({
              name: `flags/a/rules/r${i}`,
              segment: `segments/s${i}`,
              enabled: true,
              targetingKeySelector: '',
              assignmentSpec: { bucketCount: 1, assignments: [{ assignmentId: 'x', variant: { variant: `flags/a/variants/v${i}` }, bucketRanges: [{ lower: 0, upper: 1 }] }] },
            })),
          },
        },
      });
    };
    const file = join(dir, 'state.json');
    // Every state loaded stays referenced: the loader offers a source's state only while it is alive.
    const loadedStates: ResolverState[] = [];
    const load = async (salts: readonly number[]) => {
      writeFileSync(file, state(salts));
      const { loaded } = await stateLoader.loadFile(file, 'file state.json', {}, null);
      const here = compileState(JSON.parse(state(salts)), 'here');
      // The same answers as the state loaded on this thread.
      expect(loaded!.state.summary()).toEqual(here.state.summary());
      for (const [name, segment] of here.state.segments) expect(loaded!.state.segments.get(name)!.bitset!.equals(segment.bitset!)).toBe(true);
      for (let unit = 0; unit < 200; unit++) {
        const request = { evaluationContext: { targetingKey: `u${unit}` }, clientSecret: SECRET };
        expect(resolveFlags(loaded!.state, request, null)).toEqual(resolveFlags(here.state, request, null));
      }
      loadedStates.push(loaded!.state);
      return loaded!.state;
    };
    const bitsets = (s: ResolverState) => [...s.segments.values()].map((segment) => segment.bitset!);
    const ten = Array.from({ length: 10 }, (_, i) => i);
    const first = bitsets(await load(ten));
    // Segment s3 changed: every other set is the one this thread held.
    const second = bitsets(await load(ten.map((i) => (i === 3 ? 100 : i))));
    expect(second.map((set, i) => set === first[i])).toEqual(ten.map((i) => i !== 3));
    // And every other compiled segment is the last state's; flag a, with a rule on s3, is compiled again.
    const [was, now] = loadedStates.slice(-2) as [ResolverState, ResolverState];
    expect(ten.map((i) => now.segments.get(`segments/s${i}`) === was.segments.get(`segments/s${i}`))).toEqual(ten.map((i) => i !== 3));
    expect(now.flags.get('flags/a')).not.toBe(was.flags.get('flags/a'));
    // All but s0 changed: s0's set is shared once more, alone in its buffer now.
    const third = bitsets(await load(ten.map((i) => (i === 0 ? 0 : 200 + i))));
    expect(third[0]).toBe(first[0]);
    expect(third.slice(1).every((set, i) => set !== second[i + 1])).toBe(true);
    // Not again: s0 is sent anew, so the old buffer (nine sets nobody uses) can be freed.
    const fourth = bitsets(await load(ten.map((i) => (i === 0 ? 0 : 200 + i))));
    expect(fourth[0]).not.toBe(first[0]);
    expect(fourth[0]!.buffer).not.toBe(first[0]!.buffer);
    expect(fourth.slice(1).map((set, i) => set === third[i + 1])).toEqual(ten.slice(1).map(() => true));
    // Nothing changed but the set sent anew: the segments are taken, s0 is compiled again with it.
    const [before, after] = loadedStates.slice(-2) as [ResolverState, ResolverState];
    expect(ten.map((i) => after.segments.get(`segments/s${i}`) === before.segments.get(`segments/s${i}`))).toEqual(ten.map((i) => i !== 0));
  });

  it('sends back only the entries of a whole state this thread does not hold: the unchanged ones stay in the buffers they came in', async () => {
    const load = (revision: number, base: StateEntries | null) =>
      stateLoader.loadBytesForDeltas([Buffer.from(bigState(300, revision))], false, `revision ${revision}`, { offThread: true }, 'the source', base);
    const first = await load(1, null);
    const [firstBuffer] = first.entries.offer()!.buffers;
    // Revision 2 changes only the flags' values: its segments and bitsets are the bytes held here.
    const second = await load(2, first.entries);
    const json = JSON.parse(bigState(300, 2)) as { flags: Record<string, unknown> };
    const { buffers } = second.entries.offer()!;
    const sent = buffers.filter((b) => b !== firstBuffer);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.byteLength).toBe(Object.values(json.flags).reduce((n: number, flag) => n + Buffer.byteLength(JSON.stringify(flag)), 0));
    expect(buffers).toContain(firstBuffer);
    expect(JSON.stringify(second.entries.json())).toBe(JSON.stringify(json));
    const here = compileState(json, 'here');
    for (let unit = 0; unit < 100; unit++) {
      const request = { evaluationContext: { targetingKey: `u${unit}`, country: `C${unit % 7}` }, clientSecret: SECRET };
      expect(resolveFlags(second.loaded.state, request, null)).toEqual(resolveFlags(here.state, request, null));
    }
    // A delta then applies to it as to the plain JSON.
    const delta = { base: '2', remove: { segments: ['segments/s1'], bitsets: ['segments/s1'] } };
    expect(JSON.stringify(second.entries.apply(delta, 'test').json())).toBe(JSON.stringify(applyDelta(json, delta, 'test').json));
  });

  it('rejects a bad state with the same error, issues and paths as loading on the calling thread', async () => {
    const bad = JSON.stringify({
      account: { name: 'accounts/a' },
      flags: { 'flags/x': { rules: 3 } },
      segments: {},
      bitsets: { s: 'not base64!' },
    });
    const failure = (options: { offThread: boolean }): Promise<SourceError> =>
      parseState(bad, 'file bad.json', options).then(
        () => {
          throw new Error('loaded a bad state');
        },
        (e: unknown) => e as SourceError,
      );
    const here = await failure({ offThread: false });
    const there = await failure({ offThread: true });
    expect(there).toBeInstanceOf(SourceError);
    expect(here).toBeInstanceOf(SourceError);
    expect({ code: there.code, message: there.message, issues: there.issues }).toEqual({
      code: here.code,
      message: here.message,
      issues: here.issues,
    });
    expect(there.message).toMatch(
      /file bad\.json: invalid resolver state \(\d+ problems\); the last good state stays in use:\n {2}bitsets\.s: expected base64 bytes\n {2}flags\["flags\/x"\]\.rules: /,
    );
    const notJson = await parseState('{nope', 'file bad.json', { offThread: true }).catch(
      (e: unknown) => e as Error,
    );
    expect((notJson as Error).message).toMatch(/^file bad\.json: not valid JSON: /);
  });

  it('replaces a worker that crashed, and fails the load in flight with LOADER_FAILED', async () => {
    stateLoader.acquire();
    try {
      await parseState(bigState(5, 1), 'first', { offThread: true });
      expect(stateLoader.running).toBe(true);
      const inFlight = parseState(bigState(300, 1), 'second', { offThread: true });
      await stateLoader.crashForTesting();
      const error = (await inFlight.catch((e: unknown) => e)) as SourceError;
      expect(error).toBeInstanceOf(SourceError);
      expect(error.code).toBe('LOADER_FAILED');
      expect(error.message).toMatch(
        /^second: the worker thread loading states stopped \(.*\) before it answered; the last good state stays in use/,
      );
      const again = await parseState(bigState(5, 3), 'third', { offThread: true });
      expect(again.state.flags.size).toBe(2);
      expect(stateLoader.running).toBe(true);
    } finally {
      await stateLoader.release();
    }
    expect(stateLoader.running).toBe(false);
  });

  it('applies a change made during the first load after it: the older state never replaces the newer', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, bigState(20_000, 1, false)); // a long assembly on this thread
    const provider = new AllotProvider({
      source: fileSource(file, { debounceMs: 5, pollIntervalMs: 20 }),
      clientSecret: SECRET,
      stickyStore: false,
    });
    const initializing = provider.initialize();
    // Once the worker has answered the first load, and this thread is assembling it in slices,
    // a small state (fast to load) replaces the file.
    const next = bigState(1, 2);
    while (stateLoader.inFlightForTesting === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    while (stateLoader.inFlightForTesting > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    writeFileSync(join(dir, 'next.tmp'), next);
    renameSync(join(dir, 'next.tmp'), file);
    await initializing;
    const revision = (): number => provider.resolveAllSync({ targetingKey: 'u' }).getNumberValue('a.revision', -1);
    await vi.waitFor(() => { expect(revision()).toBe(2); }, { timeout: 10_000, interval: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(revision()).toBe(2);
    await provider.onClose();
  });

  it('reports a crash during a reload as a state error and keeps the last good state', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, bigState(5, 1));
    const provider = new AllotProvider({
      source: fileSource(file, { debounceMs: 5 }),
      clientSecret: SECRET,
      stickyStore: false,
    });
    await provider.initialize();
    const errors: string[] = [];
    provider.allotEvents.on('state-error', (e) => errors.push(e.message));
    const failed = new Promise<void>((resolve) => {
      provider.events.addHandler(ProviderEvents.Error, () => {
        resolve();
      });
    });
    writeFileSync(join(dir, 'next.tmp'), bigState(400, 2));
    renameSync(join(dir, 'next.tmp'), file);
    // Crash the worker as soon as the reload has reached it (400 segments: it is still parsing).
    while (stateLoader.inFlightForTesting === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await stateLoader.crashForTesting();
    await failed;
    expect(errors[0]).toMatch(/worker thread loading states stopped/);
    expect(provider.resolveAllSync({ targetingKey: 'u' }).getNumberValue('a.revision', -1)).toBe(1);
    await provider.onClose();
    expect(stateLoader.running).toBe(false);
  });
});

describe('fetching on the worker', () => {
  /** A server whose `GET /v1/state` sends its headers and part of a body, then holds; `closed` once the client hung up. */
  async function stallingServer(): Promise<{ url: string; requested: () => Promise<void>; closed: Promise<void>; close: () => Promise<void> }> {
    let hungUp!: () => void;
    const closed = new Promise<void>((resolve) => (hungUp = resolve));
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"account": ');
      req.socket.on('close', hungUp);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/state`,
      requested: async () => {
        while (requests === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        // The headers and the first bytes on their way back.
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
      closed,
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('sends a first request from the worker: this thread never fetches it (offThread: false fetches here)', async () => {
    const server = await stateServer(() => ({ revision: 7, text: bigState(20, 1) }));
    vi.stubGlobal('fetch', () => Promise.reject(new Error('fetched on the application thread')));
    try {
      const request = { url: server.url + '/v1/state', headers: {}, timeoutMs: 5_000 };
      const signal = new AbortController().signal;
      const fetched = await stateLoader.fetchState(request, 'polled', {}, { signal, entries: true });
      expect(fetched?.response).toEqual({ etag: '"7"', revision: null });
      expect(fetched?.loaded.state.flags.size).toBe(2);
      expect(fetched?.entries).not.toBeNull();
      // A source's signal lives as long as the source: requests leave no listener on it.
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      const here = await stateLoader.fetchState(request, 'polled', { offThread: false }, { signal, entries: false }).catch((e: unknown) => e as SourceError);
      expect(here).toBeInstanceOf(SourceError);
      expect((here as SourceError).message).toMatch(/\/v1\/state: request failed: fetched on the application thread$/);
    } finally {
      await server.close();
    }
  });

  it('asks a poll here first: a 304, a revision not newer than the one applied, or a small state costs no worker; a large one is read by the worker', async () => {
    let current = { revision: 7, text: bigState(1, 1) };
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.headers['if-none-match'] ?? '');
      if (req.headers['if-none-match'] === `"${current.revision}"`) res.writeHead(304).end();
      else res.writeHead(200, { 'content-type': 'application/json', etag: `"${current.revision}"`, 'allot-revision': String(current.revision) }).end(current.text);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/state`;
    const start = vi.spyOn(stateLoader as unknown as { start: () => unknown }, 'start');
    const how = { signal: new AbortController().signal, entries: true };
    try {
      const poll = (headers: Record<string, string>, appliedRevision?: number) =>
        stateLoader.fetchState({ url, headers, timeoutMs: 5_000, ...(appliedRevision === undefined ? {} : { appliedRevision }) }, 'polled', {}, how);
      expect(await poll({ 'if-none-match': '"7"' })).toBeNull();
      expect(await poll({}, 7)).toBeNull();
      const small = await poll({ 'if-none-match': '"6"' });
      expect(small?.response).toEqual({ etag: '"7"', revision: 7 });
      expect(small?.entries).not.toBeNull();
      expect(start).not.toHaveBeenCalled();
      current = { revision: 8, text: bigState(300, 2) };
      const large = await poll({}, 7);
      expect(large?.response.revision).toBe(8);
      expect(large?.loaded.state.flags.size).toBe(2);
      expect(start).toHaveBeenCalled();
      // The large one was asked here (dropped after its headers), then by the worker.
      expect(requests).toHaveLength(5);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.each([
    ['on the worker', true],
    ['here', false],
  ])('gives a request up %s when its signal aborts (the source stops), and when it outlasts its timeout', async (_, offThread) => {
    const stalled = await stallingServer();
    try {
      const abort = new AbortController();
      const request = { url: stalled.url, headers: {}, timeoutMs: 60_000 };
      const pending = stateLoader.fetchState(request, 'polled', { offThread }, { signal: abort.signal, entries: false }).catch((e: unknown) => e as SourceError);
      await stalled.requested();
      abort.abort(new Error('cancelled: the source stopped'));
      const error = await pending;
      expect(error).toBeInstanceOf(SourceError);
      expect((error as SourceError).code).toBe('FETCH_FAILED');
      // Given up before the answer's headers reached the loader (a busy machine) or while reading its body.
      expect((error as SourceError).message).toMatch(/\/v1\/state: (request failed|reading the body failed): cancelled: the source stopped$/);
      await stalled.closed;
      const timedOut = await stateLoader
        .fetchState({ ...request, timeoutMs: 150 }, 'polled', { offThread }, { signal: new AbortController().signal, entries: false })
        .catch((e: unknown) => e as SourceError);
      expect((timedOut as SourceError).message).toMatch(/\/v1\/state: (request failed|reading the body failed): no whole answer within 150 ms \(timeoutMs\): raise it for a large state or a slow link$/);
    } finally {
      await stalled.close();
    }
  });
});

describe('the worker and the process', () => {
  const providerEntry = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

  /** Runs an ES module script with node; resolves with its exit code and output, or 'hung'. */
  function run(script: string): Promise<{ code: number | 'hung'; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => {
        child.kill();
        resolve({ code: 'hung', out });
      }, 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, out });
      });
    });
  }

  function script(file: string, close: boolean): string {
    return `
      import { AllotProvider, fileSource } from ${JSON.stringify(providerEntry)};
      const provider = new AllotProvider({ source: fileSource(${JSON.stringify(file)}), clientSecret: 'secret', stickyStore: false });
      await provider.initialize();
      console.log('value', JSON.stringify((await provider.resolveObjectEvaluation('a', {}, { targetingKey: 'u' })).value));
      ${close ? "await provider.onClose(); console.log('closed');" : "console.log('left open');"}
    `;
  }

  it('ends the worker on close: the process exits by itself', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, bigState(20, 7));
    const { code, out } = await run(script(file, true));
    expect(out).toContain('value {"revision":7}');
    expect(out).toContain('closed');
    expect(code).toBe(0);
  });

  it('never keeps the process alive while idle, even when the provider is not closed', async () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, bigState(20, 8));
    const { code, out } = await run(script(file, false));
    expect(out).toContain('value {"revision":8}');
    expect(code).toBe(0);
  });
});
