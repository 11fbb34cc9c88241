/**
 * The segment count that WORKSPACE_LIMITS.maxSegments bounds: segments that are not archived.
 */
import { AdminError } from '../errors.js';
import { WORKSPACE_LIMITS } from '../targeting/limits.js';
import type { Workspace } from './model.js';

/** Segments of `workspace` that are UNALLOCATED or ALLOCATED. */
export function liveSegments(workspace: Workspace): number {
  let n = 0;
  for (const s of workspace.segments) if (s.state !== 'ARCHIVED') n++;
  return n;
}

/**
 * Refuses (INVALID_ARGUMENT, with `limit`) a change from `before` to `after` that takes the
 * workspace past WORKSPACE_LIMITS.maxSegments, or further past it (a file edited by hand
 * beyond it can still have segments archived).
 */
export function checkSegmentCount(before: Workspace, after: Workspace): void {
  const { maxSegments } = WORKSPACE_LIMITS;
  const a = liveSegments(after);
  if (a <= maxSegments || a <= liveSegments(before)) return;
  throw new AdminError(
    'INVALID_ARGUMENT',
    `the workspace would hold ${a} segments that are not archived, over the limit of ${maxSegments} (workspace.maxSegments); ` +
      'archive segments whose experiments have ended ("allot segments archive ID", or POST /v1/segments/ID:archive): archived segments stay in the file as a record and do not count',
    { path: 'segments', limit: { name: 'workspace.maxSegments', max: maxSegments, actual: a } },
  );
}
