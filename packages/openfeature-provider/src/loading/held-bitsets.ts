/**
 * The bitsets the application's thread already holds, so that a reload moves only those that
 * changed. Without this, every reload transferred all of a state's bitsets again (33 MB at
 * 10,000 segments) even when one segment changed, and V8 answered the new external memory with
 * two collections of the application's isolate: a scavenge in the turn the worker's answer
 * arrived (4–13 ms) and a mark-compact pause soon after (5–13 ms; bench:reload timeline).
 *
 * A set is named by a digest of its bytes (core's `CompactBitset.bytes`: equal sets have equal
 * bytes). The request carries the digests of the sets this thread holds; the worker packs only
 * the sets whose digest is not among them (core's `PrepareOptions.heldBitset`) and sends the
 * digest of every segment's set back, for the next request. The worker keeps nothing of it:
 * several sources may share it, and a worker started after an idle one ended answers alike.
 */
import { createHash } from 'node:crypto';

import type { CompactBitset, ResolverState } from '@allot/core';

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
export function heldIndexOf(held: Uint8Array | undefined): ((set: CompactBitset) => number) | undefined {
  if (held === undefined || held.byteLength === 0) return undefined;
  if (held.byteLength % DIGEST_BYTES !== 0) throw new RangeError(`held digests: ${held.byteLength} bytes is not a whole number of ${DIGEST_BYTES}-byte digests`);
  const bytes = Buffer.from(held.buffer, held.byteOffset, held.byteLength);
  const index = new Map<string, number>();
  // Backwards, so that a digest held twice names its first set.
  for (let k = held.byteLength / DIGEST_BYTES - 1; k >= 0; k--) index.set(bytes.toString('base64', k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES), k);
  return (set) => index.get(bitsetDigest(set)) ?? -1;
}

/** Per segment of `state`, in its order, its set's digest; zeros for a segment without one. */
export function segmentDigests(state: ResolverState): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(DIGEST_BYTES * state.segments.size));
  const bytes = Buffer.from(out.buffer);
  let at = 0;
  for (const segment of state.segments.values()) {
    if (segment.bitset !== null) bytes.write(bitsetDigest(segment.bitset), at, DIGEST_BYTES, 'base64');
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

/**
 * The sets of the last state assembled here for each source, while that state is
 * alive: its entry lives as long as it does (a `WeakMap` by state). A source's new state
 * replaces its last one here at once, so the state it supersedes offers nothing even before it
 * is collected: only the new state's choice of sets (see `remember`) is offered.
 */
export class HeldBitsets {
  private readonly byState = new WeakMap<ResolverState, HeldOffer>();
  private readonly states = new Map<string, WeakRef<ResolverState>>();

  /**
   * Remembers `state`'s sets with their digests (`segmentDigests` of it, from the worker). A
   * set whose buffer is mostly other sets no state uses any more is not offered: the worker
   * sends it again, packed with the others it sends, and the old buffer can then be freed. So
   * the buffers a state keeps alive hold at most twice the bytes of its own sets, however many
   * reloads it descends from.
   */
  remember(source: string, state: ResolverState, digests: Uint8Array): void {
    this.states.delete(source);
    if (digests.byteLength !== DIGEST_BYTES * state.segments.size) return; // not this state's: offer nothing
    const used = new Map<ArrayBufferLike, number>();
    for (const segment of state.segments.values()) {
      const set = segment.bitset;
      if (set !== null) used.set(set.buffer, (used.get(set.buffer) ?? 0) + set.byteLength);
    }
    const sets: CompactBitset[] = [];
    const kept = new Uint8Array(digests.byteLength);
    let i = 0;
    for (const segment of state.segments.values()) {
      const set = segment.bitset;
      if (set !== null && 2 * used.get(set.buffer)! >= set.buffer.byteLength) {
        kept.set(digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES), sets.length * DIGEST_BYTES);
        sets.push(set);
      }
      i++;
    }
    this.byState.set(state, { digests: kept.slice(0, sets.length * DIGEST_BYTES), sets });
    this.states.set(source, new WeakRef(state));
  }

  /**
   * `state`, made on this thread from `from` (a delta), replaces it as `source`'s: the sets
   * `from` offered are offered for it. It shares most of them; those the delta changed are not
   * offered (their digests are not known here) and are sent again by the next whole load.
   */
  madeFrom(source: string, from: ResolverState, state: ResolverState): void {
    const offer = this.byState.get(from);
    this.states.delete(source);
    if (offer === undefined) return;
    this.byState.set(state, offer);
    this.states.set(source, new WeakRef(state));
  }

  /** The sets of each source's last state, if alive, for a request; null when there are none. */
  offer(): HeldOffer | null {
    const offers: HeldOffer[] = [];
    for (const [source, ref] of this.states) {
      const state = ref.deref();
      const offer = state === undefined ? undefined : this.byState.get(state);
      if (offer === undefined) this.states.delete(source);
      else offers.push(offer);
    }
    if (offers.length === 0) return null;
    if (offers.length === 1) return offers[0]!;
    const digests = new Uint8Array(offers.reduce((n, o) => n + o.digests.byteLength, 0));
    let at = 0;
    for (const o of offers) {
      digests.set(o.digests, at);
      at += o.digests.byteLength;
    }
    return { digests, sets: offers.flatMap((o) => o.sets) };
  }
}
