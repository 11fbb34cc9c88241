/**
 * Providers watching two `allot serve` processes on one PostgreSQL database: a write on one
 * instance reaches the watchers of the other, and when the instance a provider streams from
 * is killed (SIGKILL) mid-run, it moves to the other one, resumes by revision, and misses
 * nothing: every provider's applied revisions only go up, end on the last one written, what
 * streams brought came as deltas (a resume on the other instance too), and its flagsChanged events together
 * name every flag written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AllotProvider, watchSource } from '@allot/openfeature-provider';
import { ProviderEvents } from '@openfeature/server-sdk';
import { afterAll, describe, expect, it } from 'vitest';

import { PgCluster, pgMissing } from './testing/pg-cluster.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../cli/dist/bin.js');

interface Instance {
  readonly child: ChildProcess;
  readonly url: string;
}

function startInstance(store: string): Promise<Instance> {
  const child = spawn(process.execPath, [CLI, 'serve', '--store', store, '--port', '0', '--quiet', '--watch-heartbeat-ms', '200'], {
    env: { ...process.env, ALLOT_TOKENS: '', ALLOT_STORE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => {
      reject(new Error(`allot serve exited ${String(code)} before listening: ${err}`));
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const PROVIDERS = 6;
const WRITES = 40;

describe.skipIf(pgMissing !== null || !existsSync(CLI))(
  `watchers on two instances${pgMissing !== null ? ` (skipped: ${pgMissing})` : !existsSync(CLI) ? ' (skipped: build the CLI first: pnpm exec tsc -b)' : ''}`,
  () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const f of cleanup.reverse()) await f().catch(() => undefined);
    });

    it('an instance killed mid-run: its watchers move to the other and miss no revision', async () => {
      const cluster = await PgCluster.start();
      cleanup.push(() => cluster.stop());
      const db = await cluster.createDatabase('watch');
      const a = await startInstance(db);
      cleanup.push(() => kill(a.child));
      const b = await startInstance(db);
      cleanup.push(() => kill(b.child));

      const watchers = await Promise.all(
        Array.from({ length: PROVIDERS }, async (_, i) => {
          const revisions: number[] = [];
          const changed = new Set<string>();
          const wholeStates = { count: 0 };
          // Half list A first, half B first: each streams from the first it lists.
          const urls = i % 2 === 0 ? [a.url, b.url] : [b.url, a.url];
          const provider = new AllotProvider({
            source: watchSource(urls, {
              pollIntervalMs: 60_000,
              reconnectDelayMs: 50,
              maxReconnectDelayMs: 200,
              timeoutMs: 10_000, // six providers' first loads at once, against two servers just started
              onApply: (applied) => {
                revisions.push(applied.revision ?? -1);
                if (applied.via === 'stream' && !applied.delta) wholeStates.count++;
              },
            }),
          });
          cleanup.push(() => provider.onClose());
          provider.events.addHandler(ProviderEvents.ConfigurationChanged, (e) => {
            for (const key of (e?.flagsChanged ?? []) as string[]) changed.add(key);
          });
          await provider.initialize();
          return { revisions, changed, wholeStates };
        }),
      );

      // Writes go to B alone, one after another; A is killed halfway.
      let last = 0;
      const keys: string[] = [];
      for (let i = 0; i < WRITES; i++) {
        if (i === WRITES / 2) await kill(a.child);
        const key = `w${String(i).padStart(2, '0')}`;
        const res = await fetch(`${b.url}/v1/flags?flagId=${key}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ variants: [{ name: 'on', value: { on: true } }] }),
        });
        expect(res.status).toBe(200);
        await res.text();
        last = Number(res.headers.get('allot-revision'));
        keys.push(key);
        await new Promise((r) => setTimeout(r, 20));
      }
      await until(() => watchers.every((w) => w.revisions.at(-1) === last), `every provider on revision ${String(last)}`, 15_000);
      for (const w of watchers) {
        for (let i = 1; i < w.revisions.length; i++) expect(w.revisions[i]).toBeGreaterThan(w.revisions[i - 1]!);
        expect([...w.changed].sort()).toEqual(keys);
        // What came over the streams came as deltas, the resume on the other instance too.
        expect(w.wholeStates.count).toBe(0);
      }
    }, 120_000);
  },
);
