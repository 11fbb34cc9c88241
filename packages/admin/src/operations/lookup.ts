/** Finding things in a workspace by id, and replacing them, with NOT_FOUND errors that name the path. */
import { AdminError } from '../errors.js';
import type { ExclusionGroup, Flag, Rule, Segment, Workspace } from '../workspace/model.js';

export function segmentOf(workspace: Workspace, id: string): Segment {
  const s = workspace.segments.find((x) => x.id === id);
  if (s === undefined) throw new AdminError('NOT_FOUND', `no segment ${JSON.stringify(id)} in the workspace`, { path: `segments.${id}` });
  return s;
}

export function flagOf(workspace: Workspace, id: string): Flag {
  const f = workspace.flags.find((x) => x.id === id);
  if (f === undefined) throw new AdminError('NOT_FOUND', `no flag ${JSON.stringify(id)} in the workspace`, { path: `flags.${id}` });
  return f;
}

export function ruleOf(flag: Flag, id: string): Rule {
  const r = flag.rules.find((x) => x.id === id);
  if (r === undefined) {
    throw new AdminError('NOT_FOUND', `flag ${flag.id} has no rule ${JSON.stringify(id)} (rules: ${flag.rules.map((x) => x.id).join(', ') || 'none'})`, {
      path: `flags.${flag.id}.rules.${id}`,
    });
  }
  return r;
}

export function groupOf(workspace: Workspace, id: string): ExclusionGroup {
  const g = workspace.groups.find((x) => x.id === id);
  if (g === undefined) throw new AdminError('NOT_FOUND', `no exclusion group ${JSON.stringify(id)} in the workspace`, { path: `groups.${id}` });
  return g;
}

export function withSegment(workspace: Workspace, segment: Segment): Workspace {
  return { ...workspace, segments: workspace.segments.map((s) => (s.id === segment.id ? segment : s)) };
}

export function withFlag(workspace: Workspace, flag: Flag): Workspace {
  return { ...workspace, flags: workspace.flags.map((f) => (f.id === flag.id ? flag : f)) };
}

export function withRule(workspace: Workspace, flag: Flag, rule: Rule): Workspace {
  return withFlag(workspace, { ...flag, rules: flag.rules.map((r) => (r.id === rule.id ? rule : r)) });
}

export function withGroup(workspace: Workspace, group: ExclusionGroup): Workspace {
  return { ...workspace, groups: workspace.groups.map((g) => (g.id === group.id ? group : g)) };
}

/** A rule and the flag it is in. */
export interface RuleRef {
  readonly flag: string;
  readonly rule: string;
}

/** The enabled rules of active flags whose audience is segment `id`. */
export function enabledRulesServing(workspace: Workspace, id: string): RuleRef[] {
  const out: RuleRef[] = [];
  for (const f of workspace.flags) {
    if (f.state !== 'ACTIVE') continue;
    for (const r of f.rules) {
      if (r.state === 'ENABLED' && r.kind !== 'individual' && r.audience.kind === 'segment' && r.audience.segment === id) {
        out.push({ flag: f.id, rule: r.id });
      }
    }
  }
  return out;
}

export function rulePaths(refs: readonly RuleRef[]): string {
  return refs.map((r) => `flags.${r.flag}.rules.${r.rule}`).join(', ');
}
