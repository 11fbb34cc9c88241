/**
 * What an operation changed: the segments, flags and groups of `after` that are not the very
 * objects `before` holds (operations keep what they do not change), and the ids `before` had
 * that `after` lacks. A pass over ids, so what follows can cost the change, not the workspace.
 */
import type { Workspace } from './model.js';

export interface WorkspaceChanges {
  /** Segments of `after` new or different from `before`'s, in `after`'s order. */
  readonly segments: ReadonlySet<string>;
  readonly flags: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  /** Ids `before` had and `after` has not. */
  readonly removedSegments: ReadonlySet<string>;
  readonly removedGroups: ReadonlySet<string>;
  /** Account, seed, environments or clients differ: everything depends on them. */
  readonly header: boolean;
}

/** The changes from `before` to `after`. */
export function workspaceChanges(before: Workspace, after: Workspace): WorkspaceChanges {
  const segments = changedOf(before.segments, after.segments);
  const groups = changedOf(before.groups, after.groups);
  return {
    segments: segments.changed,
    flags: changedOf(before.flags, after.flags).changed,
    groups: groups.changed,
    removedSegments: segments.removed,
    removedGroups: groups.removed,
    header:
      before.account !== after.account ||
      before.seed !== after.seed ||
      before.environments !== after.environments ||
      before.clients !== after.clients,
  };
}

function changedOf<T extends { readonly id: string }>(before: readonly T[], after: readonly T[]): { changed: Set<string>; removed: Set<string> } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  if (before === after) return { changed, removed };
  const old = new Map<string, T>();
  for (const item of before) old.set(item.id, item);
  for (const item of after) {
    if (old.get(item.id) !== item) changed.add(item.id);
    old.delete(item.id);
  }
  for (const id of old.keys()) removed.add(id);
  return { changed, removed };
}
