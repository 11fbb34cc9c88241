import { AllotProvider } from '@allot/openfeature-provider';
import type { StickyStoreStatus } from '@allot/openfeature-provider';
import { OpenFeature, ProviderEvents, ProviderStatus } from '@openfeature/server-sdk';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisStore } from './redis-store.js';
import { RedisServer, freePort, redisServerPath } from './testing/redis-server.js';
import { SECRET, STICKY, testState } from '../../openfeature-provider/src/testing/states.js';

if (redisServerPath === null) console.warn('[redis-store] skipping: redis-server is not installed (bash scripts/system-deps.sh installs it)');

const RULE = 'flags/sticky/rules/exp';
/** Paused intake admits a unit in the materialization it reads: a record of the paused rule's own puts it there. */
const PAUSED_RULE = 'flags/paused/rules/only-stored';
const key = (unit: string): { unit: string; materialization: string } => ({ unit, materialization: STICKY });
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function store(server: { url: string }, errors: Error[] = []): RedisStore {
  // The default command timeout (100 ms) stays above the provider's read timeout below (60 ms).
  const s = new RedisStore({ redis: server.url, onError: (e) => errors.push(e), errorIntervalMs: 0 });
  closers.push(() => s.close());
  return s;
}

/** `timeoutMs`: a read's deadline; short for the tests of stalls and outages, long where a read must answer on a busy machine. */
async function providerOver(stickyStore: RedisStore, timeoutMs = 60): Promise<{ provider: AllotProvider; statuses: StickyStoreStatus[] }> {
  const provider = new AllotProvider({
    source: testState(),
    clientSecret: SECRET,
    stickyStore,
    sticky: { timeoutMs, readyTimeoutMs: 300, failureThreshold: 3, cooldownMs: 50, retryDelayMs: 10, closeTimeoutMs: 500 },
  });
  closers.push(() => provider.onClose());
  const statuses: StickyStoreStatus[] = [];
  provider.allotEvents.on('sticky-store', (s) => statuses.push(s));
  await provider.initialize();
  return { provider, statuses };
}

async function connected(s: RedisStore): Promise<void> {
  await vi.waitFor(() => { expect(s.redis.status).toBe('ready'); }, { timeout: 5_000, interval: 10 });
}

describe.skipIf(redisServerPath === null)('RedisStore against redis-server', () => {
  let server: RedisServer;
  let admin: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.port, '127.0.0.1');
  });

  afterAll(async () => {
    admin.disconnect();
    await server.kill();
  });

  it('reads what it wrote, renews the TTL on read, and keeps the first write', async () => {
    const s = store(server);
    await connected(s);
    expect(await s.read([key('ttl-1')])).toEqual([null]);
    await s.write([{ ...key('ttl-1'), rule: RULE, variant: 'a' }]);
    await s.write([{ ...key('ttl-1'), rule: RULE, variant: 'b' }, { ...key('ttl-1'), rule: 'other', variant: 'c' }]);
    await admin.expire(s.keyOf(key('ttl-1')), 5);
    expect(await s.read([key('ttl-1'), key('nobody')])).toEqual([{ isUnitInMaterialization: true, ruleToVariant: { [RULE]: 'a', other: 'c' } }, null]);
    expect(await admin.ttl(s.keyOf(key('ttl-1')))).toBeGreaterThan(89 * 24 * 3600);
  });

  it('agrees on the first assignment when two servers expose a unit at once', async () => {
    const a = store(server);
    const b = store(server);
    await Promise.all([connected(a), connected(b)]);
    for (let i = 0; i < 20; i++) {
      await Promise.all([a.write([{ ...key(`race-${i}`), rule: RULE, variant: 'a' }]), b.write([{ ...key(`race-${i}`), rule: RULE, variant: 'b' }])]);
      const [fromA, fromB] = [await a.read([key(`race-${i}`)]), await b.read([key(`race-${i}`)])];
      expect(fromA).toEqual(fromB);
    }
  });

  it('reads corrupt entries as absent, reports them, and repairs them on the next write', async () => {
    const errors: Error[] = [];
    const s = store(server, errors);
    await connected(s);
    await admin.set(s.keyOf(key('corrupt-string')), 'garbage');
    await admin.hset(s.keyOf(key('corrupt-in')), 'in', 'banana', `r:${RULE}`, 'a');
    await admin.hset(s.keyOf(key('fine')), 'in', '1', `r:${RULE}`, 'b', 'future-field', 'x');
    expect(await s.read([key('corrupt-string'), key('corrupt-in'), key('fine')])).toEqual([
      null,
      null,
      { isUnitInMaterialization: true, ruleToVariant: { [RULE]: 'b' } },
    ]);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/corrupt \(a Redis string, not a hash\)/),
      expect.stringMatching(/corrupt \(field "in" is "banana"\)/),
    ]);
    await s.write([{ ...key('corrupt-string'), rule: RULE, variant: 'a' }, { ...key('corrupt-in'), rule: RULE, variant: 'b', replaces: 'a' }]);
    expect(await s.read([key('corrupt-string'), key('corrupt-in')])).toEqual([
      { isUnitInMaterialization: true, ruleToVariant: { [RULE]: 'a' } },
      { isUnitInMaterialization: true, ruleToVariant: { [RULE]: 'b' } },
    ]);
  });

  it('serves sticky variants through the provider, and replaces a variant removed from the flag', async () => {
    const s = store(server);
    await connected(s);
    await s.write([{ ...key('kept'), rule: RULE, variant: 'a' }, { ...key('stale'), rule: RULE, variant: 'removed' }]);
    const { provider } = await providerOver(s, 2_000);
    const kept = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'kept' });
    expect(kept).toMatchObject({ value: 'a', flagMetadata: { assignmentKind: 'sticky' } });
    const stale = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'stale' });
    expect(stale.flagMetadata).toMatchObject({ assignmentKind: 'split' });
    await vi.waitFor(async () => { expect((await s.read([key('stale')]))[0]?.ruleToVariant[RULE]).toBe(stale.value); }, { timeout: 3_000 });
    expect((await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'stale' })).flagMetadata).toMatchObject({ assignmentKind: 'sticky' });
  });

  it('counts a reply that arrived in time although the process was too busy to read it before the deadline', async () => {
    const s = new RedisStore({ redis: server.url, commandTimeoutMs: 5_000 });
    closers.push(() => s.close());
    await connected(s);
    await s.write([{ ...key('busy'), rule: RULE, variant: 'a' }]);
    const { provider } = await providerOver(s);
    await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'busy' }); // the script is loaded
    const pending = provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'busy' }); // the read is sent
    // Busy far past the 60 ms read deadline while Redis (another process) answers: when the
    // event loop turns, the expired timer and the reply are both there; the reply counts.
    const until = Date.now() + 300;
    while (Date.now() < until) { /* a burst of work */ }
    expect(await pending).toMatchObject({ value: 'a', flagMetadata: { assignmentKind: 'sticky' } });
  });

  it('falls back within the timeout while the server is stalled (SIGSTOP), and recovers', async () => {
    const s = store(server);
    await connected(s);
    await s.write([{ ...key('stalled'), rule: RULE, variant: 'a' }, { ...key('stalled'), rule: PAUSED_RULE, variant: 'in' }]);
    const { provider, statuses } = await providerOver(s);
    server.stop();
    try {
      const started = Date.now();
      const paused = await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'stalled' });
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(paused).toMatchObject({ value: false, reason: 'DEFAULT' });
      expect(paused.flagMetadata?.stickyStore).toMatch(/timeout|error/);
      await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'new-during-stall' });
    } finally {
      server.resume();
    }
    await vi.waitFor(async () => { expect((await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'stalled' })).value).toBe(true); }, { timeout: 5_000, interval: 20 });
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); }, { timeout: 5_000, interval: 20 });
    expect((await s.read([key('new-during-stall')]))[0]).not.toBeNull();
    expect(statuses[0]).toMatch(/timeout|error/);
    expect(statuses.at(-1)).toBe('ok');
  });

  it('falls back while clients are paused (CLIENT PAUSE), and recovers', async () => {
    const s = store(server);
    await connected(s);
    await s.write([{ ...key('client-paused'), rule: RULE, variant: 'a' }, { ...key('client-paused'), rule: PAUSED_RULE, variant: 'in' }]);
    const { provider } = await providerOver(s);
    await admin.client('PAUSE', 400, 'ALL');
    const during = await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'client-paused' });
    expect(during).toMatchObject({ value: false, reason: 'DEFAULT' });
    expect(during.flagMetadata?.stickyStore).toMatch(/timeout|error/); // whichever fires first: ioredis' or the provider's timeout
    await vi.waitFor(async () => { expect((await provider.resolveBooleanEvaluation('paused.v', false, { targetingKey: 'client-paused' })).value).toBe(true); }, { timeout: 5_000, interval: 20 });
  });
});

describe.skipIf(redisServerPath === null)('RedisStore through outages', () => {
  it('starts with the server refusing connections, then delivers queued writes once it is up', async () => {
    const port = await freePort();
    const s = store({ url: `redis://127.0.0.1:${port}` });
    const { provider } = await providerOver(s);
    const served = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'early' });
    expect(served.flagMetadata).toMatchObject({ stickyStore: 'not-ready', assignmentKind: 'split' });
    expect(provider.pendingStickyWrites).toBe(1);
    const server = await RedisServer.start(port);
    closers.push(() => server.kill());
    await connected(s);
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); }, { timeout: 5_000, interval: 20 });
    expect((await s.read([key('early')]))[0]?.ruleToVariant[RULE]).toBe(served.value);
  });

  it('is READY on hash assignments when Redis is not up within readyTimeoutMs, and serves stored ones once it is', async () => {
    const port = await freePort();
    const logged: string[] = [];
    const s = new RedisStore({ redis: `redis://127.0.0.1:${port}`, errorIntervalMs: 0 });
    closers.push(() => s.close());
    const provider = new AllotProvider({
      source: testState(),
      clientSecret: SECRET,
      stickyStore: s,
      sticky: { readyTimeoutMs: 300, retryDelayMs: 10, closeTimeoutMs: 500 },
      logger: { error: (m: string) => logged.push(`error ${m}`), warn: (m: string) => logged.push(`warn ${m}`), info: (m: string) => logged.push(`info ${m}`), debug: () => undefined },
    });
    closers.push(() => provider.onClose());
    const statuses: [StickyStoreStatus, string][] = [];
    provider.allotEvents.on('sticky-store', (status, error) => statuses.push([status, error?.message ?? '']));
    const domain = `redis-not-ready-${port}`;
    const errors: unknown[] = [];
    OpenFeature.getClient(domain).addHandler(ProviderEvents.Error, (e) => errors.push(e));
    const started = Date.now();
    await OpenFeature.setProviderAndWait(domain, provider);
    expect(Date.now() - started).toBeLessThan(2_000);
    const client = OpenFeature.getClient(domain);
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    expect(errors).toEqual([]);
    expect(statuses).toEqual([['not-ready', expect.stringMatching(new RegExp(`^redis store 127\\.0\\.0\\.1:${port}: not ready within 300 ms \\(sticky\\.readyTimeoutMs\\); connection: .*ECONNREFUSED`))]]);
    // The store had no logger of its own: it logs through the provider's.
    expect(logged).toEqual(expect.arrayContaining([expect.stringMatching(/^warn allot: sticky store not-ready: redis store/), expect.stringMatching(/^warn allot: redis store .*ECONNREFUSED/)]));

    const hashed = await client.getStringDetails('sticky.v', '', { targetingKey: 'returning' });
    expect(hashed).toMatchObject({ reason: 'SPLIT', flagMetadata: { stickyStore: 'not-ready', assignmentKind: 'split' } });
    const stored = hashed.value === 'a' ? 'b' : 'a';

    const server = await RedisServer.start(port);
    closers.push(() => server.kill());
    const admin = new Redis(port, '127.0.0.1');
    closers.push(() => admin.quit());
    await admin.hset(s.keyOf(key('returning')), 'in', '1', `r:${RULE}`, stored);
    await vi.waitFor(() => { expect(statuses.at(-1)?.[0]).toBe('ok'); }, { timeout: 5_000, interval: 20 });
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); }, { timeout: 5_000, interval: 20 });
    expect(await client.getStringDetails('sticky.v', '', { targetingKey: 'returning' })).toMatchObject({ value: stored, flagMetadata: { assignmentKind: 'sticky' } });
    expect(logged).toContain('info allot: sticky store ok: reading stored assignments');
  });

  it('writes nothing to the console on its own, and logs through its own logger before the provider\'s', async () => {
    const consoleCalls: unknown[][] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => vi.spyOn(console, level).mockImplementation((...args) => consoleCalls.push(args)));
    try {
      const url = `redis://127.0.0.1:${await freePort()}`;
      const silent = new RedisStore({ redis: url, errorIntervalMs: 0 });
      closers.push(() => silent.close());
      await expect(silent.ready(AbortSignal.timeout(300))).rejects.toThrow(/not ready|aborted/);
      expect(consoleCalls).toEqual([]);

      const own: string[] = [];
      const fromProvider: string[] = [];
      const logger = (into: string[]): { error: () => void; warn: (m: string) => void; info: () => void; debug: () => void } => ({ error: () => undefined, warn: (m: string) => into.push(m), info: () => undefined, debug: () => undefined });
      const withOwn = new RedisStore({ redis: url, errorIntervalMs: 0, logger: logger(own) });
      closers.push(() => withOwn.close());
      withOwn.setDefaultLogger(logger(fromProvider));
      await vi.waitFor(() => { expect(own.some((m) => m.includes('ECONNREFUSED'))).toBe(true); }, { timeout: 3_000 });
      expect(fromProvider).toEqual([]);
      expect(consoleCalls).toEqual([]);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('survives the server being killed mid-run and restarted', async () => {
    const server = await RedisServer.start();
    closers.push(() => server.kill());
    const s = store(server);
    await connected(s);
    const { provider, statuses } = await providerOver(s);
    expect((await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'k1' })).flagMetadata).toMatchObject({ assignmentKind: 'split' });
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); });
    await server.kill();
    const outage: string[] = [];
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const details = await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: `down-${i}` });
      expect(Date.now() - started).toBeLessThan(1_000);
      outage.push(String(details.flagMetadata?.stickyStore));
    }
    expect(outage.every((s) => ['error', 'timeout', 'unavailable'].includes(s))).toBe(true);
    expect(outage).toContain('unavailable'); // the circuit opened: later calls skip the store
    await server.start();
    await vi.waitFor(() => { expect(provider.pendingStickyWrites).toBe(0); }, { timeout: 5_000, interval: 20 });
    expect((await s.read([key('down-9')]))[0]).not.toBeNull();
    await vi.waitFor(async () => { expect((await provider.resolveStringEvaluation('sticky.v', '', { targetingKey: 'down-9' })).flagMetadata).toMatchObject({ assignmentKind: 'sticky' }); }, { timeout: 5_000, interval: 20 });
    expect(statuses.at(-1)).toBe('ok');
  });
});
