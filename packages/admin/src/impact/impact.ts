/**
 * The impact of going from one workspace to another (DESIGN.md, "Hashing" and "Rules"):
 * for every flag the share of units whose outcome moves from each variant (or from not
 * being served) to each other, and for every segment the share that enters or leaves it.
 *
 * Exact over the segment buckets (the 1,000,000 buckets are grouped by which allocations
 * hold them) and over the variant buckets, which hash `segmentId|unit` independently of
 * the segment hash `MegaSalt-account|unit` and of each other. The one thing it cannot know
 * is who matches an audience: each result is given per combination of audience matches.
 */
import { BUCKETS, popcount, WORDS, type BucketSet } from '../allocation/bucket-set.js';
import { AdminError } from '../errors.js';
import { affectedPart } from './affected.js';
import type { Workspace } from '../workspace/model.js';
import { ConditionRegistry, type AudienceNode } from './audience.js';
import { bucketClasses, type BucketClass } from './bucket-classes.js';
import { reduceCases, shareOf, type ReducedCases } from './cases.js';
import { AudienceSpace } from './possible-cases.js';
import { addJointWalk, variantCells, type WalkRule } from './joint-walk.js';
import { viewOf, type Bits, type RuleView, type SegmentView, type StateView } from './state-view.js';
import { NOT_SERVED, type FlagImpact, type ImpactOptions, type ImpactPreview, type SegmentImpact } from './types.js';

/** More audience conditions than this in one flag would be too many cases to list. */
export const MAX_CONDITIONS = 12;

/** The impact of replacing `before` by `after`. Throws INVALID_ARGUMENT or NOT_FOUND (unknown flag). */
export function previewImpact(whole: Workspace, wholeAfter: Workspace, options: ImpactOptions = {}): ImpactPreview {
  const [before, after] = options.affectedOnly === true ? affectedPart(whole, wholeAfter) : [whole, wholeAfter];
  if (before.account !== after.account) {
    throw new AdminError(
      'INVALID_ARGUMENT',
      `the workspaces belong to different accounts (${before.account} and ${after.account}): every unit's segment bucket would change; compare two versions of one account's workspace`,
      { path: 'account' },
    );
  }
  const registry = new ConditionRegistry();
  const views = { before: viewOf(before, registry, options.environments), after: viewOf(after, registry, options.environments) };
  const space = new AudienceSpace(registry.conditions);
  const known = options.affectedOnly === true ? new Set([...whole.flags, ...wholeAfter.flags].map((f) => f.id)) : undefined;
  const flagIds = flagsInScope(views.before, views.after, options.flags, known);
  const flags = flagIds.map((id) => flagImpact(id, views.before, views.after, registry, space, options));
  const segmentIds = segmentsInScope(views.before, views.after, options.flags === undefined ? undefined : flagIds);
  const segments = segmentIds.map((id) => segmentImpact(id, views.before, views.after, registry, space));
  return { account: after.account, conditions: registry.conditions, flags, segments, population: null };
}

/** The flags to preview; `known`, when the views are of a part of the workspaces, is every flag of the whole. */
function flagsInScope(before: StateView, after: StateView, wanted: readonly string[] | undefined, known?: ReadonlySet<string>): string[] {
  const all = [...new Set([...before.flags.keys(), ...after.flags.keys()])];
  if (wanted === undefined) return all;
  const names = known ?? new Set(all);
  for (const id of wanted) {
    if (!names.has(id)) {
      throw new AdminError('NOT_FOUND', `no flag ${JSON.stringify(id)} in either workspace (flags: ${[...names].join(', ') || 'none'})`, { path: `flags.${id}` });
    }
  }
  return all.filter((id) => wanted.includes(id));
}

/** Workspace segments (not rules' own) of either state; with `flags`, only those their rules use. */
function segmentsInScope(before: StateView, after: StateView, flags: readonly string[] | undefined): string[] {
  const all = [...new Set([...before.declared.keys(), ...after.declared.keys()])];
  if (flags === undefined) return all;
  const used = new Set<string>();
  for (const view of [before, after]) {
    for (const id of flags) {
      for (const r of view.flags.get(id)?.rules ?? []) reachable(view, r.segment, used);
    }
  }
  return all.filter((id) => used.has(id));
}

/** Adds `id` and the segments its audience refers to, transitively. */
function reachable(view: StateView, id: string, into: Set<string>): void {
  if (into.has(id)) return;
  into.add(id);
  const s = view.segments.get(id);
  if (s?.audience != null) for (const ref of referencesIn(s.audience)) if (!s.cut.has(ref)) reachable(view, ref, into);
}

function referencesIn(node: AudienceNode, into: string[] = []): string[] {
  if (node.kind === 'segment') into.push(node.segment);
  else if (node.kind === 'not') referencesIn(node.operand, into);
  else if (node.kind !== 'condition') for (const o of node.operands) referencesIn(o, into);
  return into;
}

function conditionsIn(node: AudienceNode | null, into: Set<number>): void {
  if (node === null) return;
  if (node.kind === 'condition') into.add(node.index);
  else if (node.kind === 'not') conditionsIn(node.operand, into);
  else if (node.kind !== 'segment') for (const o of node.operands) conditionsIn(o, into);
}

/**
 * What a set of segments in both states depends on: the bucket sets to group buckets by,
 * and the audience conditions.
 */
class Dependencies {
  readonly sets: BucketSet[] = [];
  readonly setIndex = new Map<BucketSet, number>();
  readonly conditions = new Set<number>();

  add(view: StateView, segmentIds: Iterable<string>): void {
    const seen = new Set<string>();
    for (const id of segmentIds) reachable(view, id, seen);
    for (const id of seen) {
      const s = view.segments.get(id);
      if (s === undefined) continue;
      if (s.bits.kind === 'set' && !this.setIndex.has(s.bits.set)) {
        // Unchanged segments hold equal sets in both workspaces: group buckets by one of them.
        const same = this.sets.findIndex((x) => sameBuckets(x, (s.bits as { set: BucketSet }).set));
        if (same >= 0) {
          this.setIndex.set(s.bits.set, same);
        } else {
          this.setIndex.set(s.bits.set, this.sets.length);
          this.sets.push(s.bits.set);
        }
      }
      conditionsIn(s.audience, this.conditions);
    }
  }

  /** The audience conditions, or an error when they are too many to enumerate. */
  conditionList(subject: string): number[] {
    const list = [...this.conditions].sort((a, b) => a - b);
    if (list.length > MAX_CONDITIONS) {
      throw new AdminError(
        'INVALID_ARGUMENT',
        `${subject} depends on ${list.length} distinct targeting expressions, more than the ${MAX_CONDITIONS} whose combinations the preview lists; preview fewer flags at a time`,
        { path: subject },
      );
    }
    return list;
  }
}

/** Whether units of bucket group `c` with audience matches `tau` are in segment `id` of `view`. */
function inSegment(view: StateView, id: string, deps: Dependencies, c: BucketClass, tau: readonly boolean[]): boolean {
  const s = view.segments.get(id);
  return s !== undefined && segmentMatches(view, s, deps, c, tau);
}

function segmentMatches(view: StateView, s: SegmentView, deps: Dependencies, c: BucketClass, tau: readonly boolean[]): boolean {
  if (!holds(s.bits, deps, c)) return false;
  return s.audience === null || audienceMatches(view, s, s.audience, deps, c, tau);
}

function audienceMatches(view: StateView, s: SegmentView, node: AudienceNode, deps: Dependencies, c: BucketClass, tau: readonly boolean[]): boolean {
  switch (node.kind) {
    case 'condition':
      return tau[node.index]!;
    case 'segment':
      return !s.cut.has(node.segment) && inSegment(view, node.segment, deps, c, tau);
    case 'not':
      return !audienceMatches(view, s, node.operand, deps, c, tau);
    case 'and':
      return node.operands.every((o) => audienceMatches(view, s, o, deps, c, tau));
    case 'or':
      return node.operands.some((o) => audienceMatches(view, s, o, deps, c, tau));
  }
}

function holds(bits: Bits, deps: Dependencies, c: BucketClass): boolean {
  if (bits.kind === 'all') return true;
  if (bits.kind === 'none') return false;
  return c.holds[deps.setIndex.get(bits.set)!]!;
}

/**
 * Runs `compute(tau)` for every combination of `conditions` that some context can have (the
 * rest of tau is false).
 */
function overCases(conditions: readonly number[], space: AudienceSpace, total: number, compute: (tau: readonly boolean[]) => Float64Array): ReducedCases {
  const possible = space.possible(conditions);
  const values: (Float64Array | null)[] = [];
  const tau = new Array<boolean>(total).fill(false);
  for (let t = 0; t < 1 << conditions.length; t++) {
    if (possible !== null && !possible(t)) {
      values.push(null);
      continue;
    }
    conditions.forEach((index, j) => (tau[index] = ((t >> j) & 1) === 1));
    values.push(compute(tau));
  }
  return reduceCases({ k: conditions.length, values });
}

function flagImpact(id: string, before: StateView, after: StateView, registry: ConditionRegistry, space: AudienceSpace, options: ImpactOptions): FlagImpact {
  const fb = before.flags.get(id);
  const fa = after.flags.get(id);
  const outcomes = [...new Set([...(fb?.variants ?? []), ...(fa?.variants ?? [])]), NOT_SERVED];
  const notServed = outcomes.length - 1;
  const rulesB = fb?.state === 'ACTIVE' ? fb.rules : [];
  const rulesA = fa?.state === 'ACTIVE' ? fa.rules : [];
  const deps = new Dependencies();
  deps.add(before, rulesB.map((r) => r.segment));
  deps.add(after, rulesA.map((r) => r.segment));
  const conditions = deps.conditionList(`flags.${id}`);
  const classes = bucketClasses(deps.sets);
  const cells = variantCells([...rulesB, ...rulesA], (v) => outcomes.indexOf(v));
  const n = outcomes.length;
  const reduced = overCases(conditions, space, registry.conditions.length, (tau) => {
    const matrix = new Float64Array(n * n);
    for (const c of classes) {
      const tried = (view: StateView, rules: readonly RuleView[]): WalkRule[] =>
        rules.filter((r) => r.applies && inSegment(view, r.segment, deps, c, tau)).map((r) => cells.rules.get(r)!);
      addJointWalk(cells, tried(before, rulesB), tried(after, rulesA), c.count / BUCKETS, notServed, n, matrix);
    }
    return withMovement(matrix, n);
  });
  return flagResult(id, fb, fa, outcomes, conditions, reduced, null, notesFor([...rulesB, ...rulesA], options));
}

/** The matrix followed by start, stop and change. */
function withMovement(matrix: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n + 3);
  out.set(matrix);
  const none = n - 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = matrix[i * n + j]!;
      if (i === none && j !== none) out[n * n]! += v;
      else if (i !== none && j === none) out[n * n + 1]! += v;
      else if (i !== j) out[n * n + 2]! += v;
    }
  }
  return out;
}

/** Builds a FlagImpact from its cases; `weights` (units per case) give estimates. */
function flagResult(
  id: string,
  fb: { readonly state: 'ACTIVE' | 'ARCHIVED' } | undefined,
  fa: { readonly state: 'ACTIVE' | 'ARCHIVED' } | undefined,
  outcomes: readonly string[],
  conditions: readonly number[],
  reduced: ReducedCases,
  weights: readonly number[] | null,
  notes: readonly string[],
): FlagImpact {
  const n = outcomes.length;
  const cases = reduced.cases.map((c) => ({
    matches: c.matches,
    matrix: Array.from({ length: n }, (_, i) => Array.from(c.values.subarray(i * n, i * n + n))),
    start: c.values[n * n]!,
    stop: c.values[n * n + 1]!,
    change: c.values[n * n + 2]!,
  }));
  return {
    flag: id,
    before: fb?.state ?? 'ABSENT',
    after: fa?.state ?? 'ABSENT',
    changed: cases.some((c) => c.start + c.stop + c.change > 0),
    outcomes,
    conditions: reduced.relevant.map((j) => conditions[j]!),
    cases,
    start: shareOf(reduced.cases, n * n, weights),
    stop: shareOf(reduced.cases, n * n + 1, weights),
    change: shareOf(reduced.cases, n * n + 2, weights),
    matrix: Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => shareOf(reduced.cases, i * n + j, weights))),
    notes,
  };
}

function notesFor(rules: readonly RuleView[], options: ImpactOptions): string[] {
  const notes: string[] = [];
  const ids = (list: readonly { id: string }[]): string => [...new Set(list.map((r) => r.id))].join(', ');
  const sticky = rules.filter((r) => r.sticky);
  if (sticky.length > 0) {
    notes.push(
      `sticky rules (${ids(sticky)}): units with a stored assignment keep it; the preview is for units with none` +
        (sticky.some((r) => r.pausedIntake) ? ` (rules with paused intake, ${ids(sticky.filter((r) => r.pausedIntake))}, admit none of them)` : ''),
    );
  }
  const restricted = rules.filter((r) => r.environments.length > 0);
  if (restricted.length > 0 && options.environments === undefined) {
    notes.push(`rules restricted to environments (${ids(restricted)}) are previewed as a client in every environment sees them; name the client's environments to preview another`);
  }
  const fields = [...new Set(rules.map((r) => r.field))];
  if (fields.length > 1) {
    notes.push(`the rules randomize on different fields (${fields.join(', ')}): the preview treats them as one unit, which is exact only where those fields hold the same value`);
  }
  return notes;
}

function segmentImpact(id: string, before: StateView, after: StateView, registry: ConditionRegistry, space: AudienceSpace): SegmentImpact {
  const bitsB = before.segments.get(id)?.bits ?? NONE;
  const bitsA = after.segments.get(id)?.bits ?? NONE;
  const buckets = bucketMovement(bitsB, bitsA);
  if (unchangedSegment(id, before, after, bitsB, bitsA)) {
    return segmentResult(id, before, after, buckets, [], { relevant: [], cases: [{ matches: [], values: Float64Array.of(0, 0) }] }, null);
  }
  const deps = new Dependencies();
  deps.add(before, [id]);
  deps.add(after, [id]);
  const conditions = deps.conditionList(`segments.${id}`);
  const classes = bucketClasses(deps.sets);
  const reduced = overCases(conditions, space, registry.conditions.length, (tau) => {
    let enter = 0;
    let leave = 0;
    for (const c of classes) {
      const was = inSegment(before, id, deps, c, tau);
      const is = inSegment(after, id, deps, c, tau);
      if (!was && is) enter += c.count / BUCKETS;
      else if (was && !is) leave += c.count / BUCKETS;
    }
    return Float64Array.of(enter, leave);
  });
  return segmentResult(id, before, after, buckets, conditions, reduced, null);
}

/** Same buckets and same audience, with no reference to other segments (which may change). */
function unchangedSegment(id: string, before: StateView, after: StateView, b: Bits, a: Bits): boolean {
  const sb = before.segments.get(id);
  const sa = after.segments.get(id);
  if (sb === undefined || sa === undefined) return sb === sa;
  const sameBits = b.kind === a.kind && (b.kind !== 'set' || sameBuckets(b.set, (a as { set: BucketSet }).set));
  const noReferences = (s: SegmentView): boolean => s.audience === null || referencesIn(s.audience).length === 0;
  return sameBits && before.targetingText.get(id) === after.targetingText.get(id) && noReferences(sb) && noReferences(sa);
}

function sameBuckets(x: BucketSet, y: BucketSet): boolean {
  if (x === y) return true;
  if (x.count !== y.count) return false;
  const a = x.words();
  const b = y.words();
  for (let i = 0; i < WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Builds a SegmentImpact from its cases; `weights` (units per case) give estimates. */
function segmentResult(
  id: string,
  before: StateView,
  after: StateView,
  buckets: SegmentImpact['buckets'],
  conditions: readonly number[],
  reduced: ReducedCases,
  weights: readonly number[] | null,
): SegmentImpact {
  const cases = reduced.cases.map((c) => ({ matches: c.matches, enter: c.values[0]!, leave: c.values[1]! }));
  return {
    segment: id,
    before: before.declared.get(id)?.state ?? 'ABSENT',
    after: after.declared.get(id)?.state ?? 'ABSENT',
    buckets,
    targetingChanged: (before.targetingText.get(id) ?? '') !== (after.targetingText.get(id) ?? ''),
    audience: { before: wholeCondition(before, id), after: wholeCondition(after, id) },
    changed: cases.some((c) => c.enter + c.leave > 0),
    conditions: reduced.relevant.map((j) => conditions[j]!),
    cases,
    enter: shareOf(reduced.cases, 0, weights),
    leave: shareOf(reduced.cases, 1, weights),
  };
}

const NONE: Bits = { kind: 'none' };

function wholeCondition(view: StateView, id: string): number | null {
  const audience = view.segments.get(id)?.audience;
  return audience?.kind === 'condition' ? audience.index : null;
}

function countOf(bits: Bits): number {
  return bits.kind === 'all' ? BUCKETS : bits.kind === 'none' ? 0 : bits.set.count;
}

/** Buckets held before and after, kept, added and removed. */
function bucketMovement(b: Bits, a: Bits): SegmentImpact['buckets'] {
  let kept: number;
  if (b.kind === 'none' || a.kind === 'none') kept = 0;
  else if (b.kind === 'all') kept = countOf(a);
  else if (a.kind === 'all') kept = countOf(b);
  else {
    const x = b.set.words();
    const y = a.set.words();
    const both = new Uint32Array(WORDS);
    for (let i = 0; i < WORDS; i++) both[i] = x[i]! & y[i]!;
    kept = popcount(both);
  }
  return { before: countOf(b), after: countOf(a), kept, added: countOf(a) - kept, removed: countOf(b) - kept };
}
