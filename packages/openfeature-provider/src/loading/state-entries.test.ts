import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { applyDelta, type StateDelta } from '../sources/state-delta.js';
import { entriesData, StateEntries, type StateEntriesData } from './state-entries.js';

/** As the worker sends it: through a structured clone, buffers transferred. */
function kept(state: unknown): StateEntries {
  const made = entriesData(state);
  if (made === null) throw new Error('not an object');
  return StateEntries.of(structuredClone(made.data, { transfer: made.transfer }));
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
