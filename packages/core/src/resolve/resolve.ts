/**
 * The rule walk. Rules are tried in order; a disabled rule, one restricted to other
 * environments, or one whose segment is absent is skipped. The first rule whose segment
 * matches and whose bucket falls in an assignment decides; a fallthrough assignment records
 * the unit as exposed and the walk goes on. Sticky assignments (materializations) are read
 * and written through the caller's `MaterializationAccess`; the walk itself does no I/O.
 */
import { ResolveError } from '../errors.js';
import { archivedResultOf, noMatchOf, resultOf, stickyResultOf, targetingKeyErrorOf, type CompiledFlag } from '../state/flags.js';
import type { CompiledClient, ResolverState } from '../state/resolver-state.js';
import type { SegmentFrame } from '../state/segments.js';
import type {
  EvaluationContext,
  FallthroughRecord,
  MaterializationAccess,
  MaterializationKey,
  MaterializationWrite,
  ResolvedFlag,
  ResolveRequest,
  ResolveResponse,
} from '../types.js';
import { specializeFlag } from './specialize.js';
import { assignmentFor, hasOwn, inEnvironment, readRecord, stickyAssignment, withFallthroughs } from './steps.js';
import { unitOf } from './unit.js';

/**
 * Resolves one flag for one context. Never throws for any context; returns a frozen result
 * (shared between calls when no fallthrough was passed).
 */
export function resolveFlag(
  state: ResolverState,
  client: CompiledClient,
  flag: CompiledFlag,
  given: EvaluationContext,
  access: MaterializationAccess | null = null,
): ResolvedFlag {
  if (flag.archived) return archivedResultOf(flag);
  const context = contextOf(given);
  let program = flag.program;
  if (program === null && flag.resolvesUntilSpecialized !== 0 && --flag.resolvesUntilSpecialized === 0) {
    program = flag.program = specializeFlag(flag, state.targetingKeyAlias);
  }
  const frame: SegmentFrame =
    state.busy === 0 ? state.frame : { context, unit: null, access, saltUnit: null, saltBucket: 0, unrecognized: false };
  frame.context = context;
  frame.access = access;
  // frame.saltUnit is kept: a unit's account-salt bucket is the same for every flag of the
  // state, so resolving several flags for one unit hashes the salt once.
  state.busy++;
  try {
    return program === null ? walk(client, flag, context, access, frame) : program(client, context, access, frame);
  } finally {
    state.busy--;
    frame.context = EMPTY_CONTEXT;
    frame.access = null;
    frame.unrecognized = false; // set if a store read or a getter threw mid-targeting
  }
}

const EMPTY_CONTEXT: EvaluationContext = Object.freeze({});

/** The context to read: untyped callers may pass null or a scalar, which is the empty context. */
function contextOf(given: EvaluationContext): EvaluationContext {
  return typeof given === 'object' && (given as EvaluationContext | null) !== null ? given : EMPTY_CONTEXT;
}

function walk(
  client: CompiledClient,
  flag: CompiledFlag,
  context: EvaluationContext,
  access: MaterializationAccess | null,
  frame: SegmentFrame,
): ResolvedFlag {
  let fallthroughs: FallthroughRecord[] | null = null;
  // Consecutive rules usually randomize on the same field: read and check it once.
  let lastSelector = '';
  let lastUnit: string | null | undefined = null;
  const rules = flag.rules;
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    if (!rule.enabled) continue;
    if (rule.environments !== null && !inEnvironment(client, rule.environments)) continue;
    const segment = rule.segment;
    if (segment === null) continue;

    if (rule.selector !== lastSelector) {
      lastSelector = rule.selector;
      lastUnit = unitOf(rule.readUnit(context));
    }
    let unit = lastUnit;
    if (unit === undefined) {
      // A full rollout with a blank selector needs no unit; elsewhere a bad key ends the flag.
      if (!rule.blankSelector || rule.fullRollout === null) {
        return withFallthroughs(targetingKeyErrorOf(flag), fallthroughs, fallthroughs !== null);
      }
      unit = null;
    }
    if (unit === null && (!rule.blankSelector || rule.fullRollout === null)) continue;
    frame.unit = unit;

    // Sticky assignments: a unit the store says is in the read materialization is admitted
    // (by its audience alone, or outright when targeting may be ignored), whatever rules it
    // holds variants for; the variant recorded for this rule, if one serves, is its answer.
    let admitted = false;
    const mat = rule.materialization;
    if (mat !== null && mat.read !== '') {
      if (unit === null) continue; // nothing to look up without a unit
      const record = access === null ? null : readRecord(access, unit, mat.read);
      if (record === null || !record.isUnitInMaterialization) {
        if (mat.mustMatch) continue; // paused intake: only units in the materialization enter
      } else {
        admitted = mat.ignoreTargeting || segment.audience(frame);
        if (frame.unrecognized) {
          frame.unrecognized = false; // kept false between evaluations
          continue;
        }
        if (admitted) {
          const map = record.ruleToVariant;
          const sticky = hasOwn(map, rule.name) ? stickyAssignment(rule, map[rule.name], unit) : null;
          if (sticky !== null) return withFallthroughs(stickyResultOf(flag, rule, sticky), fallthroughs, true);
          // No variant recorded for this rule, or none of its assignments serves it: assign
          // afresh, the unit staying admitted.
        }
      }
    }
    if (!admitted) {
      const matched = segment.matches(frame);
      if (frame.unrecognized) {
        // Targeting reached a criterion Confidence cannot evaluate: the rule is skipped.
        frame.unrecognized = false;
        continue;
      }
      if (!matched) continue;
    }

    const assignment = rule.fullRollout ?? assignmentFor(rule, rule.prefix.bucket(unit!, rule.bucketCount));
    if (assignment === null) continue;
    if (mat !== null && mat.write !== '' && unit !== null && access?.write !== undefined) {
      access.write({ unit, materialization: mat.write, rule: rule.name, variant: assignment.variant?.name ?? '' });
    }
    if (assignment.type === 'fallthrough') {
      (fallthroughs ??= []).push(assignment.fallthrough!);
      continue;
    }
    return withFallthroughs(resultOf(flag, rule, assignment), fallthroughs, true);
  }
  return withFallthroughs(noMatchOf(flag), fallthroughs, fallthroughs !== null);
}

/** Normalizes a requested flag name to `flags/<id>`. */
function flagName(name: string): string {
  return name.startsWith('flags/') ? name : `flags/${name}`;
}

/**
 * Resolves the requested flags (all of the client's when none are named), Confidence-style:
 * flags that are archived, unknown, or not for this client are left out of the response.
 * Throws `ResolveError` when the client secret is unknown.
 */
export function resolveFlags(
  state: ResolverState,
  request: ResolveRequest,
  materializations: MaterializationAccess | null = null,
): ResolveResponse {
  const client = state.client(request.clientSecret);
  if (client === undefined) {
    throw new ResolveError('CLIENT_NOT_FOUND', `no client has the secret given in clientSecret; check the credential (the state has ${state.clients.size} client${state.clients.size === 1 ? '' : 's'})`);
  }
  const context = request.evaluationContext;
  const writes: MaterializationWrite[] = [];
  const missing: MaterializationKey[] = [];
  const access: MaterializationAccess = {
    read: (unit, materialization) =>
      materializations === null ? null : materializations.read(unit, materialization),
    write: (w) => {
      writes.push(w);
      materializations?.write?.(w);
    },
    missing: (key) => {
      missing.push(key);
      materializations?.missing?.(key);
    },
  };
  const flags: CompiledFlag[] = [];
  if (request.flags === undefined || request.flags.length === 0) {
    flags.push(...state.flagsOf(client));
  } else {
    const seen = new Set<string>();
    for (const requested of request.flags) {
      const name = flagName(requested);
      if (seen.has(name)) continue;
      seen.add(name);
      const flag = state.flags.get(name);
      if (flag !== undefined && !flag.archived && flag.clients.has(client.name)) flags.push(flag);
    }
  }
  const resolvedFlags = flags.map((flag) => resolveFlag(state, client, flag, context, access));
  return { resolvedFlags, materializationWrites: writes, missingMaterializations: missing };
}

/**
 * The sticky-store reads that resolving `flags` for `context` may need, so that a caller can
 * fetch them in one batch before resolving.
 */
export function requiredReads(
  client: CompiledClient,
  flags: readonly CompiledFlag[],
  given: EvaluationContext,
): MaterializationKey[] {
  const context = contextOf(given);
  const keys: MaterializationKey[] = [];
  const seen = new Set<string>();
  const add = (unit: string, materialization: string): void => {
    const id = `${unit}\u0000${materialization}`;
    if (seen.has(id)) return;
    seen.add(id);
    keys.push({ unit, materialization });
  };
  for (const flag of flags) {
    if (flag.archived) continue;
    for (const rule of flag.rules) {
      if (!rule.enabled || rule.segment === null) continue;
      if (rule.environments !== null && !inEnvironment(client, rule.environments)) continue;
      const reads = rule.segment.materializations;
      const own = rule.materialization?.read ?? '';
      if (own === '' && reads.length === 0) continue;
      const unit = unitOf(rule.readUnit(context));
      if (typeof unit !== 'string') continue;
      if (own !== '') add(unit, own);
      for (const m of reads) add(unit, m);
    }
  }
  return keys;
}
