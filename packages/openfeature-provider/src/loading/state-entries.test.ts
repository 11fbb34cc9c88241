import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { applyDelta, type StateDelta } from '../sources/state-delta.js';
import { entriesData, offeredEntries, StateEntries, type StateEntriesData } from './state-entries.js';

/** As the worker sends it: through a structured clone, buffers transferred. */
function kept(state: unknown): StateEntries {
  const made = entriesData(state);
  if (made === null) throw new Error('not an object');
  return StateEntries.of(structuredClone(made.data, { transfer: made.transfer }));
}

/** `state` as the worker sends it in answer to a request that offered `base`'s entries, and how many entries it sent. */
function after(base: StateEntries, state: unknown): { entries: StateEntries; sent: number } {
  const offer = base.offer();
  // What is held crosses as a copy, as the request carries it.
  const made = entriesData(state, offer === null ? undefined : structuredClone(offer.held));
  if (made === null) throw new Error('not an object');
  const data = structuredClone(made.data, { transfer: made.transfer });
  let sent = 0;
  for (let i = 0; i < data.layout.buffer.length; i++) if (data.buffers[data.layout.buffer[i]!] === -1) sent++;
  return { entries: StateEntries.of(data, offer), sent };
}

/** The JSON of every kept entry (of `flags`, `segments`, `bitsets`, where an object), each once. */
function keptTexts(state: unknown): Set<string> {
  const out = new Set<string>();
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return out;
  for (const key of ['flags', 'segments', 'bitsets']) {
    const member = (state as Record<string, unknown>)[key];
    if (typeof member === 'object' && member !== null && !Array.isArray(member)) for (const entry of Object.values(member)) out.add(text(entry));
  }
  return out;
}

/** `JSON.stringify` keeps key order: equal texts are equal JSON in the same order. */
const text = (json: unknown): string => JSON.stringify(json);

const names = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'flags/x', 'segments/y', 'with "quote"', 'ünï', '42');
const entry = fc.jsonValue({ maxDepth: 2 });
const record = fc.dictionary(names, entry, { maxKeys: 6 });
const memberKey = fc.constantFrom('flags', 'segments', 'bitsets', 'clients', 'account');
const state = fc.record(
  {
    account: fc.oneof(fc.record({ name: fc.string() }), record),
    flags: fc.oneof(record, fc.array(entry, { maxLength: 2 })),
    segments: record,
    bitsets: fc.oneof(record, fc.constant(null)),
    clients: record,
  },
  { requiredKeys: [] },
);
const delta: fc.Arbitrary<StateDelta> = fc.record(
  {
    base: fc.constant('1'),
    set: fc.dictionary(memberKey, record, { maxKeys: 3 }),
    remove: fc.dictionary(memberKey, fc.array(names, { maxLength: 3 }), { maxKeys: 3 }),
    replace: fc.dictionary(memberKey, fc.oneof(record, entry), { maxKeys: 1 }),
  },
  { requiredKeys: ['base'] },
);

describe('StateEntries', () => {
  test.prop([state, fc.array(delta, { maxLength: 5 })], { numRuns: 300 })(
    'reads and writes as applyDelta makes the plain JSON, delta after delta: same members, entries, entry order and refusals',
    async (start, deltas) => {
      let plain: unknown = start;
      let entries = kept(start);
      expect(text(entries.json())).toBe(text(start));
      for (const d of deltas) {
        let expected: unknown;
        try {
          expected = applyDelta(plain, d, 'test').json;
        } catch (error) {
          expect(() => entries.apply(d, 'test')).toThrow((error as Error).message);
          continue;
        }
        const before = text(entries.json());
        const next = entries.apply(d, 'test');
        expect(text(next.json())).toBe(text(expected));
        // Written whole (for the worker), byte for byte what JSON.stringify writes.
        expect(Buffer.concat(await next.toBlocks()).toString('utf8')).toBe(text(expected));
        // The state it was made from is unchanged.
        expect(text(entries.json())).toBe(before);
        plain = expected;
        entries = next;
      }
    },
  );

  test.prop([state, fc.array(delta, { maxLength: 3 })], { numRuns: 100 })('a state loaded here reads the same as one from the worker', (start, deltas) => {
    let a = kept(start);
    let b = StateEntries.ofJson(start);
    for (const d of deltas) {
      try {
        a = a.apply(d, 'test');
      } catch {
        expect(() => b.apply(d, 'test')).toThrow();
        continue;
      }
      b = b.apply(d, 'test');
      expect(text(a.json())).toBe(text(b.json()));
    }
  });

  test.prop([state, fc.array(delta, { maxLength: 3 }), state, state], { numRuns: 300 })(
    'whole states after another (and its deltas) take the entries the other held: each reads as its plain JSON, only entries new to it are sent, and its buffers are at least half read',
    async (start, deltas, next, last) => {
      let plain: unknown = start;
      let base = kept(start);
      for (const d of deltas) {
        try {
          plain = applyDelta(plain, d, 'test').json;
        } catch {
          continue;
        }
        base = base.apply(d, 'test');
      }
      // The offer holds exactly the entries the base still reads as bytes.
      const offered = offeredTexts(base);
      const held = keptTexts(plain);
      for (const t of offered) expect(held.has(t)).toBe(true);
      if (deltas.length === 0) expect(offered).toEqual(held);
      const { entries, sent } = after(base, next);
      expect(text(entries.json())).toBe(text(next));
      expect(Buffer.concat(await entries.toBlocks()).toString('utf8')).toBe(text(next));
      // Every entry whose JSON was not offered is sent; others may be, from a buffer barely read.
      expect(sent).toBeGreaterThanOrEqual(countEntries(next, (t) => !offered.has(t)));
      expect(sent).toBeLessThanOrEqual(countEntries(next, () => true));
      expectHalfRead(entries);
      // Once more, from the entries of two buffers (the first state's and the second's).
      const again = after(entries, last);
      expect(text(again.entries.json())).toBe(text(last));
      expect(Buffer.concat(await again.entries.toBlocks()).toString('utf8')).toBe(text(last));
      expectHalfRead(again.entries);
      // And a delta after it applies as to the plain JSON.
      const more: StateDelta = { base: '2', set: { segments: { 'segments/new': { n: 1 } } } };
      try {
        const expected = applyDelta(last, more, 'test').json;
        expect(text(again.entries.apply(more, 'test').json())).toBe(text(expected));
      } catch (error) {
        expect(() => again.entries.apply(more, 'test')).toThrow((error as Error).message);
      }
    },
  );

  it('takes entries only from buffers the new state reads at least half of, each entry counted once: what it keeps alive is at most twice what it reads', () => {
    const of = (c: string): string => c.repeat(100);
    const first = kept({ segments: { a: of('a'), b: of('b'), c: of('c'), d: of('d') } });
    const [buffer] = first.offer()!.buffers;
    // Unchanged: nothing is sent.
    const same = after(first, { segments: { a: of('a'), b: of('b'), c: of('c'), d: of('d') } });
    expect(same.sent).toBe(0);
    expect(same.entries.offer()!.buffers).toContain(buffer);
    // Reads half of it (a and b): kept; e is new.
    const half = after(first, { segments: { a: of('a'), b: of('b'), e: 'e' } });
    expect(half.sent).toBe(1);
    expect(half.entries.offer()!.buffers).toContain(buffer);
    // Reads a quarter (a): a is sent again and the buffer goes.
    const quarter = after(first, { segments: { a: of('a'), f: 'f' } });
    expect(quarter.sent).toBe(2);
    expect(quarter.entries.offer()!.buffers).not.toContain(buffer);
    // Ten entries of a's JSON are still a quarter of it.
    const copies = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, of('a')]));
    const duplicated = after(first, { segments: copies });
    expect(duplicated.sent).toBe(10);
    expect(duplicated.entries.offer()!.buffers).not.toContain(buffer);
    expect(text(duplicated.entries.json())).toBe(text({ segments: copies }));
  });

  it('after deltas, offers only the entries the state still reads', () => {
    const first = kept({ segments: { a: 1, b: 2, c: 3 }, flags: { f: 1 } });
    const changed = first.apply({ base: '1', set: { segments: { b: 20 } }, remove: { segments: ['c'] }, replace: { flags: {} } }, 'test');
    expect(offeredTexts(changed)).toEqual(new Set(['1']));
    expect(offeredEntries(changed.offer()!.held)).toEqual([0]);
  });

  it('takes entries from several earlier buffers, in any order', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(100)) as [string, string, string];
    const first = kept({ segments: { a, b: b.slice(0, 50) } });
    const second = after(first, { segments: { a, c } });
    expect(second.sent).toBe(1);
    // The second state's buffers: c's (sent with it) and a's (the first state's).
    const third = after(second.entries, { segments: { c, a } });
    expect(third.sent).toBe(0);
    expect(third.entries.offer()!.buffers).toHaveLength(2);
    expect(text(third.entries.json())).toBe(text({ segments: { c, a } }));
  });

  it('takes an offered entry by its JSON wherever it was: a bitset moved to another segment, or shared by two', () => {
    const first = kept({ bitsets: { s1: 'AAAA', s2: 'BBBB' }, segments: { s1: { t: 1 }, s2: { t: 2 } } });
    const { entries, sent } = after(first, { bitsets: { s1: 'BBBB', s2: 'BBBB', s3: 'AAAA' }, segments: { s3: { t: 1 } } });
    expect(sent).toBe(0);
    expect(text(entries.json())).toBe(text({ bitsets: { s1: 'BBBB', s2: 'BBBB', s3: 'AAAA' }, segments: { s3: { t: 1 } } }));
  });

  it('loads a state whole, every entry sent, when the offer does not add up', () => {
    const first = kept({ segments: { a: 'aaaa', b: 'bbbb' } });
    const { held } = first.offer()!;
    const broken = [
      { ...held, ends: held.ends.map((e) => e + 1_000) },
      { ...held, starts: held.ends.map((e) => e + 1) },
      { ...held, buffer: held.buffer.map(() => 7) },
      { ...held, unused: new Uint8Array(1) },
    ];
    for (const offer of broken) {
      expect(() => offeredEntries(offer)).toThrow(RangeError);
      const made = entriesData({ segments: { a: 'aaaa', b: 'bbbb' } }, offer)!;
      expect(Array.from(made.data.buffers)).toEqual([-1]);
      expect(made.data.utf8.byteLength).toBe(text('aaaa').length + text('bbbb').length);
      expect(text(StateEntries.of(made.data).json())).toBe(text({ segments: { a: 'aaaa', b: 'bbbb' } }));
    }
  });

  it('refuses entries in a buffer the request did not offer, as a bug', () => {
    const first = kept({ segments: { a: 1 } });
    const made = entriesData({ segments: { a: 1 } }, first.offer()!.held)!;
    expect(() => StateEntries.of(made.data)).toThrow(/offered buffer 0 of 0.*bug in @allot\/openfeature-provider/);
  });

  it('reads a member entry by entry as own properties, and refuses writes', () => {
    const json = kept({ flags: { 'flags/a': { n: 1 }, 'flags/b': { n: 2 } } }).json();
    const flags = json.flags as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(flags, 'flags/a')).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(flags, 'toString')).toBe(false);
    expect(Reflect.get(flags, 'toString')).toBeUndefined();
    expect('flags/b' in flags).toBe(true);
    expect(flags['flags/b']).toEqual({ n: 2 });
    expect(Array.isArray(flags)).toBe(false);
    expect(Object.keys(flags)).toEqual(['flags/a', 'flags/b']);
    expect(() => {
      'use strict';
      flags['flags/a'] = 1;
    }).toThrow(TypeError);
  });

  it('parses only the entries read: a state whose other entries could not be parsed still takes a delta', () => {
    const good = entriesData({ account: { name: 'a' }, segments: { 'segments/a': { ok: 1 }, 'segments/b': { ok: 2 } } })!;
    // The second entry's bytes broken by hand: nothing below reads it.
    const utf8 = good.data.utf8.slice();
    utf8[utf8.length - 1] = '@'.charCodeAt(0);
    const data: StateEntriesData = { ...good.data, utf8 };
    const entries = StateEntries.of(data).apply({ base: '1', set: { segments: { 'segments/c': { ok: 3 } } } }, 'test');
    const segments = entries.json().segments as Record<string, unknown>;
    expect(segments['segments/a']).toEqual({ ok: 1 });
    expect(segments['segments/c']).toEqual({ ok: 3 });
    expect(Object.keys(segments)).toEqual(['segments/a', 'segments/b', 'segments/c']);
    expect(() => segments['segments/b']).toThrow(SyntaxError);
  });
});

/** Every buffer `entries` keeps is at least half read by it (each range once). */
function expectHalfRead(entries: StateEntries): void {
  const offer = entries.offer();
  if (offer === null) return;
  const { buffer, starts, ends, sizes } = offer.held;
  const read = new Float64Array(sizes.length);
  const seen = new Set<string>();
  for (let i = 0; i < buffer.length; i++) {
    if (seen.has(`${buffer[i]}:${starts[i]}`)) continue;
    seen.add(`${buffer[i]}:${starts[i]}`);
    read[buffer[i]!]! += ends[i]! - starts[i]!;
  }
  for (let b = 0; b < sizes.length; b++) expect(2 * read[b]!).toBeGreaterThanOrEqual(sizes[b]!);
}

/** The JSON of the entries `entries.offer()` offers. */
function offeredTexts(entries: StateEntries): Set<string> {
  const offer = entries.offer();
  const out = new Set<string>();
  if (offer === null) return out;
  const { buffer, starts, ends } = offer.held;
  for (const i of offeredEntries(offer.held)) out.add(Buffer.from(offer.buffers[buffer[i]!]!.subarray(starts[i], ends[i])).toString('utf8'));
  return out;
}

/** How many kept entries of `state` have JSON for which `which` holds. */
function countEntries(state: unknown, which: (text: string) => boolean): number {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return 0;
  let n = 0;
  for (const key of ['flags', 'segments', 'bitsets']) {
    const member = (state as Record<string, unknown>)[key];
    if (typeof member === 'object' && member !== null && !Array.isArray(member)) for (const entry of Object.values(member)) if (which(text(entry))) n++;
  }
  return n;
}

describe('an entry named __proto__', () => {
  it('is data in every form (as JSON.parse reads it), kept when other entries are removed', async () => {
    const source = '{"segments":{"__proto__":{"targeting":1},"segments/a":{"x":1}}}';
    const delta: StateDelta = { base: '1', remove: { segments: ['segments/a'] } };
    const expected = '{"segments":{"__proto__":{"targeting":1}}}';
    expect(text(applyDelta(JSON.parse(source), delta, 'test').json)).toBe(expected);
    for (const entries of [kept(JSON.parse(source)), StateEntries.ofJson(JSON.parse(source))]) {
      const next = entries.apply(delta, 'test');
      expect(text(next.json())).toBe(expected);
      expect(Buffer.concat(await next.toBlocks()).toString('utf8')).toBe(expected);
    }
  });
});
