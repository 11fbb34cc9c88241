/**
 * A workspace read again (a file after a hand edit, a database row another instance wrote)
 * is parsed into new bucket sets, which would all deflate their bitsets again at the next
 * compile. `reuseEncodings` gives each set the gzipped bitset of the previous read's
 * segment of the same id when both were read from the same text (`BucketSet.reuseEncodings`).
 */
import type { Workspace } from './model.js';

/** Gives `next`'s segments the encodings of `previous`'s unchanged ones. */
export function reuseEncodings(next: Workspace, previous: Workspace): void {
  const before = new Map(previous.segments.map((s) => [s.id, s.buckets] as const));
  for (const segment of next.segments) {
    const old = before.get(segment.id);
    if (segment.buckets !== null && old !== undefined && old !== null) segment.buckets.reuseEncodings(old);
  }
}
