/**
 * What the application's thread keeps of each source's last state, so that a reload moves and
 * compiles only what changed (`LastStates`).
 *
 * First, the bitsets it already holds. Without them, every reload transferred all of a state's
 * bitsets again (33 MB at 10,000 segments) even when one segment changed, and V8 answered the
 * new external memory with two collections of the application's isolate: a scavenge in the
 * turn the worker's answer arrived (4–13 ms) and a mark-compact pause soon after (5–13 ms;
 * bench:reload timeline).
 *
 * A set is named by a digest of its bytes (core's `CompactBitset.bytes`: equal sets have equal
 * bytes). The request carries the digests of the sets this thread holds; the worker packs only
 * the sets whose digest is not among them (core's `PrepareOptions.heldBitset`) and sends the
 * digest of every segment's set back, for the next request. The worker keeps nothing of it:
 * several sources may share it, and a worker started after an idle one ended answers alike.
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { CompactBitset, ResolverState, ReusableState } from '@allot/core';

import type { LoadedState } from '../types.js';
import type { StateFingerprints } from './fingerprints.js';

/** Bytes of a digest (SHA-256): two different sets must never share one. */
export const DIGEST_BYTES = 32;

// The worker's side.

/** Digests already computed, by set: the worker's decoded sets outlive a load (load-worker.ts). */
const digestOfSet = new WeakMap<CompactBitset, string>();

/** A digest of the set's bytes, base64. */
export function bitsetDigest(set: CompactBitset): string {
  let digest = digestOfSet.get(set);
  if (digest === undefined) {
    digest = createHash('sha256').update(set.bytes).digest('base64');
    digestOfSet.set(set, digest);
  }
  return digest;
}

/**
 * Core's `heldBitset` for the digests a request carried (`DIGEST_BYTES` each): the index of
 * the set with `set`'s digest, or -1. Undefined when the request carried none.
 */
export function heldIndexOf(
  held: Uint8Array | undefined,
): ((set: CompactBitset) => number) | undefined {
  if (held === undefined || held.byteLength === 0) return undefined;
  if (held.byteLength % DIGEST_BYTES !== 0)
    throw new RangeError(
      `held digests: ${held.byteLength} bytes is not a whole number of ${DIGEST_BYTES}-byte digests`,
    );
  const index = digestIndex(held, Array.from({ length: held.byteLength / DIGEST_BYTES }, (_, k) => k));
  return (set) => index.get(bitsetDigest(set)) ?? -1;
}

/**
 * The digests at positions `which` of `digests` (`DIGEST_BYTES` each), base64, to their
 * position; a digest at several positions names the first of them.
 */
export function digestIndex(digests: Uint8Array, which: Iterable<number>): Map<string, number> {
  const bytes = Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength);
  const index = new Map<string, number>();
  for (const k of which) {
    const key = bytes.toString('base64', k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES);
    if (!index.has(key)) index.set(key, k);
  }
  return index;
}

/** Per segment of `state`, in its order, its set's digest; zeros for a segment without one. */
export function segmentDigests(state: ResolverState): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(DIGEST_BYTES * state.segments.size));
  const bytes = Buffer.from(out.buffer);
  let at = 0;
  for (const segment of state.segments.values()) {
    if (segment.bitset !== null)
      bytes.write(bitsetDigest(segment.bitset), at, DIGEST_BYTES, 'base64');
    at += DIGEST_BYTES;
  }
  return out;
}

// The application's side.

/** Sets this thread offers the worker, and their digests (`DIGEST_BYTES` each), in the same order. */
export interface HeldOffer {
  readonly digests: Uint8Array;
  readonly sets: readonly CompactBitset[];
}

/** What to offer of a state's sets, and the sets it holds that are in a buffer it uses less than half of. */
interface Offered extends HeldOffer {
  readonly withdrawn: ReadonlySet<CompactBitset>;
}

/** What this thread keeps of a source's last state. */
interface LastState {
  /** Its sets to offer the worker; null for none. */
  readonly offer: HeldOffer | null;
  /** Its sets in a buffer it uses less than half of: the segments holding them are compiled again, with the set sent anew. */
  readonly withdrawn: ReadonlySet<CompactBitset>;
  /** Its digests (what `changedFlags` compares), which say what the next state changed. */
  readonly fingerprints: StateFingerprints;
}

/**
 * The last state assembled here for each source, while that state is alive (its entry lives as
 * long as it does: a `WeakMap` by state), for the source's next whole load:
 *
 * - its bitsets, with their digests, offered to the worker: the worker sends back only the
 *   bitsets the next state does not share with it;
 * - its compiled segments and flags, which the next state takes where their digests
 *   (`StateFingerprints`) did not change (core's `ReusableState`), so a reload compiles only
 *   what changed, and keeps the specialized code and results of the rest.
 *
 * A source's new state replaces its last one here at once, so a state it supersedes offers
 * nothing even before it is collected. A request offers its own source's last state only:
 * sources do not keep each other's buffers alive, and a request carries 32 bytes per bitset of
 * one state, however many sources there are.
 *
 * A set is offered only while the state holding it uses at least half of the bytes of its
 * buffer: the others are sent anew by the next whole load, and their old buffer is freed
 * with the state. So the buffers a state keeps alive hold at most its own sets plus twice
 * the bytes of the state before it (whose offer it took them from).
 */
export class LastStates {
  private readonly byState = new WeakMap<ResolverState, LastState>();
  private readonly states = new Map<string, WeakRef<ResolverState>>();

  /**
   * Remembers `loaded`, just assembled, as `source`'s, with the digests of its segments' sets
   * (`segmentDigests`, from the worker). In slices of `sliceMs`, the event loop between them:
   * at 10,000 segments the passes take several milliseconds.
   */
  async remember(
    source: string,
    loaded: LoadedState,
    digests: Uint8Array,
    sliceMs: number,
  ): Promise<void> {
    const { state } = loaded;
    const sets = Array.from(state.segments.values(), (segment) => segment.bitset);
    // Not this state's digests (none, or another's): nothing is offered for it.
    const offered =
      digests.byteLength === DIGEST_BYTES * sets.length
        ? await inTurns(offerSteps(state, sets, digests), sliceMs)
        : null;
    this.keep(source, state, {
      offer: offered,
      withdrawn: offered?.withdrawn ?? NONE,
      fingerprints: loaded.fingerprints,
    });
  }

  /**
   * `loaded`, made on this thread from `from` (a delta), replaces it as `source`'s: the sets
   * `from` offered that it still uses are offered for it. The sets the delta changed are not
   * (their digests are not known here): the next whole load sends them again.
   */
  async madeFrom(
    source: string,
    from: ResolverState,
    loaded: LoadedState,
    sliceMs: number,
  ): Promise<void> {
    const was = this.byState.get(from);
    if (was === undefined) {
      this.keep(source, loaded.state, null);
      return;
    }
    const offered = await inTurns(
      offerSteps(loaded.state, was.offer?.sets ?? [], was.offer?.digests ?? new Uint8Array(0)),
      sliceMs,
    );
    this.keep(source, loaded.state, {
      offer: offered,
      withdrawn: offered.withdrawn,
      fingerprints: loaded.fingerprints,
    });
  }

  /** The sets of `source`'s last state, if it is alive, for a request; null when there are none. */
  offer(source: string): HeldOffer | null {
    return this.last(source)?.offer ?? null;
  }

  /**
   * What a new state of `source` (with `fingerprints`) may take from its last one: the
   * segments and flags whose digests are unchanged (not a segment whose set is withdrawn: it
   * is compiled again with the set the worker sent anew). Null when there is no last state,
   * or the account, clients or bloom filters changed (`global`); core itself takes nothing
   * from a state of another shape or other options.
   */
  reusable(source: string, fingerprints: StateFingerprints): ReusableState | null {
    const state = this.states.get(source)?.deref();
    const last = state === undefined ? undefined : this.byState.get(state);
    if (
      state === undefined ||
      last === undefined ||
      last.fingerprints.global !== fingerprints.global
    )
      return null;
    const was = last.fingerprints;
    return {
      previous: state,
      segmentUnchanged: (name) => {
        const set = state.segments.get(name)?.bitset ?? null;
        return (
          unchanged(fingerprints.segments, was.segments, name) &&
          (set === null || !last.withdrawn.has(set))
        );
      },
      flagUnchanged: (name) => unchanged(fingerprints.flags, was.flags, name),
    };
  }

  private last(source: string): LastState | undefined {
    const state = this.states.get(source)?.deref();
    return state === undefined ? undefined : this.byState.get(state);
  }

  private keep(source: string, state: ResolverState, last: LastState | null): void {
    for (const [name, ref] of this.states) if (ref.deref() === undefined) this.states.delete(name);
    this.states.delete(source);
    if (last === null) return;
    const offer =
      last.offer === null || last.offer.sets.length === 0
        ? null
        : { digests: last.offer.digests, sets: last.offer.sets };
    this.byState.set(state, { ...last, offer });
    this.states.set(source, new WeakRef(state));
  }
}

const NONE: ReadonlySet<CompactBitset> = new Set();

/** Whether `name` has a digest in `now`, the one it had in `was`. */
function unchanged(
  now: ReadonlyMap<string, string>,
  was: ReadonlyMap<string, string>,
  name: string,
): boolean {
  const digest = now.get(name);
  return digest !== undefined && digest === was.get(name);
}

/** Items of a pass between two looks at the clock. */
const CHUNK = 256;

/** Runs `steps` to the end in slices of about `sliceMs`, letting the event loop run between them. */
async function inTurns<T>(steps: Generator<void, T, void>, sliceMs: number): Promise<T> {
  let until = performance.now() + sliceMs;
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
    if (performance.now() >= until) {
      await nextTurn();
      until = performance.now() + sliceMs;
    }
  }
}

/**
 * What to offer for `state` of `candidates` (sets, with their digests in the same order): each
 * set `state` uses, once, if `state` uses at least half of its buffer's bytes (each distinct
 * set counted once); and the sets `state` holds in a buffer it uses less than half of
 * (`withdrawn`). Pauses (`yield`) every CHUNK items.
 */
function* offerSteps(
  state: ResolverState,
  candidates: readonly (CompactBitset | null)[],
  digests: Uint8Array,
): Generator<void, Offered, void> {
  const inUse = new Set<CompactBitset>();
  const used = new Map<ArrayBufferLike, number>();
  let n = 0;
  for (const segment of state.segments.values()) {
    const set = segment.bitset;
    if (set !== null && !inUse.has(set)) {
      inUse.add(set);
      used.set(set.buffer, (used.get(set.buffer) ?? 0) + set.byteLength);
    }
    if (++n % CHUNK === 0) yield;
  }
  const kept: number[] = [];
  const offered = new Set<CompactBitset>();
  for (let k = 0; k < candidates.length; k++) {
    const set = candidates[k] ?? null;
    if (
      set !== null &&
      !offered.has(set) &&
      inUse.has(set) &&
      2 * used.get(set.buffer)! >= set.buffer.byteLength
    ) {
      offered.add(set);
      kept.push(k);
    }
    if ((k + 1) % CHUNK === 0) yield;
  }
  const out = new Uint8Array(kept.length * DIGEST_BYTES);
  kept.forEach((k, j) => {
    out.set(digests.subarray(k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES), j * DIGEST_BYTES);
  });
  let withdrawn: Set<CompactBitset> | null = null;
  for (const set of inUse)
    if (2 * used.get(set.buffer)! < set.buffer.byteLength) (withdrawn ??= new Set()).add(set);
  return { digests: out, sets: kept.map((k) => candidates[k]!), withdrawn: withdrawn ?? NONE };
}
