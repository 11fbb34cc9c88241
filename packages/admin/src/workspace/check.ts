/**
 * Consistency of a workspace beyond its shape: references resolve, the lifecycle is
 * respected, exclusion groups agree with the tags they put on members, and no bucket is held
 * by two conflicting allocated segments. Parsing runs this, so a hand edit that breaks an
 * invariant is refused with the path of the problem.
 */
import { bucketsFor, conflictsWith } from '../allocation/allocator.js';
import { WORDS, type BucketSet } from '../allocation/bucket-set.js';
import { meetsWords, orRuns, type Runs } from '../allocation/runs.js';
import type { WorkspaceIssue } from '../errors.js';
import { segmentReferences } from '../targeting/ast.js';
import type { ExclusionGroup, Flag, Rule, Segment, Workspace } from './model.js';
import { groupTag, isGroupTag } from './names.js';

/**
 * Every consistency problem of `workspace` (empty when it is sound). The check decodes
 * every bucket set to its runs (a few KB each); with `retainBitsets` false any dense words
 * made meanwhile are released afterwards. With `changed`, the ids of the segments that
 * differ from a workspace known to be consistent (`isConsistent`), only those are checked
 * for buckets shared with segments they conflict with: every other pair was apart before.
 */
export function checkWorkspace(workspace: Workspace, retainBitsets = false, changed?: ReadonlySet<string>): WorkspaceIssue[] {
  const issues: WorkspaceIssue[] = [];
  const add = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  const environments = new Set(workspace.environments);
  if (environments.size !== workspace.environments.length) add('environments', 'lists an environment twice');
  const secrets = new Map<string, string>();
  for (const c of workspace.clients) {
    const other = secrets.get(c.secret);
    if (other !== undefined) add(`clients.${c.id}.secret`, `is also the secret of client ${other}`);
    if (c.secret !== '') secrets.set(c.secret, c.id);
    c.environments.forEach((e, i) => {
      if (!environments.has(e)) add(`clients.${c.id}.environments[${i}]`, `unknown environment ${JSON.stringify(e)}; declare it under environments`);
    });
  }

  const segments = new Map(workspace.segments.map((s) => [s.id, s]));
  for (const s of workspace.segments) checkSegment(s, segments, add);
  checkGroups(workspace, segments, add);
  if (changed === undefined) checkExclusivity(workspace.segments, add);
  else checkExclusivityOf(workspace.segments, changed, add);
  if (!retainBitsets) for (const s of workspace.segments) s.buckets?.release();

  const clients = new Set(workspace.clients.map((c) => c.id));
  for (const f of workspace.flags) checkFlag(f, environments, clients, segments, add);
  return issues;
}

/**
 * Ids given to two entries of one kind. The document holds clients, segments, flags and
 * groups as maps keyed by id, so a workspace made in memory with an id twice (a hand edit of
 * the model) would lose an entry when written: it is refused before anything else is checked,
 * by both of `applyOperation`'s gates alike.
 */
export function duplicateIdIssues(workspace: Workspace): WorkspaceIssue[] {
  const issues: WorkspaceIssue[] = [];
  const kinds = [
    ['clients', 'client', workspace.clients],
    ['segments', 'segment', workspace.segments],
    ['flags', 'flag', workspace.flags],
    ['groups', 'group', workspace.groups],
  ] as const;
  for (const [key, noun, entries] of kinds) {
    const count = new Map<string, number>();
    for (const e of entries) count.set(e.id, (count.get(e.id) ?? 0) + 1);
    for (const [id, n] of count) {
      if (n > 1) issues.push({ path: `${key}.${id}`, message: `${n} ${noun}s have the id ${JSON.stringify(id)}; an id names one ${noun}: rename or remove the others` });
    }
  }
  return issues;
}

/** A flag's clients, rules and their references, against what the workspace declares. */
export function checkFlag(f: Flag, environments: ReadonlySet<string>, clients: ReadonlySet<string>, segments: ReadonlyMap<string, Segment>, add: Add): void {
  const path = `flags.${f.id}`;
  f.clients.forEach((c, i) => {
    if (!clients.has(c)) add(`${path}.clients[${i}]`, `unknown client ${JSON.stringify(c)}`);
  });
  const variants = new Set(f.variants.map((v) => v.name));
  const ruleIds = new Set<string>();
  f.rules.forEach((r, i) => {
    const rp = `${path}.rules[${i}]`;
    if (ruleIds.has(r.id)) add(`${rp}.id`, `rule id ${JSON.stringify(r.id)} is used twice in this flag`);
    ruleIds.add(r.id);
    r.environments.forEach((e, j) => {
      if (!environments.has(e)) add(`${rp}.environments[${j}]`, `unknown environment ${JSON.stringify(e)}; declare it under environments`);
    });
    checkRule(r, rp, f.state === 'ARCHIVED', variants, segments, add);
  });
}

export type Add = (path: string, message: string) => void;

/** Workspaces that passed `checkWorkspace` (parsed, or through the gate of `applyOperation`). */
const consistent = new WeakSet<Workspace>();

/** Records that `workspace` has no consistency problem. */
export function markConsistent(workspace: Workspace): void {
  consistent.add(workspace);
}

/** Whether `workspace` is known to have no consistency problem (workspaces are immutable). */
export function isConsistent(workspace: Workspace): boolean {
  return consistent.has(workspace);
}

/**
 * Sets whose stored form was found to hold their count. Sets are immutable, so one checked
 * when the workspace was read, or made by the allocator and checked by the last write, is
 * not decoded and counted again by every write after it.
 */
const verified = new WeakSet<BucketSet>();

export function checkSegment(s: Segment, segments: ReadonlyMap<string, Segment>, add: Add): void {
  const path = `segments.${s.id}`;
  if (s.state === 'ALLOCATED') {
    if (s.buckets === null) {
      add(`${path}.buckets`, 'an ALLOCATED segment holds buckets; allocate it with "allot segments allocate"');
    } else {
      const needed = bucketsFor(s.proportion);
      if (s.buckets.count !== needed) {
        add(
          `${path}.allocation.proportion`,
          `is ${s.proportion}, which needs ${needed} buckets, but the segment holds ${s.buckets.count}; change the proportion with "allot segments update"`,
        );
      }
      try {
        if (!verified.has(s.buckets)) {
          s.buckets.verify();
          verified.add(s.buckets);
        }
      } catch (error) {
        add(`${path}.buckets.${s.buckets.storedAs}`, `${(error as Error).message}; the tool writes this field: restore it from version control`);
      }
    }
  } else if (s.buckets !== null) {
    add(`${path}.buckets`, `only ALLOCATED segments hold buckets, and this one is ${s.state}`);
  }
  if (s.targeting !== null) {
    for (const ref of segmentReferences(s.targeting.expr)) {
      if (ref === s.id) add(`${path}.targeting`, 'refers to the segment itself');
      else if (!segments.has(ref)) add(`${path}.targeting`, `refers to unknown segment ${JSON.stringify(ref)}`);
    }
  }
}

function checkGroups(workspace: Workspace, segments: ReadonlyMap<string, Segment>, add: Add): void {
  for (const g of workspace.groups) checkGroupMembers(g, segments, add);
  const expected = expectedGroupTags(workspace.groups);
  for (const s of workspace.segments) checkGroupTags(s, expected, add);
}

/** Members listed twice or unknown. */
export function checkGroupMembers(g: ExclusionGroup, segments: ReadonlyMap<string, Segment>, add: Add): void {
  const seen = new Set<string>();
  g.members.forEach((m, i) => {
    const mp = `groups.${g.id}.members[${i}]`;
    if (seen.has(m)) add(mp, `lists segment ${m} twice`);
    seen.add(m);
    if (!segments.has(m)) add(mp, `unknown segment ${JSON.stringify(m)}`);
  });
}

/** The group tags each segment must carry: those of the active groups it is a member of. */
export function expectedGroupTags(groups: readonly ExclusionGroup[]): Map<string, Set<string>> {
  const expected = new Map<string, Set<string>>();
  for (const g of groups) {
    if (g.state !== 'ACTIVE') continue;
    for (const m of g.members) {
      const set = expected.get(m) ?? new Set<string>();
      set.add(groupTag(g.id));
      expected.set(m, set);
    }
  }
  return expected;
}

/** A segment's group tags against those of the groups it belongs to (`expectedGroupTags`). */
export function checkGroupTags(s: Segment, expected: ReadonlyMap<string, ReadonlySet<string>>, add: Add): void {
  const want = expected.get(s.id) ?? new Set<string>();
  for (const key of ['exclusivityTags', 'exclusiveTo'] as const) {
    const have = new Set(s[key].filter(isGroupTag));
    for (const t of want) {
      if (!have.has(t)) add(`segments.${s.id}.allocation.${key}`, `lacks ${JSON.stringify(t)}, the tag of the active exclusion group it belongs to`);
    }
    for (const t of have) {
      if (!want.has(t)) add(`segments.${s.id}.allocation.${key}`, `has ${JSON.stringify(t)} but is not a member of that active exclusion group; use "allot groups" to change membership`);
    }
  }
}

/**
 * No bucket held by two conflicting allocated segments, in one pass per tag: for each tag,
 * the buckets held by at least one and by at least two of the segments carrying it; a
 * segment exclusive to that tag may meet neither the first (if it does not carry the tag)
 * nor the second (if it does).
 */
function checkExclusivity(all: readonly Segment[], add: Add): void {
  const allocated = all.filter((s) => s.state === 'ALLOCATED' && s.buckets !== null);
  const needed = new Set(allocated.flatMap((s) => s.exclusiveTo));
  const byTag = new Map<string, { once: Uint32Array; twice: Uint32Array; holders: Segment[] }>();
  for (const s of allocated) {
    for (const t of s.exclusivityTags) {
      if (!needed.has(t)) continue;
      let acc = byTag.get(t);
      if (acc === undefined) {
        acc = { once: new Uint32Array(WORDS), twice: new Uint32Array(WORDS), holders: [] };
        byTag.set(t, acc);
      }
      acc.holders.push(s);
      const runs = runsOf(s);
      if (runs === null) continue;
      // Buckets already held once become held twice; then all of them are held once.
      andRunsInto(acc.twice, acc.once, runs);
      orRuns(acc.once, runs);
    }
  }
  for (const s of allocated) {
    const runs = runsOf(s);
    if (runs === null) continue;
    for (const t of s.exclusiveTo) {
      const acc = byTag.get(t);
      if (acc === undefined) continue;
      const region = s.exclusivityTags.includes(t) ? acc.twice : acc.once;
      if (!meetsWords(runs, region)) continue;
      const others = acc.holders.filter((o) => o !== s && sharesBuckets(s, o)).map((o) => o.id);
      add(
        `segments.${s.id}.buckets`,
        `shares buckets with ${others.join(', ')}, which carry tag ${JSON.stringify(t)} it is exclusive to; ` +
          'coordination tags were edited by hand: change them with "allot segments update" so the allocator moves buckets',
      );
      break;
    }
  }
}

/**
 * The exclusivity of the `changed` segments only, each against every allocated segment it
 * conflicts with: what one change costs, not what the workspace holds.
 */
export function checkExclusivityOf(all: readonly Segment[], changed: ReadonlySet<string>, add: Add): void {
  const allocated = all.filter((s) => s.state === 'ALLOCATED' && s.buckets !== null);
  for (const s of allocated) {
    if (!changed.has(s.id)) continue;
    const others = allocated.filter((o) => o !== s && conflictsWith(s, o) && sharesBuckets(s, o));
    if (others.length === 0) continue;
    add(
      `segments.${s.id}.buckets`,
      `shares buckets with ${others.map((o) => o.id).join(', ')}, which it conflicts with by coordination tags; ` +
        'coordination tags were edited by hand: change them with "allot segments update" so the allocator moves buckets',
    );
  }
}

function runsOf(s: Segment): Runs | null {
  try {
    return s.buckets!.runs();
  } catch {
    return null; // reported by checkSegment
  }
}

/** Sets in `into` the buckets of `runs` that `from` holds. */
function andRunsInto(into: Uint32Array, from: Uint32Array, runs: Runs): void {
  for (let i = 0; i < runs.length; i += 2) {
    const start = runs[i]!;
    const end = runs[i + 1]!;
    for (let w = start >>> 5; w <= (end - 1) >>> 5; w++) {
      const lo = w === start >>> 5 ? ~0 << (start & 31) : ~0;
      const hi = w === (end - 1) >>> 5 ? ~0 >>> (31 - ((end - 1) & 31)) : ~0;
      into[w]! |= from[w]! & lo & hi;
    }
  }
}

function sharesBuckets(a: Segment, b: Segment): boolean {
  const x = runsOf(a);
  const y = runsOf(b);
  if (x === null || y === null) return false;
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i + 1]! <= y[j]!) i += 2;
    else if (y[j + 1]! <= x[i]!) j += 2;
    else return true;
  }
  return false;
}

function checkRule(r: Rule, path: string, flagArchived: boolean, variants: ReadonlySet<string>, segments: ReadonlyMap<string, Segment>, add: Add): void {
  const variant = (name: string, at: string): void => {
    if (!variants.has(name)) add(at, `unknown variant ${JSON.stringify(name)}; the flag has ${[...variants].join(', ') || 'no variants'}`);
  };
  if (r.sticky.pausedIntake && !r.sticky.enabled) add(`${path}.sticky.pausedIntake`, 'needs sticky.enabled: intake can only be paused with sticky assignments');
  if (r.sticky.ignoreTargetingForAssigned && !r.sticky.enabled) {
    add(`${path}.sticky.ignoreTargetingForAssigned`, 'needs sticky.enabled');
  }
  switch (r.kind) {
    case 'individual':
      variant(r.variant, `${path}.variant`);
      if (r.values.length === 0) add(`${path}.values`, 'expected at least one value');
      return;
    case 'rollout':
      variant(r.variant, `${path}.variant`);
      break;
    case 'conditional':
      r.split.forEach((w) => {
        variant(w.variant, `${path}.split.${w.variant}`);
      });
      break;
    case 'ab-test':
      r.weights.forEach((w) => {
        variant(w.variant, `${path}.weights.${w.variant}`);
      });
      break;
  }
  if (r.audience.kind === 'segment') {
    const s = segments.get(r.audience.segment);
    if (s === undefined) add(`${path}.segment`, `unknown segment ${JSON.stringify(r.audience.segment)}`);
    // An archived flag serves no one (FLAG_ARCHIVED), so its rules hold no segment: the
    // segment can be archived, its buckets freed, and the flag kept as a record.
    else if (r.state === 'ENABLED' && !flagArchived && s.state !== 'ALLOCATED') {
      add(`${path}.state`, `an enabled rule needs an ALLOCATED segment, and ${s.id} is ${s.state}`);
    }
  } else if (r.audience.targeting !== null) {
    for (const ref of segmentReferences(r.audience.targeting.expr)) {
      if (!segments.has(ref)) add(`${path}.targeting`, `refers to unknown segment ${JSON.stringify(ref)}`);
    }
  }
}
