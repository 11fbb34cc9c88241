/**
 * The steps of the rule walk that the generic walk (resolve.ts) and specialized flags
 * (specialize.ts) share, so that both take them the same way.
 */
import type { CompiledAssignment, CompiledRule } from '../state/flags.js';
import type { CompiledClient } from '../state/resolver-state.js';
import type { FallthroughRecord, MaterializationAccess, MaterializationRecord, ResolvedFlag } from '../types.js';

/** `Object.hasOwn`, as a plain function for the hot path. */
export const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * The assignment a stored variant picks: the rule's only variant assignment serving it, or,
 * when several do, the one whose range holds the unit's variant bucket. null when none does.
 */
export function stickyAssignment(rule: CompiledRule, variant: string | undefined, unit: string): CompiledAssignment | null {
  if (typeof variant !== 'string' || variant === '') return null;
  // A scan of the rule's few assignments, not a map per rule: 10,000 rules would hold 10,000
  // maps, for the garbage collector to copy on every load.
  const assignments = rule.assignments;
  let first: CompiledAssignment | null = null;
  let several = false;
  for (const a of assignments) {
    if (a.variant === null || a.variant.name !== variant) continue;
    if (first === null) first = a;
    else several = true;
  }
  if (!several) return first;
  const bucket = rule.prefix.bucket(unit, rule.bucketCount);
  const ranges = rule.ranges;
  for (const candidate of assignments) {
    if (candidate.variant === null || candidate.variant.name !== variant) continue;
    for (let i = 0; i < ranges.length; i += 3) {
      if (assignments[ranges[i + 2]!] === candidate && bucket >= ranges[i]! && bucket < ranges[i + 1]!) return candidate;
    }
  }
  return null;
}

export function inEnvironment(client: CompiledClient, environments: readonly string[]): boolean {
  for (const e of environments) if (client.environments.has(e)) return true;
  return false;
}

export function readRecord(access: MaterializationAccess, unit: string, materialization: string): MaterializationRecord | null {
  const record = access.read(unit, materialization);
  if (record === undefined) {
    access.missing?.({ unit, materialization });
    return null;
  }
  return record;
}

/** The assignment whose range holds `bucket`, or null. */
export function assignmentFor(rule: CompiledRule, bucket: number): CompiledAssignment | null {
  const ranges = rule.ranges;
  for (let i = 0; i < ranges.length; i += 3) {
    if (bucket >= ranges[i]! && bucket < ranges[i + 1]!) return rule.assignments[ranges[i + 2]!]!;
  }
  return null;
}

/** `base` with the fallthroughs passed on the way (a new frozen result only when there are some). */
export function withFallthroughs(
  base: ResolvedFlag,
  fallthroughs: FallthroughRecord[] | null,
  shouldApply: boolean,
): ResolvedFlag {
  if (fallthroughs === null) return base;
  return Object.freeze({ ...base, shouldApply, fallthroughs: Object.freeze(fallthroughs) });
}
