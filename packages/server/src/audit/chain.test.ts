import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { canonicalJson } from './canonical-json.js';
import { chainEntry, entryHash, GENESIS, verifyChain, withoutHash } from './chain.js';
import type { AuditEntry } from '../store/audit-hook.js';
import type { ChainedEntry } from './entry.js';
import { auditLogPath, FileAuditLog } from './file-audit-log.js';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units, writes no whitespace, and leaves out undefined', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, 'é': 2, Z: { y: 1.5, x: -0 } })).toBe('{"Z":{"x":0,"y":1.5},"a":[true,null,"x"],"b":1,"é":2}');
    // RFC 8785 §3.2.3's key order sample.
    expect(canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' }))
      .toBe('{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}');
    expect(canonicalJson(1e21)).toBe('1e+21');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/a is NaN/);
    expect(() => canonicalJson({ a: [1, () => 1] })).toThrow(/a\[1\] is a function/);
    // Integer-like keys sort as text too ("10" before "9"), which JavaScript objects do not keep.
    expect(canonicalJson({ b: { '9': 1, '10': 2, x: [{ z: 1, y: undefined }] }, a: 0 })).toBe('{"a":0,"b":{"10":2,"9":1,"x":[{"z":1}]}}');
  });
});

function record(i: number): AuditEntry {
  return {
    revision: null,
    time: `2026-12-04T10:00:0${i}.000Z`,
    actor: i % 2 === 0 ? 'search' : 'admin',
    operation: 'POST /v1/segments',
    request: { path: `/v1/segments?segmentId=s${i}`, body: { displayName: `S ${i}` } },
    resource: `segments/s${i}`,
    before: { [`segments/s${i}`]: null },
    after: { [`segments/s${i}`]: { name: `segments/s${i}`, displayName: `S ${i}` } },
    impact: { flags: [], segments: [] },
  };
}

function withHash(content: Omit<ChainedEntry, 'hash'>): ChainedEntry {
  return { ...content, hash: entryHash(content) };
}

describe('the hash chain', () => {
  it('hashes prev followed by the canonical JSON of every other field', async () => {
    const first = chainEntry(null, record(1));
    expect(first.prev).toBe(GENESIS);
    const content = withoutHash(first);
    const { createHash } = await import('node:crypto');
    expect(first.hash).toBe(createHash('sha256').update(GENESIS + canonicalJson(content)).digest('hex'));
    const second = chainEntry(first, record(2));
    expect(second.prev).toBe(first.hash);
    expect(entryHash(second)).toBe(second.hash);
    expect(await verifyChain([first, second])).toEqual({ ok: true, entries: 2, head: second.hash, seq: 2 });
    expect(await verifyChain([])).toEqual({ ok: true, entries: 0, head: GENESIS, seq: 0 });
  });
});

describe('tampering with the JSONL file is found, and the entry named', () => {
  let dir: string;
  let log: FileAuditLog;
  let lines: string[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'allot-audit-'));
    log = new FileAuditLog(join(dir, 'allot.yaml'));
    await log.append([record(1), record(2)]);
    await log.append([record(3)]);
    await log.append([record(4), record(5), record(6)]);
    lines = (await readFile(log.path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 6, seq: 6 });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const rewrite = (next: readonly string[]): Promise<void> => writeFile(log.path, next.map((l) => `${l}\n`).join(''));
  const entry = (i: number): ChainedEntry => JSON.parse(lines[i]!) as ChainedEntry;

  it('an edited entry (one field changed, the rest of the file untouched)', async () => {
    const edited = { ...entry(2), actor: 'someone-else' };
    await rewrite(lines.map((l, i) => (i === 2 ? JSON.stringify(edited) : l)));
    const verdict = await log.verify();
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'edited', position: 3, seq: 3 } });
    expect(verdict.ok ? '' : verdict.message).toBe('entry #3 (3rd in the log) was edited: its content no longer gives its hash');
  });

  it('an edited entry whose hash was recomputed to match', async () => {
    const content = withoutHash({ ...entry(2), after: {} });
    await rewrite(lines.map((l, i) => (i === 2 ? JSON.stringify(withHash(content)) : l)));
    const verdict = await log.verify();
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'replaced', position: 3, seq: 3 } });
    expect(verdict.ok ? '' : verdict.message).toBe('entry #3 (3rd in the log) was edited or replaced and its hash recomputed: the entry after it no longer follows it');
  });

  it('a deleted entry, first, middle or several', async () => {
    await rewrite(lines.filter((_, i) => i !== 2));
    expect(await log.verify()).toMatchObject({ ok: false, broken: { kind: 'deleted', position: 3, missing: { from: 3, to: 3 } } });
    await rewrite(lines.slice(1));
    expect(await log.verify()).toMatchObject({ ok: false, broken: { kind: 'deleted', position: 1, missing: { from: 1, to: 1 } } });
    await rewrite([...lines.slice(0, 1), ...lines.slice(4)]);
    const verdict = await log.verify();
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'deleted', position: 2, missing: { from: 2, to: 4 } } });
    expect(verdict.ok ? '' : verdict.message).toBe('entries #2 to #4 were deleted: the 2nd entry in the log follows without them');
  });

  it('an inserted entry, correctly chained to the one before it', async () => {
    const forged = { ...chainEntry(entry(1), record(9)) };
    await rewrite([...lines.slice(0, 2), JSON.stringify(forged), ...lines.slice(2)]);
    const verdict = await log.verify();
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'inserted', position: 3, seq: 3 } });
    expect(verdict.ok ? '' : verdict.message).toBe('entry #3 (3rd in the log) was inserted: it does not follow the entry before it in the chain');
  });

  it('an inserted entry with any revision, or a copy of another entry', async () => {
    const forged = withHash({ ...withoutHash(chainEntry(entry(1), record(9))), seq: 40 });
    await rewrite([...lines.slice(0, 2), JSON.stringify(forged), ...lines.slice(2)]);
    expect(await log.verify()).toMatchObject({ ok: false, broken: { kind: 'inserted', position: 3 } });
    await rewrite([...lines.slice(0, 4), lines[1]!, ...lines.slice(4)]);
    expect(await log.verify()).toMatchObject({ ok: false, broken: { kind: 'inserted', position: 5, seq: 2 } });
  });

  it('two entries swapped', async () => {
    await rewrite([...lines.slice(0, 2), lines[3]!, lines[2]!, ...lines.slice(4)]);
    const verdict = await log.verify();
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'reordered', position: 3, seq: 4, with: 4 } });
    expect(verdict.ok ? '' : verdict.message).toBe("entry #4 (3rd in the log) was moved: it and the 4th entry are in each other's place");
  });

  it('a line that is no longer an entry', async () => {
    await rewrite(lines.map((l, i) => (i === 4 ? l.slice(0, 40) : l)));
    expect(await log.verify()).toMatchObject({ ok: false, broken: { kind: 'unreadable', position: 5 } });
  });

  it('verifies entries kept without seq (a table keeps it in a column), naming the break by position', async () => {
    const bare = lines.map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as ChainedEntry).filter(([k]) => k !== 'seq' && k !== 'hash')) as Omit<ChainedEntry, 'hash'>);
    // Chained again without seq, as a store that keeps it in a column hashes them.
    const chained: ChainedEntry[] = [];
    for (const b of bare) {
      const content = { ...b, prev: chained.at(-1)?.hash ?? GENESIS };
      chained.push({ ...content, hash: entryHash(content) });
    }
    expect(await verifyChain(chained)).toMatchObject({ ok: true, entries: 6, seq: 6 });
    expect(await verifyChain(chained.filter((_, i) => i !== 2))).toMatchObject({ ok: false, broken: { kind: 'unlinked', position: 3 } });
    expect(await verifyChain([chained[0]!, chained[2]!, chained[1]!])).toMatchObject({ ok: false, broken: { kind: 'reordered', position: 2 } });
  });

  it('verifies any async iterable of entries the same way (as a database table is read)', async () => {
    async function* rows(): AsyncGenerator<ChainedEntry> {
      for (const l of [lines[0]!, lines[2]!, lines[1]!]) yield await Promise.resolve(JSON.parse(l) as ChainedEntry);
    }
    expect(await verifyChain(rows())).toMatchObject({ ok: false, broken: { kind: 'reordered', position: 2 } });
  });
});

describe('auditLogPath', () => {
  it('puts the log beside the workspace, with its stem', () => {
    expect(auditLogPath('/w/allot.yaml')).toBe('/w/allot.audit.jsonl');
    expect(auditLogPath('/w/team.yml')).toBe('/w/team.audit.jsonl');
    expect(auditLogPath('/w/allot.json')).toBe('/w/allot.audit.jsonl');
    expect(auditLogPath('/w/workspace')).toBe('/w/workspace.audit.jsonl');
  });
});
