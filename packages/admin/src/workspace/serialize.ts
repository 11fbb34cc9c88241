/**
 * A `Workspace` to its document text, deterministically: the same workspace always gives
 * the same bytes (fixed key order, tag lists sorted, no timestamps), so the file diffs well
 * in git and its hash can serve as an etag.
 */
import { stringify } from 'yaml';

import type { Audience, ExclusionGroup, Flag, Rule, Segment, Sticky, Workspace } from './model.js';
import { WORKSPACE_FORMAT_VERSION } from './model.js';

export type WorkspaceFormat = 'yaml' | 'json';

const YAML_OPTIONS = { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false, indent: 2 } as const;

/** The document text of `workspace`, as YAML (default) or JSON. */
export function serializeWorkspace(workspace: Workspace, format: WorkspaceFormat = 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(workspaceDocument(workspace), null, 2)}\n`;
  // The same bytes as stringifying the whole document, with each segment and flag rendered
  // once per object: a write of one segment of 10,000 renders one entry, not megabytes.
  const head = workspaceDocument({ ...workspace, segments: [], flags: [], groups: [] });
  delete head.segments;
  delete head.flags;
  delete head.groups;
  return (
    stringify(head, YAML_OPTIONS) +
    yamlEntries('segments', workspace.segments, segmentYaml, segmentDocument) +
    yamlEntries('flags', workspace.flags, flagYaml, flagDocument) +
    stringify({ groups: byId(workspace.groups, groupDocument) }, YAML_OPTIONS)
  );
}

/**
 * Each entry's YAML, as it reads nested under its top-level key: entries are immutable. Kept
 * as UTF-8 bytes: as strings, 10,000 segments' entries held 32 MB in `allot serve` (the
 * bench's server-memory row), as bytes about the file's size.
 */
const segmentYaml = new WeakMap<Segment, Uint8Array>();
const flagYaml = new WeakMap<Flag, Uint8Array>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `key:` and its entries, each rendered alone and indented under it (what stringify gives for the whole map). */
function yamlEntries<T extends { readonly id: string }>(key: string, items: readonly T[], cache: WeakMap<T, Uint8Array>, render: (item: T) => unknown): string {
  if (items.length === 0) return stringify({ [key]: {} }, YAML_OPTIONS);
  const seen = new Set<string>();
  let out = `${key}:\n`;
  for (const item of items) {
    // Two entries with one id are one key of the document, the last one's value: render that map as a whole.
    if (seen.has(item.id)) return stringify({ [key]: byId(items, render) }, YAML_OPTIONS);
    seen.add(item.id);
    const cached = cache.get(item);
    if (cached === undefined) {
      const text = stringify({ [item.id]: render(item) }, YAML_OPTIONS).replace(/^(?=.)/gm, '  ');
      cache.set(item, encoder.encode(text));
      out += text;
    } else {
      out += decoder.decode(cached);
    }
  }
  return out;
}

/** The plain data of the document (what YAML or JSON encodes). */
export function workspaceDocument(workspace: Workspace): Record<string, unknown> {
  return {
    allot: WORKSPACE_FORMAT_VERSION,
    account: workspace.account,
    seed: workspace.seed,
    environments: [...workspace.environments],
    // Secrets are kept out of the document, which is meant for git (see WorkspaceFile).
    clients: byId(workspace.clients, (c) => ({ displayName: c.displayName, environments: [...c.environments] })),
    segments: byId(workspace.segments, segmentDocument),
    flags: byId(workspace.flags, flagDocument),
    groups: byId(workspace.groups, groupDocument),
  };
}

/** Ids of the entries `entriesDocument` renders. */
export interface EntryIds {
  readonly segments: ReadonlySet<string>;
  readonly flags: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
}

/**
 * The document's `segments`, `flags` and `groups` maps holding only the entries named by
 * `ids`, each rendered as `workspaceDocument` renders it (how the gate reads back what a
 * change touched without rendering the rest).
 */
export function entriesDocument(workspace: Workspace, ids: EntryIds): Record<string, Record<string, unknown>> {
  return {
    segments: byId(workspace.segments.filter((s) => ids.segments.has(s.id)), segmentDocument),
    flags: byId(workspace.flags.filter((f) => ids.flags.has(f.id)), flagDocument),
    groups: byId(workspace.groups.filter((g) => ids.groups.has(g.id)), groupDocument),
  };
}

function groupDocument(g: ExclusionGroup): Record<string, unknown> {
  return { displayName: g.displayName, state: g.state, members: [...g.members] };
}

function byId<T extends { readonly id: string }>(items: readonly T[], render: (item: T) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) out[item.id] = render(item);
  return out;
}

function segmentDocument(s: Segment): Record<string, unknown> {
  return {
    displayName: s.displayName,
    ...(s.targeting === null ? {} : { targeting: s.targeting.source }),
    allocation: {
      proportion: s.proportion,
      exclusivityTags: [...s.exclusivityTags],
      exclusiveTo: [...s.exclusiveTo],
    },
    state: s.state,
    ...(s.buckets === null ? {} : { buckets: { count: s.buckets.count, runs: s.buckets.runsText() } }),
  };
}

function flagDocument(f: Flag): Record<string, unknown> {
  const variants: Record<string, unknown> = {};
  for (const v of f.variants) variants[v.name] = v.value;
  return {
    displayName: f.displayName,
    state: f.state,
    clients: [...f.clients],
    variants,
    rules: f.rules.map(ruleDocument),
  };
}

function audienceDocument(a: Audience): Record<string, unknown> {
  if (a.kind === 'segment') return { segment: a.segment };
  return a.targeting === null ? {} : { targeting: a.targeting.source };
}

function stickyDocument(s: Sticky): Record<string, unknown> {
  if (!s.enabled && !s.pausedIntake && !s.ignoreTargetingForAssigned) return {};
  return { sticky: { enabled: s.enabled, pausedIntake: s.pausedIntake, ignoreTargetingForAssigned: s.ignoreTargetingForAssigned } };
}

function weights(list: readonly { variant: string; weight: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of list) out[w.variant] = w.weight;
  return out;
}

function ruleDocument(r: Rule): Record<string, unknown> {
  const head = { id: r.id, kind: r.kind, state: r.state };
  const tail = {
    ...(r.environments.length === 0 ? {} : { environments: [...r.environments] }),
    ...stickyDocument(r.sticky),
  };
  const field = (name: string, value: string): Record<string, string> => (value === '' ? {} : { [name]: value });
  switch (r.kind) {
    case 'individual':
      return { ...head, attribute: r.attribute, values: [...r.values], variant: r.variant, ...tail };
    case 'conditional':
      return {
        ...head,
        ...audienceDocument(r.audience),
        percentage: r.percentage,
        ...field('randomizationField', r.randomizationField),
        split: weights(r.split),
        ...tail,
      };
    case 'ab-test':
      return { ...head, ...audienceDocument(r.audience), ...field('randomizationField', r.randomizationField), weights: weights(r.weights), ...tail };
    case 'rollout':
      return {
        ...head,
        ...audienceDocument(r.audience),
        reach: r.reach,
        ...field('randomizationField', r.randomizationField),
        variant: r.variant,
        ...tail,
      };
  }
}
