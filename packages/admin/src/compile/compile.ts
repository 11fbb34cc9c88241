/**
 * A workspace to the resolver state core loads (the conformance-suite map shape:
 * `account`, `flags`, `segments`, `bitsets`, `bloomFilters`, `clients` keyed by secret).
 * Deterministic: the same workspace gives the same bytes. Allocated bitsets are written as
 * base64 of the gzipped bitset (run-length deflate), the form Confidence's resolver and core load.
 *
 * - A segment is `segments/<id>`. Allocated ones carry their bitset (`"ALL"` when they hold
 *   every bucket); unallocated ones an empty bitset, so they match no one; archived ones
 *   are left out (core treats a missing segment as matching no one).
 * - A rule whose audience is inline targeting (or everyone), and every individual-targeting
 *   rule, gets a segment of its own, `segments/<flag>.<rule>`, over every bucket. Ids hold
 *   no dots, so these never collide with workspace segments.
 * - Rules split `RULE_BUCKETS` (1,000,000) buckets; archived rules are left out.
 * - A sticky rule reads (and, unless intake is paused, writes) the materialization
 *   `materializations/<flag>.<rule>`.
 */
import type { JsonValue } from '@allot/core';

import { BUCKETS } from '../allocation/bucket-set.js';
import { toConfidenceTargeting } from '../targeting/to-confidence.js';
import type { Targeting } from '../targeting/ast.js';
import type { Flag, Rule, Segment, WeightedVariant, Workspace } from '../workspace/model.js';

/** Buckets every compiled rule splits (its `bucketCount`). */
export const RULE_BUCKETS = 1_000_000;

type JsonObject = { [key: string]: JsonValue };

/** The resolver state of `workspace` as JSON text (what `loadState` takes). */
export function compile(workspace: Workspace): string {
  return `${JSON.stringify(compileState(workspace), null, 2)}\n`;
}

export interface CompileOptions {
  /**
   * Write every allocated bitset as `"ALL"` instead of deflating it: for checks of
   * everything but the bitsets' bytes (`workspaceIssues`), which need not pay for them.
   */
  readonly bitsetsAsAll?: boolean;
  /**
   * Compile only these segments and flags (with the segments of their own rules), and every
   * client: for a check of what a change touched, as core checks each entry on its own.
   */
  readonly only?: { readonly segments: ReadonlySet<string>; readonly flags: ReadonlySet<string> };
}

/** The resolver state of `workspace` as a plain JSON value. */
export function compileState(workspace: Workspace, options: CompileOptions = {}): JsonObject {
  const segments: JsonObject = {};
  const bitsets: JsonObject = {};
  const only = options.only;
  for (const s of workspace.segments) {
    if (s.state === 'ARCHIVED' || (only !== undefined && !only.segments.has(s.id))) continue;
    const name = `segments/${s.id}`;
    segments[name] = { name, targeting: toConfidenceTargeting(s.targeting) };
    bitsets[name] = options.bitsetsAsAll === true && s.state === 'ALLOCATED' && s.buckets !== null ? 'ALL' : bitsetOf(s);
  }
  const allClients = workspace.clients.map((c) => `clients/${c.id}`);
  const flags: JsonObject = {};
  for (const f of workspace.flags) {
    if (only !== undefined && !only.flags.has(f.id)) continue;
    const name = `flags/${f.id}`;
    const rules: JsonValue[] = [];
    for (const r of f.rules) {
      if (r.state === 'ARCHIVED') continue;
      const own = ownSegment(r);
      const segmentId = own === undefined ? (r as { audience: { segment: string } }).audience.segment : `${f.id}.${r.id}`;
      if (own !== undefined) {
        const segName = `segments/${segmentId}`;
        segments[segName] = { name: segName, targeting: toConfidenceTargeting(own.targeting) };
        bitsets[segName] = 'ALL';
      }
      rules.push(compileRule(f, r, segmentId));
    }
    flags[name] = {
      name,
      state: f.state,
      clients: f.clients.length === 0 ? allClients : f.clients.map((c) => `clients/${c}`),
      variants: f.variants.map((v) => ({ name: v.name, value: v.value })),
      rules,
    };
  }
  const clients: JsonObject = {};
  for (const c of workspace.clients) {
    // A client whose secret is not known (no secrets file) is still served, under its name.
    const secret = c.secret === '' ? `clients/${c.id}` : c.secret;
    clients[secret] = {
      client: { name: `clients/${c.id}`, displayName: c.displayName },
      clientCredential: {
        name: `clients/${c.id}/credentials/default`,
        clientSecret: { secret },
        environments: [...c.environments],
      },
    };
  }
  return {
    account: { name: `accounts/${workspace.account}` },
    flags,
    segments,
    bitsets,
    bloomFilters: {},
    clients,
  };
}

function bitsetOf(s: Segment): JsonValue {
  if (s.state !== 'ALLOCATED' || s.buckets === null) return [];
  if (s.buckets.count === BUCKETS) return 'ALL';
  return s.buckets.gzippedBitset();
}

/** The targeting of the rule's own segment, or undefined when it uses a workspace segment. */
export function ownSegment(r: Rule): { targeting: Targeting | null } | undefined {
  if (r.kind === 'individual') {
    return {
      targeting: {
        source: `${r.attribute} in [...]`,
        expr: { kind: 'in', attribute: r.attribute, negated: false, values: r.values.map((value) => ({ type: 'string', value })) },
      },
    };
  }
  return r.audience.kind === 'inline' ? { targeting: r.audience.targeting } : undefined;
}

function compileRule(f: Flag, r: Rule, segmentId: string): JsonObject {
  const materialization = `materializations/${f.id}.${r.id}`;
  const selector = r.kind === 'individual' ? '' : r.randomizationField;
  return {
    name: `flags/${f.id}/rules/${r.id}`,
    segment: `segments/${segmentId}`,
    enabled: r.state === 'ENABLED',
    ...(r.environments.length === 0 ? {} : { environments: [...r.environments] }),
    targetingKeySelector: selector,
    assignmentSpec: { bucketCount: RULE_BUCKETS, assignments: assignmentsOf(r) },
    ...(r.sticky.enabled
      ? {
          materializationSpec: {
            readMaterialization: materialization,
            ...(r.sticky.pausedIntake ? {} : { writeMaterialization: materialization }),
            mode: {
              materializationMustMatch: r.sticky.pausedIntake,
              segmentTargetingCanBeIgnored: r.sticky.ignoreTargetingForAssigned,
            },
          },
        }
      : {}),
  };
}

function assignmentsOf(r: Rule): JsonValue[] {
  switch (r.kind) {
    case 'individual':
      return [assignment(r.variant, 0, RULE_BUCKETS)];
    case 'rollout':
      return [assignment(r.variant, 0, Math.round(r.reach * RULE_BUCKETS))];
    case 'conditional':
      return split(r.split, Math.round(r.percentage * RULE_BUCKETS));
    case 'ab-test':
      return split(r.weights, RULE_BUCKETS);
  }
}

/** Contiguous ranges over [0, total) proportional to the weights, in order. */
export function splitRanges(weights: readonly WeightedVariant[], total: number): { variant: string; lower: number; upper: number }[] {
  const sum = weights.reduce((n, w) => n + w.weight, 0);
  let cumulative = 0;
  let lower = 0;
  return weights.map((w) => {
    cumulative += w.weight;
    const upper = Math.round((total * cumulative) / sum);
    const range = { variant: w.variant, lower, upper };
    lower = upper;
    return range;
  });
}

function split(weights: readonly WeightedVariant[], total: number): JsonValue[] {
  return splitRanges(weights, total).map((r) => assignment(r.variant, r.lower, r.upper));
}

function assignment(variant: string, lower: number, upper: number): JsonObject {
  return { assignmentId: variant, variant: { variant }, bucketRanges: [{ lower, upper }] };
}
