/**
 * The changes the what-if panel can preview, and the write request each is previewed with:
 * for a segment, allocate (only an unallocated one), a new proportion or a retag; for a rule,
 * enable or disable, move, new weights or a new reach. Each is the server's own write route
 * with `?validateOnly=true&bucketMapCells=N`.
 */
import { api } from './api.js';
import { parseFraction, parseWeights, percent, shortId, tagList, weightsText } from './format.js';
import type { FlagJson, RuleJson, SegmentJson } from './types.js';

type SegmentAction = 'allocate' | 'proportion' | 'retag';
type RuleAction = 'move' | 'weights' | 'reach' | 'enable' | 'disable';
export type Action = SegmentAction | RuleAction;

/** What the change is made to: `segment:ID` or `rule:FLAG/RULE` (the select's values). */
export type Target = { readonly kind: 'segment'; readonly segment: SegmentJson } | { readonly kind: 'rule'; readonly flag: FlagJson; readonly rule: RuleJson; readonly index: number };

export const ACTION_LABELS: Record<Action, string> = {
  allocate: 'allocate',
  proportion: 'change the proportion',
  retag: 'retag',
  move: 'move (reorder)',
  weights: 'change the weights',
  reach: 'change the reach',
  enable: 'enable',
  disable: 'disable',
};

export function targetKey(t: Target): string {
  return t.kind === 'segment' ? `segment:${shortId(t.segment.name)}` : `rule:${shortId(t.flag.name)}/${shortId(t.rule.name)}`;
}

export function targets(segments: readonly SegmentJson[], flags: readonly FlagJson[]): Target[] {
  const list: Target[] = segments.filter((s) => s.state !== 'ARCHIVED').map((segment) => ({ kind: 'segment' as const, segment }));
  for (const flag of flags) {
    if (flag.state === 'ARCHIVED') continue;
    flag.rules.forEach((rule, index) => {
      if (rule.state !== 'ARCHIVED') list.push({ kind: 'rule', flag, rule, index });
    });
  }
  return list;
}

/** The changes that can apply to `t` (allocate only an unallocated segment, enable only a disabled rule…). */
export function actionsFor(t: Target): Action[] {
  if (t.kind === 'segment') return t.segment.state === 'UNALLOCATED' ? ['allocate', 'proportion', 'retag'] : ['proportion', 'retag'];
  const list: Action[] = [t.rule.state === 'ENABLED' ? 'disable' : 'enable'];
  if (t.flag.rules.filter((r) => r.state !== 'ARCHIVED').length > 1) list.push('move');
  if (t.rule.kind === 'ab-test' || t.rule.kind === 'conditional') list.push('weights');
  if (t.rule.kind === 'rollout' || t.rule.kind === 'conditional') list.push('reach');
  return list;
}

export interface Fields {
  readonly proportion: string;
  readonly tags: string;
  readonly exclusiveTo: string;
  readonly position: string;
  readonly weights: string;
  readonly reach: string;
  readonly force: boolean;
}

/** The form's fields for `t`, filled with what it is now (so a retag starts from the current tags). */
export function currentFields(t: Target): Fields {
  const fields = { proportion: '', tags: '', exclusiveTo: '', position: '', weights: '', reach: '', force: false };
  if (t.kind === 'segment') {
    const a = t.segment.allocation;
    return { ...fields, proportion: percent(Number(a.proportion.value)), tags: a.exclusivityTags.join(', '), exclusiveTo: a.exclusiveTo.join(', ') };
  }
  const r = t.rule;
  const last = t.flag.rules.length - 1;
  return {
    ...fields,
    // Moving the first rule down, any other up: a position that changes the order.
    position: String(t.index === 0 ? Math.min(1, last) : t.index - 1),
    weights: r.kind === 'ab-test' ? weightsText(r.weights) : r.kind === 'conditional' ? weightsText(r.split) : '',
    reach: r.kind === 'rollout' ? percent(Number(r.reach.value)) : r.kind === 'conditional' ? percent(Number(r.percentage.value)) : '',
  };
}

/** The request a change is previewed with, or what is wrong with the fields. */
export function request(t: Target, action: Action, f: Fields, cells: number): { readonly method: 'POST' | 'PATCH'; readonly path: string; readonly body: unknown } | { readonly error: string } {
  const preview = `validateOnly=true&bucketMapCells=${cells}${f.force ? '&force=true' : ''}`;
  if (t.kind === 'segment') {
    const path = `/v1/segments/${encodeURIComponent(shortId(t.segment.name))}`;
    switch (action) {
      case 'allocate':
        return { method: 'POST', path: `${path}:allocate?${preview}`, body: {} };
      case 'proportion': {
        const p = parseFraction(f.proportion);
        if ('error' in p) return { error: `New proportion: ${p.error}` };
        return { method: 'PATCH', path: `${path}?updateMask=allocation.proportion&${preview}`, body: { allocation: { proportion: { value: p.value } } } };
      }
      default:
        return {
          method: 'PATCH',
          path: `${path}?updateMask=allocation.exclusivityTags,allocation.exclusiveTo&${preview}`,
          body: { allocation: { exclusivityTags: tagList(f.tags), exclusiveTo: tagList(f.exclusiveTo) } },
        };
    }
  }
  const path = `/v1/flags/${encodeURIComponent(shortId(t.flag.name))}/rules/${encodeURIComponent(shortId(t.rule.name))}`;
  switch (action) {
    case 'enable':
    case 'disable':
      return { method: 'POST', path: `${path}:${action}?${preview}`, body: {} };
    case 'move': {
      if (!/^\d+$/.test(f.position.trim())) return { error: `New position: expected a whole number from 0 (evaluated first) to ${t.flag.rules.length - 1}, got ${JSON.stringify(f.position)}` };
      return { method: 'POST', path: `${path}:move?${preview}`, body: { position: Number(f.position.trim()) } };
    }
    case 'weights': {
      const w = parseWeights(f.weights);
      if ('error' in w) return { error: `Weights: ${w.error}` };
      return { method: 'PATCH', path: `${path}?${preview}`, body: t.rule.kind === 'conditional' ? { split: w.value } : { weights: w.value } };
    }
    default: {
      const p = parseFraction(f.reach);
      if ('error' in p) return { error: `Reach: ${p.error}` };
      return { method: 'PATCH', path: `${path}?${preview}`, body: t.rule.kind === 'conditional' ? { percentage: { value: p.value } } : { reach: { value: p.value } } };
    }
  }
}

/**
 * The change the panel opens on: one that applies. The first unallocated segment that fits
 * its free space (asked of the server's allocator), else disabling the first enabled rule,
 * else enabling the first rule, else the first segment's proportion as it is.
 */
export async function openingChange(list: readonly Target[]): Promise<{ readonly key: string; readonly action: Action } | null> {
  for (const t of list) {
    if (t.kind !== 'segment' || t.segment.state !== 'UNALLOCATED') continue;
    const a = t.segment.allocation;
    const q = new URLSearchParams({ exclusivityTags: a.exclusivityTags.join(','), exclusiveTo: a.exclusiveTo.join(',') });
    const space = await api<{ availableBuckets: number }>('GET', `/v1/segments:availableSpace?${q.toString()}`);
    if (space.ok && space.body.availableBuckets >= Math.round(Number(a.proportion.value) * 1_000_000)) return { key: targetKey(t), action: 'allocate' };
  }
  // Disabling an enabled rule always applies; enabling one is the next best.
  const enabled = list.find((t) => t.kind === 'rule' && t.rule.state === 'ENABLED');
  if (enabled !== undefined) return { key: targetKey(enabled), action: 'disable' };
  const rule = list.find((t) => t.kind === 'rule');
  if (rule !== undefined) return { key: targetKey(rule), action: 'enable' };
  const first = list[0];
  return first === undefined ? null : { key: targetKey(first), action: 'proportion' };
}
