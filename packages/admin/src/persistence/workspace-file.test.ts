import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeEach, describe, expect, it } from 'vitest';

import { AdminError } from '../errors.js';
import { addRule, createFlag, updateRule } from '../operations/flags.js';
import { allocateSegment, archiveSegment, createSegment, updateSegment } from '../operations/segments.js';
import { TARGETING_LIMITS, WORKSPACE_LIMITS, WORKSPACE_TARGETING_LIMITS } from '../targeting/limits.js';
import { newWorkspace } from '../workspace/create.js';
import type { Segment } from '../workspace/model.js';
import { parseWorkspace } from '../workspace/parse.js';
import { serializeWorkspace } from '../workspace/serialize.js';
import { etagOf, WorkspaceFile } from './workspace-file.js';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'allot-ws-'));
});

describe('WorkspaceFile', () => {
  it('creates the file on demand, returns etags that follow the bytes, and refuses a stale If-Match', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'));
    await expect(file.read()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const first = await file.update((ws) => createSegment(ws, { id: 'a' }), { create: { account: 'acct', seed: 'seed' } });
    expect(first.created).toBe(true);
    expect(first.etag).toBe(etagOf(readFileSync(file.path)));
    const second = await file.update((ws) => createSegment(ws, { id: 'b' }), { ifMatch: first.etag });
    expect(second.etag).not.toBe(first.etag);
    await expect(file.update((ws) => createSegment(ws, { id: 'c' }), { ifMatch: first.etag })).rejects.toMatchObject({ code: 'ETAG_MISMATCH' });
    expect((await file.read()).workspace.segments.map((s) => s.id)).toEqual(['a', 'b']);
  });

  it('starts an update from the workspace it last wrote only while the file and the secrets file still hold what it wrote', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'));
    const first = await file.update((ws) => createSegment(ws, { id: 'a' }), { create: { account: 'acct', seed: 'seed' } });
    let seen = first.workspace;
    await file.update((ws) => {
      seen = ws;
      return createSegment(ws, { id: 'b' });
    });
    expect(seen).toBe(first.workspace); // not parsed again
    // A hand edit of either file is read, not the workspace in memory.
    writeFileSync(file.secretsPath, 'clients:\n  default: edited-secret\n');
    await file.update((ws) => {
      seen = ws;
      return updateSegment(ws, 'a', { displayName: 'a' }, ['displayName']);
    });
    expect(seen.clients[0]?.secret).toBe('edited-secret');
    writeFileSync(file.path, readFileSync(file.path, 'utf8').replace('displayName: b', 'displayName: edited'));
    await file.update((ws) => {
      seen = ws;
      return createSegment(ws, { id: 'c' });
    });
    expect(seen.segments.find((s) => s.id === 'b')?.displayName).toBe('edited');
    expect(parseWorkspace(readFileSync(file.path, 'utf8')).segments.map((s) => s.displayName)).toEqual(['a', 'edited', 'c']);
  });

  it('leaves the file byte-for-byte unchanged when the operation fails', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.json'));
    await file.update((ws) => createSegment(ws, { id: 'big', proportion: 0.8, exclusivityTags: ['t'], exclusiveTo: ['t'] }), { create: true });
    await file.update((ws) => allocateSegment(ws, 'big'));
    await file.update((ws) => createSegment(ws, { id: 'more', proportion: 0.3, exclusivityTags: ['t'], exclusiveTo: ['t'] }));
    const before = readFileSync(file.path, 'utf8');
    expect(before.startsWith('{')).toBe(true); // .json files are written as JSON
    const error = await file.update((ws) => allocateSegment(ws, 'more')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminError);
    expect((error as AdminError).space).toEqual({ segment: 'more', conflicting: ['big'], needed: 300_000, free: 200_000 });
    expect(readFileSync(file.path, 'utf8')).toBe(before);
    expect(existsSync(`${file.path}.lock`)).toBe(false);
  });

  it('breaks a stale lock left by a dead process', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'), { lock: { timeoutMs: 5_000 } });
    writeFileSync(`${file.path}.lock`, JSON.stringify({ host: (await import('node:os')).hostname(), pid: 2 ** 22 + 12345, token: 'dead' }));
    await file.update((ws) => createSegment(ws, { id: 'a' }), { create: true });
    expect((await file.read()).workspace.segments).toHaveLength(1);
  });

  it('times out on a live lock', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'), { lock: { timeoutMs: 200 } });
    writeFileSync(`${file.path}.lock`, JSON.stringify({ host: (await import('node:os')).hostname(), pid: process.pid, token: 'mine' }));
    const error = (await file.update((ws) => createSegment(ws, { id: 'a' }), { create: true }).catch((e: unknown) => e)) as AdminError;
    expect(error.code).toBe('LOCK_TIMEOUT');
    expect(error.message).toMatch(new RegExp(`^could not take the workspace lock .*ws\\.yaml\\.lock within 200 ms: it is held by process ${process.pid} on this host for \\d+\\.\\d s\\. Retry when it is done`));
  });

  it('refuses to overwrite an edit saved (without the lock) while the update was being made', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'));
    await file.update((ws) => createSegment(ws, { id: 'a' }), { create: true });
    const edited = readFileSync(file.path, 'utf8').replace('displayName: a', 'displayName: edited by hand');
    const error = (await file
      .update((ws) => {
        writeFileSync(file.path, edited); // a person saves in an editor meanwhile
        return createSegment(ws, { id: 'b' });
      })
      .catch((e: unknown) => e)) as AdminError;
    expect(error.code).toBe('ETAG_MISMATCH');
    expect(error.message).toContain('the file changed on disk while this update was being made');
    expect(readFileSync(file.path, 'utf8')).toBe(edited);
    // Retried, the update applies to the edited file.
    await file.update((ws) => createSegment(ws, { id: 'b' }));
    const ws = (await file.read()).workspace;
    expect(ws.segments.map((s) => [s.id, s.displayName])).toEqual([['a', 'edited by hand'], ['b', 'b']]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('removes temp files left by killed writers (dead PID, or old), and nothing else', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'));
    await file.update((ws) => ({ workspace: ws, result: null, warnings: [] }), { create: true });
    const dead = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('exit', () => { resolve(child.pid!); });
    });
    const orphan = join(dir, `.ws.yaml.${dead}.0a1b2c3d4e5f.tmp`);
    const oldLive = join(dir, `.ws.yaml.${process.pid}.00000000aaaa.tmp`);
    const freshLive = join(dir, `.ws.yaml.${process.pid}.00000000bbbb.tmp`);
    const other = join(dir, `.other.yaml.${dead}.0a1b2c3d4e5f.tmp`);
    for (const p of [orphan, oldLive, freshLive, other]) writeFileSync(p, 'x'.repeat(1000));
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    utimesSync(oldLive, twoMinutesAgo, twoMinutesAgo);
    await file.update((ws) => createSegment(ws, { id: 'a' }));
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp')).sort()).toEqual([basename(other), basename(freshLive)].sort());
  });

  it('two processes updating one file never lose an update', async () => {
    const path = join(dir, 'ws.yaml');
    const file = new WorkspaceFile(path);
    await file.update((ws) => ({ workspace: ws, result: null, warnings: [] }), { create: { account: 'acct', seed: 'seed' } });
    const N = 12;
    const script = `
      const a = await import(${JSON.stringify(DIST)});
      const file = new a.WorkspaceFile(${JSON.stringify(path)});
      const who = process.argv[1];
      for (let i = 0; i < ${N}; i++) {
        await file.update((ws) => a.createSegment(ws, { id: who + '-' + i, proportion: 0.03, exclusivityTags: ['shared'], exclusiveTo: ['shared'] }));
        await file.update((ws) => a.allocateSegment(ws, who + '-' + i));
      }`;
    const run = (who: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, who], { stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('error', reject);
        child.on('exit', (code) => {
          resolve(code ?? -1);
        });
      });
    expect(await Promise.all([run('p'), run('q')])).toEqual([0, 0]);
    const ws = parseWorkspace(readFileSync(path, 'utf8')); // parsing checks exclusivity too
    expect(ws.segments.map((s) => s.id).sort()).toEqual(
      [...Array.from({ length: N }, (_, i) => `p-${i}`), ...Array.from({ length: N }, (_, i) => `q-${i}`)].sort(),
    );
    expect(ws.segments.every((s) => s.state === 'ALLOCATED' && s.buckets!.count === 30_000)).toBe(true);
  });

  it('a writer waiting for the lock gets its turn while another process writes without pause (fair queue)', async () => {
    const path = join(dir, 'ws.yaml');
    const file = new WorkspaceFile(path, { lock: { timeoutMs: 3_000 } });
    await file.update((ws) => ({ workspace: ws, result: null, warnings: [] }), { create: { account: 'acct', seed: 'seed' } });
    // A busy writer (a server under load): one update after another, for 6 s.
    const script = `
      const a = await import(${JSON.stringify(DIST)});
      const file = new a.WorkspaceFile(${JSON.stringify(path)});
      const until = Date.now() + 6000;
      const who = Math.random().toString(36).slice(2);
      let i = 0;
      process.stdout.write('started\\n');
      while (Date.now() < until) {
        const n = i++;
        await file.update((ws) => a.createSegment(ws, { id: 'busy-' + who + '-' + n }));
      }`;
    const hogs = [0, 1].map(() => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }));
    const done = Promise.all(hogs.map((hog) => new Promise<number | null>((resolve) => hog.on('exit', resolve))));
    await Promise.all(hogs.map((hog) => new Promise<void>((resolve) => hog.stdout.once('data', () => { resolve(); }))));
    let timeouts = 0;
    for (let i = 0; i < 15; i++) {
      try {
        await file.update((ws) => createSegment(ws, { id: `mine-${i}` }));
      } catch (error) {
        if ((error as AdminError).code !== 'LOCK_TIMEOUT') throw error;
        timeouts++;
      }
    }
    expect(await done).toEqual([0, 0]);
    expect(timeouts).toBe(0);
    expect(readdirSync(dir).filter((n) => n.includes('.lock.wait.'))).toEqual([]);
    const ids = (await file.read()).workspace.segments.map((s) => s.id);
    expect(ids.filter((id) => id.startsWith('mine-'))).toHaveLength(15);
    expect(ids.filter((id) => id.startsWith('busy-')).length).toBeGreaterThan(15);
  });

  it('refuses an update that takes the workspace past WORKSPACE_TARGETING_LIMITS, and lets it shrink', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'));
    const expression = (n: number): string => Array.from({ length: n }, (_, i) => `c == ${i}`).join(' or ');
    const perSegment = TARGETING_LIMITS.maxClauses;
    const segments = WORKSPACE_TARGETING_LIMITS.maxClauses / perSegment;
    await file.update(
      (ws) => {
        let w = ws;
        for (let i = 0; i < segments; i++) w = createSegment(w, { id: `s${i}`, targeting: expression(perSegment) }).workspace;
        return { workspace: w, result: null, warnings: [] };
      },
      { create: true },
    );
    const before = readFileSync(file.path, 'utf8');
    const error = (await file.update((ws) => createSegment(ws, { id: 'more', targeting: 'a == 1' })).catch((e: unknown) => e)) as AdminError;
    expect(error.code).toBe('INVALID_ARGUMENT');
    const max = WORKSPACE_TARGETING_LIMITS.maxClauses;
    expect(error.limit).toEqual({ name: 'workspace.maxClauses', max, actual: max + 1 });
    expect(error.message).toContain(`targeting: the workspace's targeting would hold ${max + 1} conditions in all, over the limit of ${max} (workspace.maxClauses)`);
    expect(readFileSync(file.path, 'utf8')).toBe(before);
    // Untargeted segments, and smaller expressions, are fine.
    await file.update((ws) => createSegment(ws, { id: 'everyone' }));
    await file.update((ws) => updateSegment(ws, 's0', { targeting: 'a == 1' }, ['targeting']));
    await file.update((ws) => createSegment(ws, { id: 'more', targeting: 'a == 1' }));
  });
});

describe('WORKSPACE_LIMITS and targeting.maxValues, through WorkspaceFile.update', () => {
  const caught = async (p: Promise<unknown>): Promise<AdminError> => {
    const e = await p.catch((error: unknown) => error);
    if (!(e instanceof AdminError)) throw new Error(`expected an AdminError, got ${String(e)}`);
    return e;
  };
  /** A JSON file of `live` unallocated segments and `archived` archived ones. */
  const fileWith = (live: number, archived = 0): WorkspaceFile => {
    const segment = (id: string, state: Segment['state']): Segment => ({
      id,
      displayName: id,
      targeting: null,
      proportion: 0.001,
      exclusivityTags: [],
      exclusiveTo: [],
      state,
      buckets: null,
    });
    const segments = [
      ...Array.from({ length: live }, (_, i) => segment(`s${i}`, 'UNALLOCATED')),
      ...Array.from({ length: archived }, (_, i) => segment(`old${i}`, 'ARCHIVED')),
    ];
    const path = join(dir, 'ws.json');
    writeFileSync(path, serializeWorkspace({ ...newWorkspace({ account: 'a', seed: 's', clientSecret: 'x' }), segments }, 'json'));
    return new WorkspaceFile(path);
  };

  it('segments: the limit is reached, one more is refused before anything is written; archived ones do not count', async () => {
    const max = WORKSPACE_LIMITS.maxSegments;
    expect(max).toBe(20_000);
    const file = fileWith(max - 1, 50);
    await file.update((ws) => createSegment(ws, { id: 'last' }));
    const before = readFileSync(file.path, 'utf8');
    const e = await caught(file.update((ws) => createSegment(ws, { id: 'one-more' })));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.path).toBe('segments');
    expect(e.limit).toEqual({ name: 'workspace.maxSegments', max, actual: max + 1 });
    expect(e.message).toContain('segments: the workspace would hold 20001 segments that are not archived, over the limit of 20000 (workspace.maxSegments); archive segments');
    expect(readFileSync(file.path, 'utf8')).toBe(before);
    // Archiving one makes room: the archived segment stays in the file.
    await file.update((ws) => archiveSegment(ws, 's0'));
    const after = await file.update((ws) => createSegment(ws, { id: 'one-more' }));
    expect(after.workspace.segments).toHaveLength(max + 1 + 50);
  }, 120_000);

  it('segments: a file past the limit loads and can shrink; growing it further is refused', async () => {
    const file = fileWith(WORKSPACE_LIMITS.maxSegments + 2);
    expect((await file.read()).workspace.segments).toHaveLength(20_002);
    await file.update((ws) => archiveSegment(ws, 's1'));
    await file.update((ws) => updateSegment(ws, 's2', { displayName: 'renamed' }, ['displayName']));
    const e = await caught(file.update((ws) => createSegment(ws, { id: 'one-more' })));
    expect(e.limit).toEqual({ name: 'workspace.maxSegments', max: 20_000, actual: 20_002 });
  }, 120_000);

  it('individual targeting: a rule of maxValues values is accepted, one more is refused (add and update)', async () => {
    const file = new WorkspaceFile(join(dir, 'ws.yaml'));
    await file.update((ws) => createFlag(ws, { id: 'f', variants: [{ name: 'on', value: true }] }), { create: true });
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `user-${i}`);
    const max = TARGETING_LIMITS.maxValues;
    await file.update((ws) => addRule(ws, 'f', { kind: 'individual', id: 'vip', attribute: 'user_id', values: ids(max), variant: 'on' }));
    const before = readFileSync(file.path, 'utf8');
    const e = await caught(file.update((ws) => addRule(ws, 'f', { kind: 'individual', id: 'more', attribute: 'user_id', values: ids(max + 1), variant: 'on' })));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.path).toBe('flags.f.rules.more.values');
    expect(e.limit).toEqual({ name: 'targeting.maxValues', max: 10_000, actual: 10_001 });
    expect(e.message).toContain('10001 values, over the limit of 10000 in one individual-targeting rule (targeting.maxValues); put a cohort this large in a segment');
    const update = await caught(file.update((ws) => updateRule(ws, 'f', 'vip', { values: ids(max + 1) })));
    expect(update.limit?.name).toBe('targeting.maxValues');
    expect(readFileSync(file.path, 'utf8')).toBe(before);
    // Duplicates count once.
    await file.update((ws) => updateRule(ws, 'f', 'vip', { values: [...ids(max), 'user-0'] }));
  });

  it('individual targeting: a file with a longer list is invalid, naming the rule', () => {
    const doc = {
      allot: 1,
      account: 'a',
      seed: 's',
      flags: { f: { variants: { on: true }, rules: [{ id: 'vip', kind: 'individual', attribute: 'id', variant: 'on', values: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }] } },
    };
    expect(() => parseWorkspace(JSON.stringify(doc))).toThrow(
      expect.objectContaining({
        code: 'INVALID_WORKSPACE',
        issues: [{ path: 'flags.f.rules[0].values', message: expect.stringContaining('10001 values, over the limit of 10000 in one individual-targeting rule (targeting.maxValues)') as string }],
      }),
    );
  });
});
