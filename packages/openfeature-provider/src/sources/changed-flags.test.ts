import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';
import { testState, type Json } from '../testing/states.js';
import { compileState } from './parse-state.js';
import { changedFlags } from './changed-flags.js';
import { entriesData, StateEntries } from '../loading/state-entries.js';
import { compileDelta } from '../loading/state-text.js';
import { applyDelta, type StateDelta } from './state-delta.js';

type State = ReturnType<typeof testState>;
const load = (json: State): ReturnType<typeof compileState> => compileState(json, 'test');

function edit(change: (state: Record<string, Record<string, Json>>) => void): State {
  const state = testState();
  change(state as Record<string, Record<string, Json>>);
  return state;
}

describe('changedFlags', () => {
  const before = load(testState());

  it('reports nothing for an identical state', () => {
    expect(changedFlags(before, load(testState()))).toEqual([]);
  });

  it('reports a flag whose JSON changed, and added and removed flags', () => {
    const after = load(
      testState({
        'flags/banner': null,
        'flags/new': { name: 'flags/new', clients: ['clients/web'] },
      }),
    );
    expect(changedFlags(before, after)).toEqual(['flags/banner', 'flags/new']);
  });

  it('reports the flags that use a segment whose targeting or allocation changed', () => {
    const retargeted = edit((s) => {
      (s.segments!['segments/sweden'] as { targeting: unknown }).targeting = null;
    });
    expect(changedFlags(before, load(retargeted))).toEqual(['flags/nordic']);
    const reallocated = edit((s) => {
      s.bitsets!['segments/sweden'] = [1, 2, 3];
    });
    expect(changedFlags(before, load(reallocated))).toEqual(['flags/nordic']);
  });

  it('compares allocations, not how the JSON writes them: the same buckets gzipped are no change', () => {
    const listed = edit((s) => {
      s.bitsets!['segments/sweden'] = [1, 2, 3];
    });
    const bytes = new Uint8Array(125_000);
    bytes[0] = 0b1110;
    const gzipped = edit((s) => {
      s.bitsets!['segments/sweden'] = gzipSync(bytes).toString('base64');
    });
    expect(changedFlags(load(listed), load(gzipped))).toEqual([]);
  });

  it('reports every flag when the clients change', () => {
    const after = edit((s) => {
      delete s.clients!['secret-ios'];
    });
    expect(changedFlags(before, load(after))).toEqual([...before.state.flags.keys()].sort());
  });
});

/** The delta the state watch would send from `before` to `after` (entries compared as JSON text). */
function deltaOf(before: Record<string, unknown>, after: Record<string, unknown>): StateDelta {
  const set: Record<string, Record<string, unknown>> = {};
  const remove: Record<string, string[]> = {};
  const replace: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    const isMap = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isMap(old) || !isMap(value)) {
      if (JSON.stringify(old) !== JSON.stringify(value)) replace[key] = value;
      continue;
    }
    for (const name of Object.keys(old)) if (!(name in value)) (remove[key] ??= []).push(name);
    for (const [name, entry] of Object.entries(value))
      if (JSON.stringify(old[name]) !== JSON.stringify(entry)) (set[key] ??= {})[name] = entry;
  }
  return { base: 'b', set, remove, replace };
}

describe('changedFlags from a delta', () => {
  const cases: [string, State][] = [
    ['identical', testState()],
    [
      'flags added and removed',
      testState({
        'flags/banner': null,
        'flags/new': { name: 'flags/new', clients: ['clients/web'] },
      }),
    ],
    [
      'a segment retargeted',
      edit(
        (s) => void ((s.segments!['segments/sweden'] as { targeting: unknown }).targeting = null),
      ),
    ],
    ['a bitset changed', edit((s) => void (s.bitsets!['segments/sweden'] = [1, 2, 3]))],
    [
      'a client removed',
      edit((s) => {
        delete s.clients!['secret-ios'];
      }),
    ],
    [
      'a segment removed with its bitset',
      edit((s) => {
        delete s.segments!['segments/sweden'];
        delete s.bitsets!['segments/sweden'];
      }),
    ],
    [
      'the account replaced',
      edit((s) => void ((s as Record<string, unknown>).account = { name: 'accounts/other' })),
    ],
  ];
  it.each(cases)(
    'a state built from a delta reports what comparing the whole states does: %s',
    (_, afterJson) => {
      const base = testState();
      const before = load(base);
      const delta = deltaOf(base, afterJson);
      const { json } = applyDelta(base, delta, 'test');
      expect(json).toEqual(afterJson);
      // Digesting only what the delta touched gives the fingerprints of digesting it whole.
      const viaDelta = compileDelta(json, 'test', {}, before, delta);
      expect(viaDelta.fingerprints).toEqual(load(afterJson).fingerprints);
      expect(changedFlags(before, viaDelta)).toEqual(changedFlags(before, load(afterJson)));
      // The same from the state's JSON as the watch source keeps it: entry by entry, as bytes.
      const made = entriesData(base)!;
      const view = StateEntries.of(made.data).apply(delta, 'test').json();
      expect(compileDelta(view, 'test', {}, before, delta).fingerprints).toEqual(load(afterJson).fingerprints);
    },
  );
});
