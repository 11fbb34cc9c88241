import { describe, expect, it } from 'vitest';

import { applyDelta, applyDeltaInPlace, type StateDelta } from './state-delta.js';

const state = (): Record<string, Record<string, unknown>> => ({
  account: { name: 'accounts/a' },
  flags: { 'flags/a': { n: 1 }, 'flags/b': { n: 2 } },
  clients: { s: { c: 1 } },
});

describe('applyDeltaInPlace', () => {
  const delta: StateDelta = { base: '1', set: { flags: { 'flags/a': { n: 9 }, 'flags/c': { n: 3 } } }, replace: { account: { name: 'accounts/b' } } };

  it('makes what applyDelta makes, in the same entry order, of the state itself', () => {
    const json = state();
    const { json: applied } = applyDeltaInPlace(json, delta, 'test');
    expect(applied).toBe(json);
    const copy = applyDelta(state(), delta, 'test').json as Record<string, Record<string, unknown>>;
    expect(applied).toEqual(copy);
    expect(Object.keys(applied.flags as object)).toEqual(Object.keys(copy.flags!));
  });

  it('undo puts the state back as it was, entry order included', () => {
    const json = state();
    applyDeltaInPlace(json, delta, 'test').undo();
    expect(json).toEqual(state());
    expect(Object.keys(json.flags!)).toEqual(['flags/a', 'flags/b']);
  });

  it('a delta that removes entries is applied to a copy, the state left as it was', () => {
    const json = state();
    const { json: applied } = applyDeltaInPlace(json, { base: '1', remove: { flags: ['flags/a'] } }, 'test');
    expect(Object.keys(applied.flags as object)).toEqual(['flags/b']);
    expect(json).toEqual(state());
  });

  it('refuses a delta that changes entries of a member that is not an object, changing nothing', () => {
    const json = state();
    expect(() => applyDeltaInPlace(json, { base: '1', set: { account: { x: 1 }, flags: { 'flags/z': {} } }, replace: { flags: [] } }, 'test')).toThrow(
      'the delta changes entries of "flags"',
    );
    expect(json).toEqual(state());
  });
});
