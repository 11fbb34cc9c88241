/**
 * Small builders for resolver states in tests, in the conformance map shape.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SegmentSpec {
  /** Named criteria and an expression; omitted: everyone. */
  readonly targeting?: { criteria: Record<string, Json>; expression: Json };
  /** "ALL" (default) or set bucket indices. */
  readonly bitset?: 'ALL' | number[];
}

export interface AssignmentSpec {
  readonly id?: string;
  /** A variant name, or the special kinds. */
  readonly serve: string | { clientDefault: true } | { fallthrough: true };
  readonly ranges: readonly (readonly [number, number])[];
}

export interface RuleSpec {
  readonly segment: string;
  readonly enabled?: boolean;
  readonly environments?: string[];
  readonly selector?: string;
  readonly bucketCount?: number;
  readonly assignments: readonly AssignmentSpec[];
  readonly materializationSpec?: Json;
}

export interface FlagSpec {
  readonly state?: 'ACTIVE' | 'ARCHIVED';
  readonly clients?: string[];
  readonly variants: Record<string, Json>;
  readonly rules: readonly RuleSpec[];
}

export interface StateSpec {
  readonly account?: string;
  readonly segments?: Record<string, SegmentSpec>;
  readonly flags: Record<string, FlagSpec>;
  readonly clients?: Record<string, { client: string; environments?: string[] }>;
  readonly bloomFilters?: Record<string, Json>;
}

export const SECRET = 'secret';
export const CLIENT = 'clients/app';

/** An attribute criterion. */
export function attr(attributeName: string, rule: Record<string, Json>): Json {
  return { attribute: { attributeName, ...rule } };
}

export function str(value: string): Json {
  return { stringValue: value };
}

export function num(value: number): Json {
  return { numberValue: value };
}

/** One criterion `c` as the whole expression. */
export function only(criterion: Json): { criteria: Record<string, Json>; expression: Json } {
  return { criteria: { c: criterion }, expression: { ref: 'c' } };
}

/** A full rollout of one variant. */
export function rollout(segment: string, variant: string, extra: Partial<RuleSpec> = {}): RuleSpec {
  return { segment, assignments: [{ id: `all-${variant}`, serve: variant, ranges: [[0, 1000]] }], ...extra };
}

export function buildState(spec: StateSpec): Record<string, Json> {
  const segments: Record<string, Json> = {};
  const bitsets: Record<string, Json> = {};
  for (const [id, s] of Object.entries(spec.segments ?? {})) {
    const name = `segments/${id}`;
    segments[name] = s.targeting ? { name, state: 'OK', targeting: s.targeting } : { name, state: 'OK' };
    bitsets[name] = s.bitset ?? 'ALL';
  }
  const flags: Record<string, Json> = {};
  for (const [id, f] of Object.entries(spec.flags)) {
    const name = `flags/${id}`;
    flags[name] = {
      name,
      state: f.state ?? 'ACTIVE',
      clients: f.clients ?? [CLIENT],
      variants: Object.entries(f.variants).map(([vname, value]) => ({ name: vname, value })),
      rules: f.rules.map((r, i) => ({
        name: `${name}/rules/r${i + 1}`,
        segment: `segments/${r.segment}`,
        enabled: r.enabled ?? true,
        ...(r.environments ? { environments: r.environments } : {}),
        targetingKeySelector: r.selector ?? '',
        ...(r.materializationSpec !== undefined ? { materializationSpec: r.materializationSpec } : {}),
        assignmentSpec: {
          bucketCount: r.bucketCount ?? 1000,
          assignments: r.assignments.map((a, j) => ({
            assignmentId: a.id ?? `a${j + 1}`,
            ...(typeof a.serve === 'string'
              ? { variant: { variant: a.serve } }
              : 'clientDefault' in a.serve
                ? { clientDefault: {} }
                : { fallthrough: {} }),
            bucketRanges: a.ranges.map(([lower, upper]) => ({ lower, upper })),
          })),
        },
      })),
    };
  }
  const clientsSpec = spec.clients ?? { [SECRET]: { client: CLIENT, environments: ['production'] } };
  const clients: Record<string, Json> = {};
  for (const [secret, c] of Object.entries(clientsSpec)) {
    clients[secret] = {
      client: { name: c.client },
      clientCredential: {
        name: `${c.client}/credentials/c1`,
        clientSecret: { secret },
        environments: c.environments ?? [],
      },
    };
  }
  return {
    account: { name: `accounts/${spec.account ?? 'test'}` },
    flags,
    segments,
    bitsets,
    bloomFilters: spec.bloomFilters ?? {},
    clients,
  };
}
