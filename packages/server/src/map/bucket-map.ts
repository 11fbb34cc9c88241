/**
 * `GET /v1/segments:bucketMap`: the 1,000,000 segment buckets as the coordination map draws
 * them. Segments coordinate through exclusivity tags, so the space is shown per tag family:
 * one family per tag (the allocated segments carrying it), and one for allocated segments
 * without tags. Each member's buckets are counted per cell of `cells` equal runs, so a page
 * can draw them without a million rectangles; the totals are exact. Computed once per
 * workspace version and number of cells.
 */
import { availableSpace, BUCKETS, type Segment, type Workspace } from '@allot/admin';

import { invalid } from '../http/api-error.js';
import type { Route } from '../http/router.js';
import type { Store } from '../store/store.js';
import type { WorkspaceSnapshot } from '../store/workspace-store.js';

export const DEFAULT_CELLS = 500;
export const MAX_CELLS = 10_000;

export interface FamilyMember {
  readonly segment: string;
  readonly buckets: number;
  /** Buckets held per cell; cell i covers buckets [i·size, (i+1)·size). */
  readonly cells: readonly number[];
}

export interface TagFamily {
  /** The tag; null for the allocated segments that have none. */
  readonly tag: string | null;
  readonly members: readonly FamilyMember[];
  /**
   * Buckets a new segment tagged with `tag` and exclusive to it could get (for the untagged
   * family: the buckets none of its members holds).
   */
  readonly freeBuckets: number;
}

export interface BucketMap {
  readonly buckets: number;
  readonly cells: number;
  /** Buckets per cell (the last cell may hold fewer). */
  readonly cellSize: number;
  readonly families: readonly TagFamily[];
}

function member(s: Segment, cells: number, cellSize: number): FamilyMember {
  const words = s.buckets!.words();
  const counts = new Array<number>(cells).fill(0);
  for (let b = 0; b < BUCKETS; b++) {
    if ((words[b >>> 5]! & (1 << (b & 31))) !== 0) counts[Math.floor(b / cellSize)]!++;
  }
  return { segment: s.id, buckets: s.buckets!.count, cells: counts };
}

export function bucketMap(workspace: Workspace, cells: number): BucketMap {
  const cellSize = Math.ceil(BUCKETS / cells);
  const allocated = workspace.segments.filter((s) => s.state === 'ALLOCATED' && s.buckets !== null);
  const members = new Map(allocated.map((s) => [s.id, member(s, cells, cellSize)]));
  const tags = [...new Set(allocated.flatMap((s) => s.exclusivityTags))].sort();
  const families: TagFamily[] = tags.map((tag) => ({
    tag,
    members: allocated.filter((s) => s.exclusivityTags.includes(tag)).map((s) => members.get(s.id)!),
    freeBuckets: availableSpace(workspace, { exclusivityTags: [tag], exclusiveTo: [tag] }).freeBuckets,
  }));
  const untagged = allocated.filter((s) => s.exclusivityTags.length === 0);
  if (untagged.length > 0) {
    const held = new Uint8Array(BUCKETS);
    for (const s of untagged) {
      const words = s.buckets!.words();
      for (let b = 0; b < BUCKETS; b++) if ((words[b >>> 5]! & (1 << (b & 31))) !== 0) held[b] = 1;
    }
    families.push({ tag: null, members: untagged.map((s) => members.get(s.id)!), freeBuckets: BUCKETS - held.reduce((a, x) => a + x, 0) });
  }
  return { buckets: BUCKETS, cells, cellSize, families };
}

export function bucketMapRoutes(store: Store): Route[] {
  // The last answers, per snapshot (a new workspace version is a new snapshot).
  const cache = new WeakMap<WorkspaceSnapshot, Map<number, BucketMap>>();
  return [
    {
      method: 'GET',
      path: '/v1/segments:bucketMap',
      scope: 'read',
      query: ['cells'],
      async handle(ctx) {
        const text = ctx.query.string('cells');
        const cells = text === undefined ? DEFAULT_CELLS : Number(text);
        if (!/^\d+$/.test(text ?? '1') || !Number.isInteger(cells) || cells < 1 || cells > MAX_CELLS) {
          throw invalid('cells', `expected a whole number from 1 to ${MAX_CELLS}, got ${JSON.stringify(text)}`);
        }
        const snapshot = await store.current();
        let byCells = cache.get(snapshot);
        if (byCells === undefined) cache.set(snapshot, (byCells = new Map<number, BucketMap>()));
        let map = byCells.get(cells);
        if (map === undefined) byCells.set(cells, (map = bucketMap(snapshot.workspace, cells)));
        return { body: map, headers: { etag: `"${snapshot.etag}-${cells}"`, 'cache-control': 'no-cache' } };
      },
    },
  ];
}
