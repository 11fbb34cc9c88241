/**
 * How a simulation population splits over the impact preview's audience conditions. Each
 * condition is evaluated by @allot/core itself (compiled by @allot/admin as a full rollout
 * on that audience), so matching follows the resolver's rules exactly: types, missing
 * attributes, lists.
 */
import { compileState, type AudienceCondition, type AudienceProfile, type Expr, type Workspace } from '@allot/admin';
import { loadState, resolveFlag } from '@allot/core';
import { Population, type PopulationSpec } from '@allot/simulation';

const PROBE_SECRET = 'audience-probe';

/** Profile of the first `units` units of `spec` (all of them when `units` is undefined). */
export function audienceProfile(conditions: readonly AudienceCondition[], spec: PopulationSpec, units: number, source: string): AudienceProfile {
  return profileWithPresence(conditions, spec, units, source).profile;
}

/**
 * The profile, and for each attribute the conditions read, how many of those units have it
 * (a value that is neither null nor missing).
 */
export function profileWithPresence(
  conditions: readonly AudienceCondition[],
  spec: PopulationSpec,
  units: number,
  source: string,
): { profile: AudienceProfile; present: ReadonlyMap<string, number> } {
  const state = loadState(compileState(probeWorkspace(conditions)));
  const client = state.client(PROBE_SECRET)!;
  const flags = conditions.map((_, i) => state.flags.get(`flags/c${i}`)!);
  const population = new Population(spec);
  const counts = new Map<string, number>();
  const attributes = [...new Set(conditions.flatMap((c) => attributesOf(c.targeting.expr)))];
  const readers = attributes.map((name) => name.split('.'));
  const present = attributes.map(() => 0);
  for (let u = 0; u < units; u++) {
    population.fill(u);
    let key = '';
    for (const flag of flags) key += resolveFlag(state, client, flag, population.context).variant === 'match' ? '1' : '0';
    counts.set(key, (counts.get(key) ?? 0) + 1);
    readers.forEach((path, i) => {
      if (read(population.context, path) != null) present[i]!++;
    });
  }
  const groups = [...counts].map(([key, n]) => ({ matches: Array.from(key, (c) => c === '1'), units: n }));
  return { profile: { units, source, groups }, present: new Map(attributes.map((name, i) => [name, present[i]!])) };
}

/** The attributes an expression reads, in order of appearance. */
export function attributesOf(e: Expr): string[] {
  switch (e.kind) {
    case 'and':
    case 'or':
      return e.operands.flatMap(attributesOf);
    case 'not':
      return attributesOf(e.operand);
    case 'segment':
      return [];
    default:
      return [e.attribute];
  }
}

/** A context's value at a dotted path, as core reads it. */
function read(context: unknown, path: readonly string[]): unknown {
  let cur = context;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * One flag per condition, `c<i>`, whose only rule serves everyone matching the condition:
 * a rollout to every bucket on an audience of its own, which core serves with or without a
 * unit.
 */
function probeWorkspace(conditions: readonly AudienceCondition[]): Workspace {
  return {
    account: 'audience-probe',
    seed: 'audience-probe',
    environments: ['probe'],
    clients: [{ id: 'probe', displayName: 'probe', secret: PROBE_SECRET, environments: ['probe'] }],
    segments: [],
    groups: [],
    flags: conditions.map((c, i) => ({
      id: `c${i}`,
      displayName: c.text,
      state: 'ACTIVE',
      clients: [],
      variants: [{ name: 'match', value: true }],
      rules: [
        {
          kind: 'rollout',
          id: 'match',
          state: 'ENABLED',
          environments: [],
          sticky: { enabled: false, pausedIntake: false, ignoreTargetingForAssigned: false },
          audience: { kind: 'inline', targeting: c.targeting },
          reach: 1,
          randomizationField: '',
          variant: 'match',
        },
      ],
    })),
  };
}
