/**
 * A rolling deploy, through real processes: a provider assigns users through Redis, then a
 * new application process (a new provider, a fresh ioredis connection) starts over the same
 * Redis with a state whose split now hashes every one of them to the other variant. Every
 * user must get the stored variant from the first evaluation on.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AllotProvider } from '@allot/openfeature-provider';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisStore } from './redis-store.js';
import { RedisServer, redisServerPath } from './testing/redis-server.js';
import { SECRET, testState, type Json } from '../../openfeature-provider/src/testing/states.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const USERS = Array.from({ length: 200 }, (_, i) => `deploy-user-${i}`);

/** The test state with flags/sticky's split reversed: every unit hashes to the other variant. */
function swappedState(): Record<string, Json> {
  const state = testState();
  const flags = state.flags as Record<string, { rules: { assignmentSpec: { assignments: { bucketRanges: { lower: number; upper: number }[] }[] } }[] }>;
  const [a, b] = flags['flags/sticky']!.rules[0]!.assignmentSpec.assignments;
  [a!.bucketRanges, b!.bucketRanges] = [b!.bucketRanges, a!.bucketRanges];
  return state;
}

/**
 * A fresh application process: `setProviderAndWait` with a new RedisStore, then every user
 * evaluated at once, as requests arriving right after a deploy would be. Prints the answers.
 */
const APP = `
import { readFileSync } from 'node:fs';
import { OpenFeature } from '@openfeature/server-sdk';
import { AllotProvider } from '@allot/openfeature-provider';
import { RedisStore } from '@allot/redis-store';
const { url, stateFile, secret, users } = JSON.parse(process.argv[1]);
// Generous deadlines: this is about readiness, and on a loaded machine a reply can take longer
// than the default 25 ms to be scheduled (the deadline's fallback is tested elsewhere).
const stickyStore = new RedisStore({ redis: url, commandTimeoutMs: 2000 });
const provider = new AllotProvider({ source: readFileSync(stateFile, 'utf8'), clientSecret: secret, stickyStore, sticky: { timeoutMs: 1000, readyTimeoutMs: 15_000 } });
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient();
const details = await Promise.all(users.map((targetingKey) => client.getStringDetails('sticky.v', '', { targetingKey })));
process.stdout.write(JSON.stringify(details.map((d) => ({ value: d.value, kind: d.flagMetadata.assignmentKind ?? null, store: d.flagMetadata.stickyStore ?? null }))));
await OpenFeature.close();
await stickyStore.close();
`;

interface Answer {
  value: string;
  kind: string | null;
  store: string | null;
}

function startApp(url: string, stateFile: string): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', APP, JSON.stringify({ url, stateFile, secret: SECRET, users: USERS })], {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out) as Answer[]);
      else reject(new Error(`the app exited with ${code}: ${err}`));
    });
  });
}

describe.skipIf(redisServerPath === null)('a rolling deploy over Redis', () => {
  let server: RedisServer;
  let dir: string;

  beforeAll(async () => {
    server = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), 'allot-deploy-'));
  });

  afterAll(async () => {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every sticky user on the stored variant in a new process, from its first evaluation', async () => {
    // The first release assigns the users (hash variants) and stores them.
    const store = new RedisStore({ redis: server.url });
    const first = new AllotProvider({ source: testState(), clientSecret: SECRET, stickyStore: store });
    await first.initialize();
    const assigned = new Map<string, string>();
    for (const user of USERS) assigned.set(user, (await first.resolveStringEvaluation('sticky.v', '', { targetingKey: user })).value);
    await vi.waitFor(() => { expect(first.pendingStickyWrites).toBe(0); }, { timeout: 5_000, interval: 20 });
    await first.onClose();
    await store.close();
    expect(new Set(assigned.values())).toEqual(new Set(['a', 'b']));

    // Two later releases, each a new process whose state hashes every user to the other variant.
    const stateFile = join(dir, 'swapped.json');
    writeFileSync(stateFile, JSON.stringify(swappedState()));
    for (let release = 0; release < 2; release++) {
      const answers = await startApp(server.url, stateFile);
      const kept = USERS.filter((user, i) => answers[i]!.value === assigned.get(user));
      expect({ release, kept: kept.length, of: USERS.length, sample: answers.slice(0, 3) }).toEqual({
        release,
        kept: USERS.length,
        of: USERS.length,
        sample: USERS.slice(0, 3).map((user) => ({ value: assigned.get(user), kind: 'sticky', store: null })),
      });
    }
  });
});
