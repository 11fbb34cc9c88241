/**
 * `GET /v1/segments:bucketMap`: the 1,000,000 segment buckets as the coordination map draws
 * them, one chart per tag family. The family of tag T is every allocated segment that
 * conflicts with a segment tagged T and exclusive to T, by the allocator's own rule
 * (admin's `availableSpace`, which uses `conflictsWith`): the segments tagged T, and those exclusive to T whatever their own tags
 * (`mixed-experiment`, tagged `search` and exclusive to `ranking`, holds ranking's space).
 * Its free space is admin's `availableSpace` for that segment, so a chart says what
 * `allot segments space --tags T --exclusive-to T` says. Segments with no tags and exclusive
 * to nothing form one more family. Each bucket of a family is drawn once: as the one member holding it,
 * as `shared` when members that do not conflict with each other both hold it, or as free; so
 * the members' own buckets, the shared ones and the free ones add up to 1,000,000. Counts are
 * per cell of `cells` equal runs, so a page draws no million rectangles; totals are exact.
 * Computed once per workspace version and number of cells.
 */
import { availableSpace, BUCKETS, type Coordination, type Segment, type Workspace } from '@allot/admin';

import { invalid } from '../http/api-error.js';
import type { Route } from '../http/router.js';
import type { Store } from '../store/store.js';
import type { WorkspaceSnapshot } from '../store/workspace-store.js';

export const DEFAULT_CELLS = 500;
export const MAX_CELLS = 10_000;

/** A run of buckets counted per cell: cell i covers buckets [i·size, (i+1)·size). */
export interface CellCounts {
  readonly buckets: number;
  readonly cells: readonly number[];
}

export interface FamilyMember {
  readonly segment: string;
  /** Every bucket the segment holds. */
  readonly buckets: number;
  /** The buckets it holds and no other member of the family does, in total and per cell. */
  readonly own: CellCounts;
}

export interface TagFamily {
  /** The tag; null for the allocated segments with no tags and exclusive to nothing. */
  readonly tag: string | null;
  /** Every allocated segment that conflicts with a segment tagged `tag` and exclusive to it, by id. */
  readonly members: readonly FamilyMember[];
  /** Buckets held by two or more members (possible only for members that do not conflict with each other). */
  readonly shared: CellCounts;
  /**
   * Buckets no member holds: for a tag, what a new segment tagged `tag` and exclusive to it
   * could get (admin's `availableSpace`).
   */
  readonly free: CellCounts;
  /** `free.buckets`, kept for older clients. */
  readonly freeBuckets: number;
}

export interface BucketMap {
  readonly buckets: number;
  readonly cells: number;
  /** Buckets per cell (the last cell may hold fewer). */
  readonly cellSize: number;
  readonly families: readonly TagFamily[];
}

/** `?cells=` (or another parameter named `field`) checked: a whole number from 1 to MAX_CELLS. */
export function parseCells(text: string | undefined, field: string): number {
  const cells = text === undefined ? DEFAULT_CELLS : Number(text);
  if (!/^\d+$/.test(text ?? '1') || !Number.isInteger(cells) || cells < 1 || cells > MAX_CELLS) {
    throw invalid(field, `expected a whole number from 1 to ${MAX_CELLS}, got ${JSON.stringify(text)}`);
  }
  return cells;
}

/** Calls `visit` with every bucket the segment holds (skipping empty words: allocations are often sparse). */
function eachBucket(s: Segment, visit: (b: number) => void): void {
  const words = s.buckets!.words();
  for (let w = 0; w < words.length; w++) {
    let word = words[w]!;
    while (word !== 0) {
      const low = word & -word;
      visit(w * 32 + 31 - Math.clz32(low));
      word ^= low;
    }
  }
}

/** `holders`: a zeroed scratch array of BUCKETS entries, left zeroed again. */
function family(tag: string | null, segments: readonly Segment[], free: number | null, cells: number, cellSize: number, holders: Uint8Array): TagFamily {
  // How many members hold each bucket (capped at 2): work in proportion to the buckets held.
  for (const s of segments) eachBucket(s, (b) => void (holders[b] = Math.min(2, holders[b]! + 1)));
  const cellOf = (b: number): number => Math.floor(b / cellSize);
  const sharedCells = new Array<number>(cells).fill(0);
  let sharedTotal = 0;
  const members = segments.map((s) => {
    const own = new Array<number>(cells).fill(0);
    let total = 0;
    eachBucket(s, (b) => {
      const h = holders[b]!;
      if (h === 1) {
        own[cellOf(b)]!++;
        total++;
      } else if (h === 2) {
        // Counted once, at the first member that holds it; 3 marks it as counted.
        sharedCells[cellOf(b)]!++;
        sharedTotal++;
        holders[b] = 3;
      }
    });
    return { segment: s.id, buckets: s.buckets!.count, own: { buckets: total, cells: own } };
  });
  for (const s of segments) eachBucket(s, (b) => void (holders[b] = 0));
  const freeCells = Array.from({ length: cells }, (_, i) => Math.min(cellSize, BUCKETS - i * cellSize) - members.reduce((sum, m) => sum + m.own.cells[i]!, 0) - sharedCells[i]!);
  const freeTotal = BUCKETS - members.reduce((sum, m) => sum + m.own.buckets, 0) - sharedTotal;
  if (free !== null && free !== freeTotal) {
    // One rule decides both (the allocator's); a difference would be a bug here, not a state to draw.
    throw new Error(`bucket map of tag ${tag ?? '(none)'}: ${freeTotal} buckets held by no member, but the allocator counts ${free} free`);
  }
  return { tag, members, shared: { buckets: sharedTotal, cells: sharedCells }, free: { buckets: freeTotal, cells: freeCells }, freeBuckets: freeTotal };
}

export function bucketMap(workspace: Workspace, cells: number): BucketMap {
  const cellSize = Math.ceil(BUCKETS / cells);
  const allocated = workspace.segments.filter((s) => s.state === 'ALLOCATED' && s.buckets !== null);
  const tags = [...new Set(allocated.flatMap((s) => [...s.exclusivityTags, ...s.exclusiveTo]))].sort();
  const holders = new Uint8Array(BUCKETS);
  const families = tags.map((tag) => {
    const probe: Coordination = { exclusivityTags: [tag], exclusiveTo: [tag] };
    const space = availableSpace(workspace, probe);
    const members = space.conflicting.map((id) => allocated.find((s) => s.id === id)!);
    return family(tag, members, space.freeBuckets, cells, cellSize, holders);
  });
  // Segments with no tags and exclusive to nothing conflict with no segment: they may overlap anything.
  const loose = allocated.filter((s) => s.exclusivityTags.length === 0 && s.exclusiveTo.length === 0);
  if (loose.length > 0) families.push(family(null, loose, null, cells, cellSize, holders));
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
        const cells = parseCells(ctx.query.string('cells'), 'cells');
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
