/**
 * What a workspace claims, read from the workspace itself (never from the compiled state):
 * coordination tags (with exclusion groups' tags), allocated proportions, each rule's split,
 * and the flags each exclusion group keeps apart. The checks then hold the compiled state,
 * and the population resolved through it, to these claims.
 */
import type { Rule, Workspace } from '@allot/admin';

import type { ConfiguredStep, Coordination, ExclusionGroupSpec } from '../types.js';

export interface WorkspaceClaims {
  readonly coordination: Readonly<Record<string, Coordination>>;
  readonly proportions: Readonly<Record<string, number>>;
  readonly splits: ConfiguredStep['splits'];
  readonly groups: readonly ExclusionGroupSpec[];
}

function shares(weights: readonly { variant: string; weight: number }[], scale: number): Record<string, number> {
  const sum = weights.reduce((n, w) => n + w.weight, 0);
  return Object.fromEntries(weights.map((w) => [w.variant, (scale * w.weight) / sum]));
}

/** Share of the rule's buckets each variant is configured to get. */
function ruleShares(rule: Rule): Record<string, number> {
  switch (rule.kind) {
    case 'individual':
      return { [rule.variant]: 1 };
    case 'rollout':
      return { [rule.variant]: rule.reach };
    case 'conditional':
      return shares(rule.split, rule.percentage);
    case 'ab-test':
      return shares(rule.weights, 1);
  }
}

function segmentOfRule(rule: Rule): string | null {
  return rule.kind !== 'individual' && rule.audience.kind === 'segment' ? rule.audience.segment : null;
}

export function claimsOfWorkspace(ws: Workspace): WorkspaceClaims {
  const live = ws.segments.filter((s) => s.state !== 'ARCHIVED');
  const coordination = Object.fromEntries(
    live.filter((s) => s.exclusivityTags.length > 0 || s.exclusiveTo.length > 0).map((s) => [`segments/${s.id}`, { exclusivityTags: s.exclusivityTags, exclusiveTo: s.exclusiveTo }]),
  );
  const proportions = Object.fromEntries(live.filter((s) => s.state === 'ALLOCATED').map((s) => [`segments/${s.id}`, s.proportion]));
  const splits = Object.fromEntries(
    ws.flags.map((f) => [`flags/${f.id}`, Object.fromEntries(f.rules.filter((r) => r.state !== 'ARCHIVED').map((r) => [`flags/${f.id}/rules/${r.id}`, ruleShares(r)]))]),
  );
  const groups = ws.groups
    .filter((g) => g.state === 'ACTIVE')
    .map((g) => ({
      name: g.id,
      members: g.members.flatMap((segment) =>
        ws.flags.filter((f) => f.state === 'ACTIVE' && f.rules.some((r) => r.state !== 'ARCHIVED' && segmentOfRule(r) === segment)).map((f) => ({ flag: `flags/${f.id}`, segment: `segments/${segment}` })),
      ),
    }));
  return { coordination, proportions, splits, groups };
}

/**
 * Segments whose buckets must only grow from `before` to `after`: allocated in both with the
 * same tags and a proportion that did not fall (a raise keeps every bucket; an untouched
 * segment keeps them all).
 */
export function monotoneSegments(before: Workspace, after: Workspace): string[] {
  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  return after.segments.flatMap((s) => {
    const b = before.segments.find((x) => x.id === s.id);
    if (b === undefined || b.state !== 'ALLOCATED' || s.state !== 'ALLOCATED') return [];
    if (!same(b.exclusivityTags, s.exclusivityTags) || !same(b.exclusiveTo, s.exclusiveTo) || s.proportion < b.proportion) return [];
    return [`segments/${s.id}`];
  });
}
