/**
 * `checkWorkspace` for one change: the consistency problems of `after`, made from `before`,
 * which had none, found by checking only what the change touched and what depends on it.
 *
 * Every check of `checkWorkspace` reads one entry and what it refers to, so an entry can only
 * gain a problem when it changed or when something it refers to did:
 * - a segment: its own fields, and the segments its targeting refers to (their existence);
 * - a group's members: the group, and the existence of the segments it lists;
 * - a segment's group tags: the segment, and the groups that list it;
 * - exclusivity: the changed segments against every allocated one they conflict with;
 * - a flag: the flag, and the existence and state of the segments its rules use.
 * The environments and clients are not covered: a change to them is checked in full.
 */
import type { WorkspaceIssue } from '../errors.js';
import { segmentReferences } from '../targeting/ast.js';
import type { WorkspaceChanges } from './changes.js';
import { checkExclusivityOf, checkFlag, checkGroupMembers, checkGroupTags, checkSegment, expectedGroupTags } from './check.js';
import type { Flag, Segment, Workspace } from './model.js';

/** The consistency problems of `after` (see the file's comment); `before` must have none. */
export function checkChanges(before: Workspace, after: Workspace, changes: WorkspaceChanges): WorkspaceIssue[] {
  const issues: WorkspaceIssue[] = [];
  const add = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  const segments = new Map(after.segments.map((s) => [s.id, s]));
  const touched = new Set([...changes.segments, ...changes.removedSegments]);
  const gone = changes.removedSegments;

  for (const s of after.segments) {
    if (changes.segments.has(s.id) || (gone.size > 0 && refersTo(s, gone))) checkSegment(s, segments, add);
  }

  const regrouped = new Set([...changes.groups, ...changes.removedGroups]);
  for (const g of after.groups) {
    if (changes.groups.has(g.id) || (gone.size > 0 && g.members.some((m) => gone.has(m)))) checkGroupMembers(g, segments, add);
  }
  const retagged = new Set(changes.segments);
  for (const g of [...before.groups, ...after.groups]) {
    if (regrouped.has(g.id)) for (const m of g.members) retagged.add(m);
  }
  if (retagged.size > 0) {
    const expected = expectedGroupTags(after.groups);
    for (const s of after.segments) if (retagged.has(s.id)) checkGroupTags(s, expected, add);
  }

  checkExclusivityOf(after.segments, changes.segments, add);

  const environments = new Set(after.environments);
  const clients = new Set(after.clients.map((c) => c.id));
  for (const f of after.flags) {
    if (changes.flags.has(f.id) || (touched.size > 0 && usesAny(f, touched))) checkFlag(f, environments, clients, segments, add);
  }
  return issues;
}

function refersTo(s: Segment, ids: ReadonlySet<string>): boolean {
  return s.targeting !== null && segmentReferences(s.targeting.expr).some((ref) => ids.has(ref));
}

/** Whether a rule of `f` uses one of the segments `ids` (as its audience, or in inline targeting). */
function usesAny(f: Flag, ids: ReadonlySet<string>): boolean {
  for (const r of f.rules) {
    if (r.kind === 'individual') continue;
    if (r.audience.kind === 'segment') {
      if (ids.has(r.audience.segment)) return true;
    } else if (r.audience.targeting !== null && segmentReferences(r.audience.targeting.expr).some((ref) => ids.has(ref))) {
      return true;
    }
  }
  return false;
}
