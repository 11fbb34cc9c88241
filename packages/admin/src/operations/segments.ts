/**
 * Segment operations, mirroring Confidence's `/v1/segments` API: create, update with an
 * update mask, allocate, archive, get, list, and the free space for a set of tags. Each is
 * a pure function: it returns a new workspace, or throws an `AdminError` and changes nothing.
 */
import { bucketsFor, formatShare, occupiedFor, place } from '../allocation/allocator.js';
import { BUCKETS } from '../allocation/bucket-set.js';
import { AdminError } from '../errors.js';
import { fractionProblem } from '../workspace/document-reader.js';
import { segmentReferences, type Targeting } from '../targeting/ast.js';
import { parseTargeting } from '../targeting/parser.js';
import type { Coordination, Segment, SegmentState, Workspace } from '../workspace/model.js';
import { canonicalTags, checkId, isGroupTag, tagProblem } from '../workspace/names.js';
import { enabledRulesServing, rulePaths, segmentOf, withSegment } from './lookup.js';
import type { Outcome } from './outcome.js';

export interface SegmentInput {
  readonly id: string;
  readonly displayName?: string;
  /** A targeting expression (see the README's grammar); blank or absent means everyone. */
  readonly targeting?: string;
  /** Share of all buckets, in (0, 1]; 1 by default. */
  readonly proportion?: number;
  readonly exclusivityTags?: readonly string[];
  readonly exclusiveTo?: readonly string[];
}

/** Creates an UNALLOCATED segment. */
export function createSegment(workspace: Workspace, input: SegmentInput): Outcome<Segment> {
  const path = `segments.${input.id}`;
  checkId(input.id, path);
  if (workspace.segments.some((s) => s.id === input.id)) {
    throw new AdminError('ALREADY_EXISTS', 'a segment with this id exists already', { path });
  }
  const segment: Segment = {
    id: input.id,
    displayName: input.displayName ?? input.id,
    targeting: targetingOf(workspace, input.id, input.targeting ?? ''),
    proportion: checkedProportion(input.proportion ?? 1, path),
    exclusivityTags: userTags(input.exclusivityTags ?? [], `${path}.allocation.exclusivityTags`),
    exclusiveTo: userTags(input.exclusiveTo ?? [], `${path}.allocation.exclusiveTo`),
    state: 'UNALLOCATED',
    buckets: null,
  };
  return { workspace: { ...workspace, segments: [...workspace.segments, segment] }, result: segment, warnings: [] };
}

/** Fields an update mask may name (Confidence's paths). */
export type SegmentField =
  | 'displayName'
  | 'targeting'
  | 'allocation.proportion'
  | 'allocation.exclusivityTags'
  | 'allocation.exclusiveTo';

export const SEGMENT_FIELDS: readonly SegmentField[] = [
  'displayName',
  'targeting',
  'allocation.proportion',
  'allocation.exclusivityTags',
  'allocation.exclusiveTo',
];

export interface SegmentUpdate {
  readonly displayName?: string;
  readonly targeting?: string;
  readonly proportion?: number;
  readonly exclusivityTags?: readonly string[];
  readonly exclusiveTo?: readonly string[];
}

export interface UpdateOptions {
  /** Allow lowering the proportion of a segment that serves an enabled rule. */
  readonly force?: boolean;
}

/** How an allocated segment's buckets changed. */
export interface Reallocation {
  /** Buckets held before and after. */
  readonly kept: number;
  readonly added: number;
  readonly removed: number;
}

export interface SegmentChange {
  readonly segment: Segment;
  /** Set when the segment is allocated and its buckets were recomputed. */
  readonly reallocation: Reallocation | null;
}

/**
 * Updates the fields named in `mask` (absent values clear tags and targeting). For an
 * allocated segment: raising the proportion keeps every bucket and adds free ones; lowering
 * drops buckets at random and is refused for a segment serving an enabled rule unless
 * `force`; new tags keep the buckets that stay legal and reallocate the rest.
 */
export function updateSegment(
  workspace: Workspace,
  id: string,
  update: SegmentUpdate,
  mask: readonly SegmentField[],
  options: UpdateOptions = {},
): Outcome<SegmentChange> {
  const current = segmentOf(workspace, id);
  const path = `segments.${id}`;
  if (mask.length === 0) {
    throw new AdminError('INVALID_ARGUMENT', `name the fields to change in the update mask (${SEGMENT_FIELDS.join(', ')})`, { path: 'updateMask' });
  }
  for (const field of mask) {
    if (!SEGMENT_FIELDS.includes(field)) {
      throw new AdminError('INVALID_ARGUMENT', `unknown field ${JSON.stringify(field)}; expected ${SEGMENT_FIELDS.join(', ')}`, { path: 'updateMask' });
    }
  }
  if (current.state === 'ARCHIVED') {
    throw new AdminError('FAILED_PRECONDITION', 'the segment is ARCHIVED and cannot change', { path: `${path}.state` });
  }
  const has = (f: SegmentField): boolean => mask.includes(f);
  let proportion = current.proportion;
  if (has('allocation.proportion')) {
    if (update.proportion === undefined) {
      throw new AdminError('INVALID_ARGUMENT', 'the mask names allocation.proportion but no proportion was given', { path: `${path}.allocation.proportion` });
    }
    proportion = checkedProportion(update.proportion, path);
  }
  const groupTags = (list: readonly string[]): string[] => list.filter(isGroupTag);
  const exclusivityTags = has('allocation.exclusivityTags')
    ? canonicalTags([...userTags(update.exclusivityTags ?? [], `${path}.allocation.exclusivityTags`), ...groupTags(current.exclusivityTags)])
    : current.exclusivityTags;
  const exclusiveTo = has('allocation.exclusiveTo')
    ? canonicalTags([...userTags(update.exclusiveTo ?? [], `${path}.allocation.exclusiveTo`), ...groupTags(current.exclusiveTo)])
    : current.exclusiveTo;
  const next: Segment = {
    ...current,
    displayName: has('displayName') ? (update.displayName ?? id) : current.displayName,
    targeting: has('targeting') ? targetingOf(workspace, id, update.targeting ?? '') : current.targeting,
    proportion,
    exclusivityTags,
    exclusiveTo,
  };
  const out = reshape(workspace, current, next, options.force ?? false);
  return { workspace: out.workspace, result: { segment: out.segment, reallocation: out.reallocation }, warnings: [] };
}

/**
 * Replaces `current` by `next` (same id), recomputing its buckets when it is allocated and
 * its proportion or coordination changed. Shared with the exclusion-group operations.
 */
export function reshape(
  workspace: Workspace,
  current: Segment,
  next: Segment,
  force: boolean,
): { workspace: Workspace; segment: Segment; reallocation: Reallocation | null } {
  const sameTags = sameList(current.exclusivityTags, next.exclusivityTags) && sameList(current.exclusiveTo, next.exclusiveTo);
  if (current.state !== 'ALLOCATED' || current.buckets === null || (sameTags && next.proportion === current.proportion)) {
    return { workspace: withSegment(workspace, next), segment: next, reallocation: null };
  }
  const target = bucketsFor(next.proportion);
  if (target < current.buckets.count && !force) {
    const serving = enabledRulesServing(workspace, current.id);
    if (serving.length > 0) {
      throw new AdminError(
        'FAILED_PRECONDITION',
        `lowering the proportion from ${current.proportion} to ${next.proportion} would take units out of a live experiment ` +
          `(enabled rules: ${rulePaths(serving)}); disable those rules first, or lower it anyway: ` +
          `"allot segments update ${current.id} --update-mask proportion --proportion ${next.proportion} --force" ` +
          `(over HTTP: PATCH /v1/segments/${current.id}?updateMask=allocation.proportion&force=true)`,
        { path: `segments.${current.id}.allocation.proportion` },
      );
    }
  }
  const placement = place(workspace, current, next, target, sameTags ? 'resize' : 'retag');
  const segment: Segment = { ...next, buckets: placement.buckets };
  return {
    workspace: withSegment(workspace, segment),
    segment,
    reallocation: { kept: placement.kept, added: placement.added, removed: placement.removed },
  };
}

export interface AllocationResult {
  readonly segment: Segment;
  /** Buckets it now holds. */
  readonly buckets: number;
}

/**
 * Allocates an UNALLOCATED segment: round(proportion × 1,000,000) buckets chosen uniformly
 * at random among those no conflicting allocated segment holds. Throws INSUFFICIENT_SPACE
 * (naming the conflicting segments, the space needed and the space free) when they do not fit.
 */
export function allocateSegment(workspace: Workspace, id: string): Outcome<AllocationResult> {
  const current = segmentOf(workspace, id);
  if (current.state !== 'UNALLOCATED') {
    throw new AdminError('FAILED_PRECONDITION', `only an UNALLOCATED segment can be allocated, and this one is ${current.state}`, {
      path: `segments.${id}.state`,
    });
  }
  const placement = place(workspace, current, current, bucketsFor(current.proportion), 'allocate');
  const segment: Segment = { ...current, state: 'ALLOCATED', buckets: placement.buckets };
  return { workspace: withSegment(workspace, segment), result: { segment, buckets: placement.buckets.count }, warnings: [] };
}

/** Archives a segment, freeing its buckets. Refused while an enabled rule uses it. */
export function archiveSegment(workspace: Workspace, id: string): Outcome<Segment> {
  const current = segmentOf(workspace, id);
  if (current.state === 'ARCHIVED') {
    throw new AdminError('FAILED_PRECONDITION', 'the segment is already ARCHIVED', { path: `segments.${id}.state` });
  }
  const serving = enabledRulesServing(workspace, id);
  if (serving.length > 0) {
    throw new AdminError('FAILED_PRECONDITION', `enabled rules use this segment (${rulePaths(serving)}); disable or archive them first`, {
      path: `segments.${id}.state`,
    });
  }
  const segment: Segment = { ...current, state: 'ARCHIVED', buckets: null };
  const referrers = workspace.segments.filter((s) => s.state !== 'ARCHIVED' && s.targeting !== null && segmentReferences(s.targeting.expr).includes(id));
  const warnings = referrers.map((s) => `segment ${s.id} refers to ${id} in its targeting; that condition now matches no one`);
  return { workspace: withSegment(workspace, segment), result: segment, warnings };
}

export function getSegment(workspace: Workspace, id: string): Segment {
  return segmentOf(workspace, id);
}

export interface SegmentFilter {
  readonly state?: SegmentState;
  /** Segments carrying this tag in exclusivityTags or exclusiveTo. */
  readonly tag?: string;
}

export function listSegments(workspace: Workspace, filter: SegmentFilter = {}): readonly Segment[] {
  return workspace.segments.filter(
    (s) =>
      (filter.state === undefined || s.state === filter.state) &&
      (filter.tag === undefined || s.exclusivityTags.includes(filter.tag) || s.exclusiveTo.includes(filter.tag)),
  );
}

export interface Space {
  /** Fraction of the 1,000,000 buckets a segment with these tags could still take. */
  readonly free: number;
  readonly freeBuckets: number;
  /** The allocated segments that conflict with these tags, sorted. */
  readonly conflicting: readonly string[];
}

/**
 * Free space for a segment with `coordination`, computed from the allocated bitsets (not
 * summed from proportions). With `segment`, that segment's own buckets count as free: the
 * answer is then the largest proportion it could be raised to.
 */
export function availableSpace(workspace: Workspace, coordination: Partial<Coordination>, segment?: string): Space {
  if (segment !== undefined) segmentOf(workspace, segment);
  const occupied = occupiedFor(
    workspace,
    { exclusivityTags: coordination.exclusivityTags ?? [], exclusiveTo: coordination.exclusiveTo ?? [] },
    segment,
  );
  const freeBuckets = BUCKETS - occupied.count;
  return { free: freeBuckets / BUCKETS, freeBuckets, conflicting: occupied.conflicting };
}

/** `0.1` as `10% (100000 buckets)`. */
export function describeProportion(proportion: number): string {
  return `${formatShare(bucketsFor(proportion))} (${bucketsFor(proportion)} buckets)`;
}

/** `value` as a segment's proportion, or INVALID_ARGUMENT at `<path>.allocation.proportion`. */
export function checkedProportion(value: number, path: string): number {
  const problem = fractionProblem(value);
  if (problem !== undefined) throw new AdminError('INVALID_ARGUMENT', problem, { path: `${path}.allocation.proportion` });
  return value;
}

function userTags(tags: readonly string[], path: string): string[] {
  tags.forEach((t, i) => {
    const problem = tagProblem(t);
    if (problem !== undefined) throw new AdminError('INVALID_ARGUMENT', problem, { path: `${path}[${i}]` });
  });
  return canonicalTags(tags);
}

function targetingOf(workspace: Workspace, id: string, text: string): Targeting | null {
  const path = `segments.${id}.targeting`;
  const targeting = parseTargeting(text, path);
  if (targeting !== null) {
    for (const ref of segmentReferences(targeting.expr)) {
      if (ref === id) throw new AdminError('INVALID_ARGUMENT', 'a segment cannot refer to itself', { path });
      const target = workspace.segments.find((s) => s.id === ref);
      if (target === undefined) throw new AdminError('NOT_FOUND', `refers to unknown segment ${JSON.stringify(ref)}`, { path });
    }
  }
  return targeting;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
