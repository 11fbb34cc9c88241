/**
 * How a simulation population splits over the impact preview's audience conditions. Each
 * condition is evaluated by @allot/core itself (compiled by @allot/admin as a full rollout
 * on that audience), so matching follows the resolver's rules exactly: types, missing
 * attributes, lists.
 */
import { TargetingProbe, type AudienceCondition, type AudienceProfile, type Expr } from '@allot/admin';
import { Population, type PopulationSpec } from '@allot/simulation';

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
  const probe = new TargetingProbe(conditions.map((c) => c.targeting));
  const population = new Population(spec);
  const counts = new Map<string, number>();
  const attributes = [...new Set(conditions.flatMap((c) => attributesOf(c.targeting.expr)))];
  const readers = attributes.map((name) => name.split('.'));
  const present = attributes.map(() => 0);
  for (let u = 0; u < units; u++) {
    population.fill(u);
    let key = '';
    for (let c = 0; c < conditions.length; c++) key += probe.matches(c, population.context) ? '1' : '0';
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

