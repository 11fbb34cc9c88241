/**
 * What a change did, as the audit log records it: the resources that differ between two
 * workspaces (as the API shows them), and the impact summary (admin's `previewImpact`).
 */
import { previewImpact, type Share, type Workspace } from '@allot/admin';

import { flagJson } from '../resources/flags.js';
import { groupJson } from '../resources/groups.js';
import { segmentJson } from '../resources/segments.js';
import { canonicalJson } from './canonical-json.js';
import type { ImpactSummary, ResourceChange, ShareSummary } from './entry.js';

interface Kind {
  readonly collection: string;
  readonly items: (w: Workspace) => readonly { readonly id: string }[];
  readonly json: (item: never) => unknown;
}

const KINDS: readonly Kind[] = [
  { collection: 'segments', items: (w) => w.segments, json: segmentJson },
  { collection: 'flags', items: (w) => w.flags, json: flagJson },
  { collection: 'groups', items: (w) => w.groups, json: groupJson },
];

/** Every segment, flag and group of `workspace` as the API shows it, by name. */
export function resourcesOf(workspace: Workspace): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const kind of KINDS) for (const item of kind.items(workspace)) out.set(`${kind.collection}/${item.id}`, (kind.json as (i: unknown) => unknown)(item));
  return out;
}

/**
 * The segments, flags and groups that differ between `before` and `after`, sorted by name.
 * Clients are left out: their secrets must not reach the log.
 */
export function changedResources(before: Workspace, after: Workspace): ResourceChange[] {
  const changes: ResourceChange[] = [];
  for (const kind of KINDS) {
    const json = kind.json as (item: unknown) => unknown;
    const old = new Map(kind.items(before).map((i) => [i.id, i]));
    const now = new Map(kind.items(after).map((i) => [i.id, i]));
    for (const id of new Set([...old.keys(), ...now.keys()])) {
      const a = old.get(id);
      const b = now.get(id);
      // Operations keep the objects they do not change.
      if (a === b) continue;
      const beforeJson = a === undefined ? null : json(a);
      const afterJson = b === undefined ? null : json(b);
      if (a !== undefined && b !== undefined && canonicalJson(beforeJson) === canonicalJson(afterJson)) continue;
      changes.push({ name: `${kind.collection}/${id}`, before: beforeJson, after: afterJson });
    }
  }
  return changes.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** The changes as an entry's `before` and `after`: each a map from resource name to its state (null: absent). */
export function beforeAndAfter(changes: readonly ResourceChange[]): { before: Record<string, unknown>; after: Record<string, unknown> } {
  return {
    before: Object.fromEntries(changes.map((c) => [c.name, c.before])),
    after: Object.fromEntries(changes.map((c) => [c.name, c.after])),
  };
}

function share(s: Share): ShareSummary {
  return s.exact ?? { low: s.low, high: s.high };
}

/** Who starts, stops and changes variant in each changed flag; who enters and leaves each changed segment. */
export function impactSummary(before: Workspace, after: Workspace): ImpactSummary {
  const preview = previewImpact(before, after, { affectedOnly: true });
  return {
    flags: preview.flags.filter((f) => f.changed).map((f) => ({ flag: `flags/${f.flag}`, start: share(f.start), stop: share(f.stop), change: share(f.change) })),
    segments: preview.segments
      .filter((s) => s.changed)
      .map((s) => ({ segment: `segments/${s.segment}`, enter: share(s.enter), leave: share(s.leave), buckets: { before: s.buckets.before, after: s.buckets.after } })),
  };
}
