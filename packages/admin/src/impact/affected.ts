/**
 * The part of a change's two workspaces whose impact can be other than zero, so that a
 * preview's cost follows the change rather than the workspace.
 */
import { segmentReferences } from '../targeting/ast.js';
import type { Flag, Segment, Workspace } from '../workspace/model.js';

/**
 * `before` and `after` cut down to what the change can affect: the segments and flags that
 * differ, the segments whose targeting refers to a changed one (transitively), the flags
 * whose rules use any of those, and every segment these refer to (so they evaluate as in
 * the whole workspace). Every other flag and segment keeps its outcome for every unit, by
 * construction. Operations keep the objects they do not change, so the same object is
 * unchanged at no cost; two objects are compared field by field (two workspaces read apart).
 */
export function affectedPart(before: Workspace, after: Workspace): [Workspace, Workspace] {
  const both = [before, after];
  const segments = changedIds(before.segments, after.segments, sameSegment);
  const flags = changedIds(before.flags, after.flags, sameFlag);
  // Segments referring to a changed one, until none is added.
  const referrers = new Map<string, Set<string>>();
  for (const w of both) {
    for (const s of w.segments) {
      for (const ref of references(s)) {
        let set = referrers.get(ref);
        if (set === undefined) referrers.set(ref, (set = new Set()));
        set.add(s.id);
      }
    }
  }
  for (const pending = [...segments]; pending.length > 0; ) {
    for (const r of referrers.get(pending.pop()!) ?? []) {
      if (segments.has(r)) continue;
      segments.add(r);
      pending.push(r);
    }
  }
  for (const w of both) for (const f of w.flags) if (!flags.has(f.id) && ruleReferences(f).some((r) => segments.has(r))) flags.add(f.id);
  // Everything the kept flags and segments refer to, transitively, so they evaluate as before.
  const byId = new Map<string, Segment[]>();
  for (const w of both) for (const s of w.segments) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  const keep = new Set<string>();
  const pending = [...segments, ...both.flatMap((w) => w.flags.filter((f) => flags.has(f.id)).flatMap(ruleReferences))];
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (keep.has(id)) continue;
    keep.add(id);
    for (const s of byId.get(id) ?? []) pending.push(...references(s));
  }
  const cut = (w: Workspace): Workspace => ({ ...w, segments: w.segments.filter((s) => keep.has(s.id)), flags: w.flags.filter((f) => flags.has(f.id)) });
  return [cut(before), cut(after)];
}

function changedIds<T extends { readonly id: string }>(before: readonly T[], after: readonly T[], same: (a: T, b: T) => boolean): Set<string> {
  const old = new Map(before.map((i) => [i.id, i]));
  const now = new Map(after.map((i) => [i.id, i]));
  const changed = new Set<string>();
  for (const id of new Set([...old.keys(), ...now.keys()])) {
    const a = old.get(id);
    const b = now.get(id);
    if (a !== b && (a === undefined || b === undefined || !same(a, b))) changed.add(id);
  }
  return changed;
}

/** Equal field by field; buckets by their runs text (canonical: equal sets give equal text). */
function sameSegment(a: Segment, b: Segment): boolean {
  const { buckets: x, targeting: tx, ...restA } = a;
  const { buckets: y, targeting: ty, ...restB } = b;
  const sameBuckets = x === y || (x !== null && y !== null && x.count === y.count && x.runsText() === y.runsText());
  return sameBuckets && tx?.source === ty?.source && JSON.stringify(restA) === JSON.stringify(restB);
}

function sameFlag(a: Flag, b: Flag): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function references(s: Segment): string[] {
  return s.targeting === null ? [] : segmentReferences(s.targeting.expr);
}

/** The segments a flag's rules use: as their audience, or referred to by inline targeting. */
function ruleReferences(f: Flag): string[] {
  const out: string[] = [];
  for (const r of f.rules) {
    if (r.kind === 'individual') continue;
    if (r.audience.kind === 'segment') out.push(r.audience.segment);
    else if (r.audience.targeting !== null) out.push(...segmentReferences(r.audience.targeting.expr));
  }
  return out;
}
