import {
  CompactBitset,
  loadDelta,
  loadState,
  prepareState,
  StateAssembler,
  type ResolverState,
} from '@allot/core';
import { describe, expect, it } from 'vitest';

import type { LoadedState } from '../types.js';
import type { StateFingerprints } from './fingerprints.js';
import {
  bitsetDigest,
  DIGEST_BYTES,
  heldIndexOf,
  LastStates,
  segmentDigests,
} from './last-states.js';

/** A state whose segments hold `buckets[i]` (null: every bucket). */
function stateOf(buckets: readonly (readonly number[] | null)[]): ResolverState {
  const segments: Record<string, object> = {};
  const bitsets: Record<string, unknown> = {};
  buckets.forEach((b, i) => {
    segments[`segments/s${i}`] = {};
    bitsets[`segments/s${i}`] = b ?? 'ALL';
  });
  return loadState({ account: { name: 'accounts/a' }, segments, bitsets });
}

/** `state` as a source's loader answers it (digests of its own, here none). */
const loaded = (
  state: ResolverState,
  fingerprints: StateFingerprints = NO_DIGESTS,
): LoadedState => ({ state, fingerprints, origin: 'test' });
const NO_DIGESTS: StateFingerprints = { global: '', flags: new Map(), segments: new Map() };

const setsOf = (state: ResolverState): (CompactBitset | null)[] =>
  [...state.segments.values()].map((s) => s.bitset);

describe("a source's last state", () => {
  it('names a set by a digest of its buckets: equal sets share one, different ones do not', () => {
    const a = CompactBitset.fromBuckets([1, 5, 900_000]);
    expect(bitsetDigest(CompactBitset.fromBuckets([900_000, 5, 1]))).toBe(bitsetDigest(a));
    expect(bitsetDigest(CompactBitset.fromBuckets([1, 5]))).not.toBe(bitsetDigest(a));
    expect(Buffer.from(bitsetDigest(a), 'base64').byteLength).toBe(DIGEST_BYTES);
  });

  it("writes a digest per segment, in the state's order, and zeros for a segment without a set", () => {
    const state = stateOf([[1], null, [2, 3]]);
    const digests = Buffer.from(segmentDigests(state));
    expect(digests.byteLength).toBe(3 * DIGEST_BYTES);
    const [s0, , s2] = setsOf(state);
    expect(digests.toString('base64', 0, DIGEST_BYTES)).toBe(bitsetDigest(s0!));
    expect(digests.subarray(DIGEST_BYTES, 2 * DIGEST_BYTES).every((b) => b === 0)).toBe(true);
    expect(digests.toString('base64', 2 * DIGEST_BYTES)).toBe(bitsetDigest(s2!));
  });

  it("answers core's heldBitset with the index of the first set a request named, -1 for any other", () => {
    const [x, y] = [CompactBitset.fromBuckets([7]), CompactBitset.fromBuckets([8])];
    const held = Buffer.concat([x, y, x].map((s) => Buffer.from(bitsetDigest(s), 'base64')));
    const index = heldIndexOf(new Uint8Array(held))!;
    expect(index(CompactBitset.fromBuckets([7]))).toBe(0);
    expect(index(y)).toBe(1);
    expect(index(CompactBitset.fromBuckets([9]))).toBe(-1);
    expect(heldIndexOf(undefined)).toBeUndefined();
    expect(heldIndexOf(new Uint8Array(0))).toBeUndefined();
    expect(() => heldIndexOf(new Uint8Array(DIGEST_BYTES + 1))).toThrow(
      'held digests: 33 bytes is not a whole number of 32-byte digests',
    );
  });

  it("offers a source's own last state's sets with their digests; a source's new state replaces its last at once", async () => {
    const held = new LastStates();
    expect(held.offer('file a')).toBeNull();
    const [s1, s2, s3] = [stateOf([[1], null]), stateOf([[2]]), stateOf([[3], [4]])];
    await held.remember('file a', loaded(s1), segmentDigests(s1), 1);
    await held.remember('file b', loaded(s2), segmentDigests(s2), 1);
    const a = held.offer('file a')!;
    expect(a.sets).toEqual([setsOf(s1)[0]]);
    expect(Buffer.from(a.digests).toString('base64')).toBe(bitsetDigest(setsOf(s1)[0]!));
    expect(held.offer('file b')!.sets).toEqual([setsOf(s2)[0]]);
    // s1 is still alive (this test holds it), but no longer file a's state: not offered.
    await held.remember('file a', loaded(s3), segmentDigests(s3), 1);
    expect(held.offer('file a')!.sets).toEqual(setsOf(s3));
    expect(held.offer('file a')!.digests.byteLength).toBe(2 * DIGEST_BYTES);
    expect(held.offer('file b')!.sets).toEqual([setsOf(s2)[0]]);
  });

  it('offers for a state made from another by a delta the sets of that one it still uses', async () => {
    const held = new LastStates();
    const json = (s1: number[]) => ({
      account: { name: 'accounts/a' },
      segments: { 'segments/s0': {}, 'segments/s1': {} },
      bitsets: { 'segments/s0': [1], 'segments/s1': s1 },
    });
    const before = loadState(json([2]));
    const after = loadDelta(before, json([5]), { bitsets: ['segments/s1'] });
    expect(setsOf(after)[0]).toBe(setsOf(before)[0]);
    await held.remember('watch', loaded(before), segmentDigests(before), 1);
    await held.madeFrom('watch', before, loaded(after), 1);
    const offer = held.offer('watch')!;
    expect(offer.sets).toEqual([setsOf(before)[0]]);
    expect(Buffer.from(offer.digests).toString('base64')).toBe(bitsetDigest(setsOf(before)[0]!));
    // From a state this thread did not assemble: nothing is known of its sets.
    await held.madeFrom('watch', stateOf([[9]]), loaded(after), 1);
    expect(held.offer('watch')).toBeNull();
  });

  it('offers nothing for a state whose digests are not its own', async () => {
    const held = new LastStates();
    const state = stateOf([[1], [2]]);
    await held.remember('file a', loaded(state), new Uint8Array(DIGEST_BYTES), 1);
    expect(held.offer('file a')).toBeNull();
  });

  it("lets a source's next state take the segments and flags whose digests are unchanged, if the account, clients and bloom filters are", async () => {
    const held = new LastStates();
    const state = stateOf([[1]]);
    const digests = (global: string, s0: string): StateFingerprints => ({
      global,
      segments: new Map([['segments/s0', s0]]),
      flags: new Map([['flags/f', 'f1']]),
    });
    expect(held.reusable('file', digests('g', 'a'))).toBeNull();
    await held.remember('file', loaded(state, digests('g', 'a')), segmentDigests(state), 1);
    const reuse = held.reusable('file', digests('g', 'a'))!;
    expect(reuse.previous).toBe(state);
    expect([
      reuse.segmentUnchanged('segments/s0'),
      reuse.segmentUnchanged('segments/gone'),
      reuse.flagUnchanged('flags/f'),
      reuse.flagUnchanged('flags/new'),
    ]).toEqual([true, false, true, false]);
    expect(held.reusable('file', digests('g', 'b'))!.segmentUnchanged('segments/s0')).toBe(false);
    expect(held.reusable('file', digests('other clients', 'a'))).toBeNull();
    expect(held.reusable('another source', digests('g', 'a'))).toBeNull();
  });

  it('does not offer a set whose buffer the state uses less than half of (a set shared by segments counted once), so the next load sends it anew', async () => {
    // Four sets of one size in one transferred buffer, as the loader assembles them.
    const first = assembled([[1], [2], [3], [4]], []);
    const old = setsOf(first);
    expect(new Set(old.map((set) => set!.buffer)).size).toBe(1);
    const held = new LastStates();
    await held.remember('file', loaded(first), segmentDigests(first), 1);
    expect(held.offer('file')!.sets).toEqual(old);
    // Three segments share the first set; the rest is new, in a buffer of its own.
    const second = assembled([[1], [1], [1], [7], [8]], old as CompactBitset[]);
    expect(setsOf(second).slice(0, 3)).toEqual([old[0], old[0], old[0]]);
    await held.remember('file', loaded(second), segmentDigests(second), 1);
    // The old buffer is a quarter used (its one set, counted once), not three quarters.
    expect(held.offer('file')!.sets).toEqual(setsOf(second).slice(3));
  });
});

/** A state assembled as the loader does: bitsets the `held` list has are taken from it, the others packed and transferred. */
function assembled(
  buckets: readonly (readonly number[])[],
  held: readonly CompactBitset[],
): ResolverState {
  const segments: Record<string, object> = {};
  const bitsets: Record<string, unknown> = {};
  buckets.forEach((b, i) => {
    segments[`segments/s${i}`] = {};
    bitsets[`segments/s${i}`] = b;
  });
  const result = prepareState(
    { account: { name: 'accounts/a' }, segments, bitsets },
    { heldBitset: (set) => held.findIndex((h) => h.equals(set)) },
  );
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return new StateAssembler(
    structuredClone(result.prepared, { transfer: [...result.transfer] }),
    held,
  ).finish();
}
