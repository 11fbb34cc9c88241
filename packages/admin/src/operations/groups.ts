/**
 * Exclusion groups (Optimizely's mutual exclusion) expressed through coordination: every
 * member of an active group carries the tag `group:<id>` in both `exclusivityTags` and
 * `exclusiveTo`, so the allocator keeps members disjoint. Adding an allocated member
 * reallocates the buckets it shares with other members; archiving a group removes the tag
 * (members keep their buckets); unarchiving puts it back.
 */
import { AdminError } from '../errors.js';
import type { ExclusionGroup, Segment, Workspace } from '../workspace/model.js';
import { canonicalTags, checkId, groupTag } from '../workspace/names.js';
import { enabledRulesServing, groupOf, rulePaths, segmentOf, withGroup } from './lookup.js';
import type { Outcome } from './outcome.js';
import { checkedProportion, reshape, type Reallocation } from './segments.js';

export interface GroupInput {
  readonly id: string;
  readonly displayName?: string;
  /** Initial member segment ids. */
  readonly members?: readonly string[];
}

/** What a membership change did to the members' buckets. */
export interface GroupChange {
  readonly group: ExclusionGroup;
  /** Per member whose buckets were recomputed. */
  readonly reallocations: Readonly<Record<string, Reallocation>>;
}

export function createGroup(workspace: Workspace, input: GroupInput): Outcome<GroupChange> {
  const path = `groups.${input.id}`;
  checkId(input.id, path);
  if (workspace.groups.some((g) => g.id === input.id)) throw new AdminError('ALREADY_EXISTS', 'an exclusion group with this id exists already', { path });
  const group: ExclusionGroup = { id: input.id, displayName: input.displayName ?? input.id, state: 'ACTIVE', members: [] };
  let ws: Workspace = { ...workspace, groups: [...workspace.groups, group] };
  const reallocations: Record<string, Reallocation> = {};
  for (const m of input.members ?? []) {
    const out = addGroupMember(ws, input.id, m);
    ws = out.workspace;
    Object.assign(reallocations, out.result.reallocations);
  }
  return { workspace: ws, result: { group: groupOf(ws, input.id), reallocations }, warnings: [] };
}

export interface MemberOptions {
  /** Also set the member's proportion (its share of traffic). */
  readonly proportion?: number;
}

/** Adds segment `segmentId` to the group. Warns when the group is running. */
export function addGroupMember(workspace: Workspace, groupId: string, segmentId: string, options: MemberOptions = {}): Outcome<GroupChange> {
  const group = groupOf(workspace, groupId);
  const segment = segmentOf(workspace, segmentId);
  if (group.members.includes(segmentId)) {
    throw new AdminError('ALREADY_EXISTS', `segment ${segmentId} is a member already`, { path: `groups.${groupId}.members` });
  }
  if (segment.state === 'ARCHIVED') throw new AdminError('FAILED_PRECONDITION', `segment ${segmentId} is ARCHIVED`, { path: `groups.${groupId}.members` });
  const warnings = runningWarning(workspace, group, 'adding a member to');
  let ws = withGroup(workspace, { ...group, members: [...group.members, segmentId] });
  const reallocations: Record<string, Reallocation> = {};
  const tag = groupTag(groupId);
  const proportion = options.proportion === undefined ? segment.proportion : checkedProportion(options.proportion, `segments.${segmentId}`);
  const next: Segment =
    group.state === 'ACTIVE'
      ? { ...segment, proportion, exclusivityTags: canonicalTags([...segment.exclusivityTags, tag]), exclusiveTo: canonicalTags([...segment.exclusiveTo, tag]) }
      : { ...segment, proportion };
  const out = reshape(ws, segment, next, false);
  ws = out.workspace;
  if (out.reallocation !== null) reallocations[segmentId] = out.reallocation;
  return { workspace: ws, result: { group: groupOf(ws, groupId), reallocations }, warnings };
}

/** Removes a member; its buckets stay, but it no longer excludes the other members. */
export function removeGroupMember(workspace: Workspace, groupId: string, segmentId: string): Outcome<GroupChange> {
  const group = groupOf(workspace, groupId);
  if (!group.members.includes(segmentId)) {
    throw new AdminError('NOT_FOUND', `segment ${segmentId} is not a member (members: ${group.members.join(', ') || 'none'})`, { path: `groups.${groupId}.members` });
  }
  const warnings = runningWarning(workspace, group, 'removing a member from');
  let ws = withGroup(workspace, { ...group, members: group.members.filter((m) => m !== segmentId) });
  if (group.state === 'ACTIVE') ws = withoutTag(ws, segmentId, groupTag(groupId));
  return { workspace: ws, result: { group: groupOf(ws, groupId), reallocations: {} }, warnings };
}

/** Archives a group: members stop excluding each other (and keep their buckets). */
export function archiveGroup(workspace: Workspace, groupId: string): Outcome<GroupChange> {
  const group = groupOf(workspace, groupId);
  if (group.state === 'ARCHIVED') throw new AdminError('FAILED_PRECONDITION', 'the group is already ARCHIVED', { path: `groups.${groupId}.state` });
  const warnings = runningWarning(workspace, group, 'archiving');
  let ws = withGroup(workspace, { ...group, state: 'ARCHIVED' });
  for (const m of group.members) ws = withoutTag(ws, m, groupTag(groupId));
  return { workspace: ws, result: { group: groupOf(ws, groupId), reallocations: {} }, warnings };
}

/**
 * Unarchives a group: members exclude each other again; buckets that members came to share
 * meanwhile are reallocated (INSUFFICIENT_SPACE, changing nothing, if they do not fit).
 */
export function unarchiveGroup(workspace: Workspace, groupId: string): Outcome<GroupChange> {
  const group = groupOf(workspace, groupId);
  if (group.state === 'ACTIVE') throw new AdminError('FAILED_PRECONDITION', 'the group is not ARCHIVED', { path: `groups.${groupId}.state` });
  let ws = withGroup(workspace, { ...group, state: 'ACTIVE' });
  const tag = groupTag(groupId);
  const reallocations: Record<string, Reallocation> = {};
  for (const m of group.members) {
    const segment = segmentOf(ws, m);
    if (segment.state === 'ARCHIVED') {
      ws = replaceTags(ws, segment, [...segment.exclusivityTags, tag], [...segment.exclusiveTo, tag]);
      continue;
    }
    const next = { ...segment, exclusivityTags: canonicalTags([...segment.exclusivityTags, tag]), exclusiveTo: canonicalTags([...segment.exclusiveTo, tag]) };
    const out = reshape(ws, segment, next, false);
    ws = out.workspace;
    if (out.reallocation !== null) reallocations[m] = out.reallocation;
  }
  return { workspace: ws, result: { group: groupOf(ws, groupId), reallocations }, warnings: runningWarning(workspace, group, 'unarchiving') };
}

export function getGroup(workspace: Workspace, groupId: string): ExclusionGroup {
  return groupOf(workspace, groupId);
}

export function listGroups(workspace: Workspace): readonly ExclusionGroup[] {
  return workspace.groups;
}

function withoutTag(workspace: Workspace, segmentId: string, tag: string): Workspace {
  const s = segmentOf(workspace, segmentId);
  return replaceTags(workspace, s, s.exclusivityTags.filter((t) => t !== tag), s.exclusiveTo.filter((t) => t !== tag));
}

/** Fewer constraints never move buckets: the tags change in place. */
function replaceTags(workspace: Workspace, s: Segment, exclusivityTags: readonly string[], exclusiveTo: readonly string[]): Workspace {
  const next = { ...s, exclusivityTags: canonicalTags(exclusivityTags), exclusiveTo: canonicalTags(exclusiveTo) };
  return { ...workspace, segments: workspace.segments.map((x) => (x.id === s.id ? next : x)) };
}

function runningWarning(workspace: Workspace, group: ExclusionGroup, action: string): string[] {
  const serving = group.members.flatMap((m) => enabledRulesServing(workspace, m));
  if (serving.length === 0) return [];
  return [
    `${action} exclusion group ${group.id} while its members serve enabled rules (${rulePaths(serving)}) may affect those experiments' results; ` +
      'start and stop the experiments of a group together',
  ];
}
