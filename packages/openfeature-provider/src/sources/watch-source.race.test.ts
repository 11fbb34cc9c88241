/**
 * A poll that applies a state while a delta loads: the delta was made from the state before,
 * so it is not applied onto the poll's state (a mix of two revisions); the source reconnects
 * from the state it has, as for any delta from another state.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, expect, it, vi } from 'vitest';

import { StateEntries } from '../loading/state-entries.js';
import { AllotProvider } from '../provider.js';
import { SECRET, testState } from '../testing/states.js';
import { watchSource, type AppliedState } from './watch-source.js';

let server: Server;
afterEach(async () => {
  vi.restoreAllMocks();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 5_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('a delta whose base was replaced by a poll while it loaded is not applied; the source resumes from the polled state', async () => {
  const a = testState();
  const b = structuredClone(a) as { flags: Record<string, { variants: { value: Record<string, unknown> }[] }> };
  b.flags['flags/banner']!.variants[0]!.value.color = 'red';
  let current: { revision: string; json: unknown } = { revision: '1', json: a };
  const streams: ServerResponse[] = [];
  const resumes: (string | undefined)[] = [];
  server = createServer((req, res) => {
    if (req.url === '/v1/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'allot-revision': current.revision }).end(JSON.stringify(current.json));
      return;
    }
    resumes.push(req.headers['last-event-id'] as string | undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': up\n\n');
    streams.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const applied: AppliedState[] = [];
  const notices: string[] = [];
  const source = watchSource([url], { reconnectDelayMs: 10, pollIntervalMs: 60_000, onApply: (x) => applied.push(x), offThread: false });
  const provider = new AllotProvider({
    source,
    clientSecret: SECRET,
    logger: { error: () => undefined, warn: () => undefined, info: (m: string) => notices.push(m), debug: () => undefined },
  });
  await provider.initialize();
  await until(() => streams.length === 1, 'the stream');
  const color = async (): Promise<string> => (await provider.resolveStringEvaluation('banner.color', '', { targetingKey: 'u' })).value;

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
  const delta = { base: '1', set: { flags: { 'flags/checkout': (a.flags as Record<string, unknown>)['flags/checkout'] } } };
  streams[0]!.write(`event: delta\nid: 3\ndata: ${JSON.stringify(delta)}\n\n`);
  await until(() => loading, 'the delta to load');
  current = { revision: '2', json: b };
  await (source as unknown as { pollAll(): Promise<unknown> }).pollAll();
  release();
  await until(() => resumes.length === 2, 'the reconnect');
  expect(applied.map((x) => x.id)).toEqual(['1', '2']);
  expect(await color()).toBe('red');
  expect(resumes).toEqual(['1', '2']);
  expect(notices.some((m) => m.includes('2 was applied while the delta from 1 loaded; reconnecting'))).toBe(true);
  await provider.onClose();
});
