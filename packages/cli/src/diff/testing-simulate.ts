/**
 * For tests: what a population actually does when one workspace is replaced by another.
 * Both workspaces are compiled by @allot/admin and resolved by @allot/core for every unit of
 * a simulation population, and the pairs of outcomes are counted: the ground truth the
 * impact preview must predict.
 */
import { compileState, NOT_SERVED, type ImpactPreview, type Workspace } from '@allot/admin';
import { loadState, resolveFlag, type CompiledClient, type CompiledFlag, type JsonValue, type ResolverState } from '@allot/core';
import { chiSquareTail, Population, wilsonInterval, type PopulationSpec } from '@allot/simulation';

export interface ObservedChange {
  readonly units: number;
  /** Per flag: units moving from outcome i to j, at `i * outcomes + j` (the preview's outcomes). */
  readonly flags: ReadonlyMap<string, Float64Array>;
  /** Per segment: units entering and leaving. */
  readonly segments: ReadonlyMap<string, { enter: number; leave: number }>;
}

interface Compiled {
  readonly state: ResolverState;
  readonly client: CompiledClient;
  readonly flags: readonly (CompiledFlag | undefined)[];
  readonly probes: readonly (CompiledFlag | undefined)[];
}

/** Resolves units 0 … units-1 of `spec` in both workspaces and counts how they move. */
export function observeChange(preview: ImpactPreview, before: Workspace, after: Workspace, spec: PopulationSpec, units: number): ObservedChange {
  const segmentIds = preview.segments.map((s) => s.segment);
  const b = compiled(before, preview, segmentIds);
  const a = compiled(after, preview, segmentIds);
  const flags = preview.flags.map((f) => new Float64Array(f.outcomes.length * f.outcomes.length));
  const segments = segmentIds.map(() => ({ enter: 0, leave: 0 }));
  const population = new Population(spec);
  for (let u = 0; u < units; u++) {
    population.fill(u);
    const ctx = population.context;
    preview.flags.forEach((f, k) => {
      const n = f.outcomes.length;
      const i = outcomeIndex(f.outcomes, b.flags[k] === undefined ? '' : resolveFlag(b.state, b.client, b.flags[k], ctx).variant);
      const j = outcomeIndex(f.outcomes, a.flags[k] === undefined ? '' : resolveFlag(a.state, a.client, a.flags[k], ctx).variant);
      flags[k]![i * n + j]! += 1;
    });
    segmentIds.forEach((_, k) => {
      const was = b.probes[k] !== undefined && resolveFlag(b.state, b.client, b.probes[k], ctx).variant === 'in';
      const is = a.probes[k] !== undefined && resolveFlag(a.state, a.client, a.probes[k], ctx).variant === 'in';
      if (is && !was) segments[k]!.enter++;
      else if (was && !is) segments[k]!.leave++;
    });
  }
  return {
    units,
    flags: new Map(preview.flags.map((f, k) => [f.flag, flags[k]!])),
    segments: new Map(segmentIds.map((id, k) => [id, segments[k]!])),
  };
}

function outcomeIndex(outcomes: readonly string[], variant: string): number {
  const i = variant === '' ? outcomes.indexOf(NOT_SERVED) : outcomes.indexOf(variant);
  if (i < 0) throw new Error(`core served variant ${JSON.stringify(variant)}, which the preview does not list (${outcomes.join(', ')})`);
  return i;
}

/**
 * The workspace's state with one probe flag per segment, `probe.<id>`, serving `in` to every
 * unit in the segment (a full rollout on it), so core itself says who is in each segment.
 */
function compiled(ws: Workspace, preview: ImpactPreview, segmentIds: readonly string[]): Compiled {
  const json = compileState(ws);
  const flagsJson = json.flags as Record<string, JsonValue>;
  const segmentsJson = json.segments as Record<string, JsonValue>;
  const clients = ws.clients.map((c) => `clients/${c.id}`);
  for (const id of segmentIds) {
    if (segmentsJson[`segments/${id}`] === undefined) continue;
    const name = `flags/probe.${id}`;
    flagsJson[name] = {
      name,
      state: 'ACTIVE',
      clients,
      variants: [{ name: 'in', value: true }],
      rules: [
        {
          name: `${name}/rules/in`,
          segment: `segments/${id}`,
          enabled: true,
          targetingKeySelector: '',
          assignmentSpec: { bucketCount: 1, assignments: [{ assignmentId: 'in', variant: { variant: 'in' }, bucketRanges: [{ lower: 0, upper: 1 }] }] },
        },
      ],
    };
  }
  const state = loadState(json);
  const client = state.client(ws.clients[0]!.secret)!;
  return {
    state,
    client,
    flags: preview.flags.map((f) => state.flags.get(`flags/${f.flag}`)),
    probes: segmentIds.map((id) => state.flags.get(`flags/probe.${id}`)),
  };
}

/** z of a two-sided 99.9% interval. */
export const Z_999 = 3.2905267314919255;

/** z of a two-sided interval that misses with probability `alpha` (Z² is chi-square with 1 df). */
export function zFor(alpha: number): number {
  let low = 0;
  let high = 40;
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (chiSquareTail(mid * mid, 1) > alpha) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

export interface Comparison {
  /** Shares compared. */
  readonly checked: number;
  /** The predicted shares outside the interval of what was observed, described. */
  readonly outside: readonly string[];
}

/**
 * Holds every predicted share of `preview` (its estimate, or its exact value) to the
 * Wilson interval at `z` of the observed count: each matrix entry of each flag, each
 * segment's enter and leave.
 */
export function compareWithObserved(preview: ImpactPreview, observed: ObservedChange, z: number = Z_999): Comparison {
  const outside: string[] = [];
  let checked = 0;
  const check = (label: string, predicted: number | null, count: number): void => {
    checked++;
    if (predicted === null) {
      outside.push(`${label}: no prediction`);
      return;
    }
    const { low, high } = wilsonInterval(count, observed.units, z);
    // The interval's ends carry float noise (0 observed gives a lower end of ~1e-20).
    if (predicted < low - 1e-12 || predicted > high + 1e-12) {
      outside.push(`${label}: predicted ${predicted}, observed ${count}/${observed.units} = ${count / observed.units} (interval ${low}–${high})`);
    }
  };
  for (const f of preview.flags) {
    const counts = observed.flags.get(f.flag)!;
    const n = f.outcomes.length;
    f.matrix.forEach((row, i) => {
      row.forEach((share, j) => {
        check(`${f.flag} ${f.outcomes[i]} → ${f.outcomes[j]}`, share.exact ?? share.estimate, counts[i * n + j]!);
      });
    });
  }
  for (const s of preview.segments) {
    const counts = observed.segments.get(s.segment)!;
    check(`segment ${s.segment} enter`, s.enter.exact ?? s.enter.estimate, counts.enter);
    check(`segment ${s.segment} leave`, s.leave.exact ?? s.leave.estimate, counts.leave);
  }
  return { checked, outside };
}
