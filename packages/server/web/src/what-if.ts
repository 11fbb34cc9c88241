/**
 * The what-if panel: a change to a segment (allocate, proportion, retag) or to a rule
 * (reorder, weights, reach, enable or disable) sent to the server's own write route with
 * `?validateOnly=true&bucketMapCells=N`. The server applies it to a copy of the workspace and
 * answers what the write would answer, the impact `allot diff` would print (start, stop and
 * change per flag and the from → to matrix, segments' buckets and who enters or leaves) and
 * the bucket map after the change, which is drawn below the result. Nothing is written.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { FlagImpact } from '@allot/admin';

import { api, type Answer } from './api.js';
import { BucketSpace, type Colour } from './bucket-space.js';
import { count, formatShare, parseFraction, parseWeights, percent, shortId, tagList, weightsText } from './format.js';
import { html } from './html.js';
import type { BucketMap, FlagJson, Impact, PreviewAnswer, RuleJson, SegmentJson } from './types.js';

type SegmentAction = 'allocate' | 'proportion' | 'retag';
type RuleAction = 'move' | 'weights' | 'reach' | 'enable' | 'disable';
type Action = SegmentAction | RuleAction;

/** What the change is made to: `segment:ID` or `rule:FLAG/RULE` (the select's values). */
type Target = { readonly kind: 'segment'; readonly segment: SegmentJson } | { readonly kind: 'rule'; readonly flag: FlagJson; readonly rule: RuleJson; readonly index: number };

const ACTION_LABELS: Record<Action, string> = {
  allocate: 'allocate',
  proportion: 'change the proportion',
  retag: 'retag',
  move: 'move (reorder)',
  weights: 'change the weights',
  reach: 'change the reach',
  enable: 'enable',
  disable: 'disable',
};

function targetKey(t: Target): string {
  return t.kind === 'segment' ? `segment:${shortId(t.segment.name)}` : `rule:${shortId(t.flag.name)}/${shortId(t.rule.name)}`;
}

function targets(segments: readonly SegmentJson[], flags: readonly FlagJson[]): Target[] {
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

interface Fields {
  readonly proportion: string;
  readonly tags: string;
  readonly exclusiveTo: string;
  readonly position: string;
  readonly weights: string;
  readonly reach: string;
  readonly force: boolean;
}

/** The form's fields for `t`, filled with what it is now (so a retag starts from the current tags). */
function currentFields(t: Target): Fields {
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
function request(t: Target, action: Action, f: Fields, cells: number): { readonly method: 'POST' | 'PATCH'; readonly path: string; readonly body: unknown } | { readonly error: string } {
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
async function openingChange(list: readonly Target[]): Promise<{ readonly key: string; readonly action: Action } | null> {
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

function Matrix({ f }: { readonly f: FlagImpact }): unknown {
  // Only the outcomes some unit has, before or after (as `allot diff` prints it).
  const shown = f.outcomes.map((_, i) => i).filter((i) => f.outcomes.some((_, j) => f.matrix[i]![j]!.high > 0 || f.matrix[j]![i]!.high > 0));
  return html`<table class="matrix" data-matrix=${f.flag}>
    <caption>${f.flag}: share of units from each outcome (row) to each outcome (column)</caption>
    <thead><tr><th scope="col">${'from \\ to'}</th>${shown.map((j) => html`<th scope="col" class="num">${f.outcomes[j]}</th>`)}</tr></thead>
    <tbody>${shown.map(
      (i) => html`<tr><th scope="row">${f.outcomes[i]}</th>${shown.map((j) => html`<td class=${`num${i === j ? ' same' : ''}`} data-from=${f.outcomes[i]} data-to=${f.outcomes[j]}>${formatShare(f.matrix[i]![j]!)}</td>`)}</tr>`,
    )}</tbody>
  </table>`;
}

function ImpactView({ impact, warnings }: { readonly impact: Impact; readonly warnings: readonly string[] }): unknown {
  const segments = impact.segments.filter((s) => s.changed || s.buckets.added + s.buckets.removed > 0);
  const flags = impact.flags.filter((f) => f.changed);
  const used = [...new Set([...flags.flatMap((f) => f.conditions), ...segments.flatMap((s) => s.conditions)])].sort((a, b) => a - b);
  return html`<div>
    ${warnings.length > 0 ? html`<ul>${warnings.map((w) => html`<li>warning: ${w}</li>`)}</ul>` : null}
    ${segments.length === 0 && flags.length === 0 ? html`<p>No unit would change outcome or segment.</p>` : null}
    ${used.length > 0
      ? html`<p class="muted">Shares that depend on who matches these audiences are shown as bounds over every possible population (<code>allot diff --population</code> estimates them):</p>
          <ul>${used.map((i) => html`<li><strong>${impact.conditions[i]?.label}</strong> <code>${impact.conditions[i]?.text}</code></li>`)}</ul>`
      : null}
    ${flags.map(
      (f) => html`<section class="impact-flag" data-impact-flag=${f.flag}>
        <h4>flag ${f.flag}${f.before === f.after ? '' : ` (${f.before} → ${f.after})`}</h4>
        <p>start served <strong data-share="start">${formatShare(f.start)}</strong>, stop served <strong data-share="stop">${formatShare(f.stop)}</strong>, change variant <strong data-share="change">${formatShare(f.change)}</strong></p>
        <${Matrix} f=${f} />
        ${f.notes.map((n) => html`<p class="muted">note: ${n}</p>`)}
      </section>`,
    )}
    ${segments.length > 0
      ? html`<table>
          <caption>Segments that would change</caption>
          <thead><tr><th scope="col">segment</th><th scope="col">state</th><th scope="col" class="num">buckets before</th><th scope="col" class="num">after</th><th scope="col" class="num">kept</th><th scope="col" class="num">added</th><th scope="col" class="num">removed</th><th scope="col">units enter</th><th scope="col">units leave</th></tr></thead>
          <tbody>${segments.map(
            (s) => html`<tr data-impact-segment=${s.segment} data-before=${s.buckets.before} data-after=${s.buckets.after} data-added=${s.buckets.added} data-removed=${s.buckets.removed}>
              <th scope="row">${s.segment}</th><td>${s.before === s.after ? s.before : `${s.before} → ${s.after}`}</td>
              <td class="num">${count(s.buckets.before)}</td><td class="num">${count(s.buckets.after)}</td><td class="num">${count(s.buckets.kept)}</td>
              <td class="num">${count(s.buckets.added)}</td><td class="num">${count(s.buckets.removed)}</td>
              <td>${formatShare(s.enter)}</td><td>${formatShare(s.leave)}</td>
            </tr>`,
          )}</tbody>
        </table>`
      : null}
  </div>`;
}

interface WhatIfProps {
  readonly segments: readonly SegmentJson[];
  readonly flags: readonly FlagJson[];
  readonly map: BucketMap;
  readonly colour: Colour;
}

type Result = { readonly refused: string; readonly code: string } | { readonly answer: PreviewAnswer };

export function WhatIf({ segments, flags, map, colour }: WhatIfProps): unknown {
  const list = targets(segments, flags);
  const [key, setKey] = useState<string | null>(null);
  const [action, setAction] = useState<Action>('proportion');
  const [fields, setFields] = useState<Fields | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const [busy, setBusy] = useState(false);
  const target = list.find((t) => targetKey(t) === key) ?? list[0];

  // Whether the user has chosen a change: then a reload keeps it, with its fields as they now are.
  const chosen = useRef(false);
  const choose = (t: Target, a: Action): void => {
    setKey(targetKey(t));
    setAction(a);
    setFields(currentFields(t));
    setResult(null);
  };
  useEffect(() => {
    let stale = false;
    setFields(null);
    setResult(null);
    if (!chosen.current) {
      void openingChange(list).then((opening) => {
        if (stale || chosen.current || opening === null) return;
        const t = list.find((x) => targetKey(x) === opening.key);
        if (t !== undefined) choose(t, opening.action);
      });
    }
    return () => {
      stale = true;
    };
    // Run once per workspace version (the lists are new then).
  }, [segments, flags]);

  if (target === undefined) return html`<p>Create a segment first.</p>`;
  const f = fields ?? currentFields(target);
  const actions = actionsFor(target);
  const shown: Action = actions.includes(action) ? action : actions[0]!;
  const set = <K extends keyof Fields>(name: K, value: Fields[K]): void => {
    setFields({ ...f, [name]: value });
  };
  const preview = async (e: Event): Promise<void> => {
    e.preventDefault();
    const req = request(target, shown, f, map.cells);
    if ('error' in req) {
      setResult({ refused: req.error, code: 'INVALID_INPUT' });
      return;
    }
    setBusy(true);
    try {
      const res: Answer<PreviewAnswer> = await api<PreviewAnswer>(req.method, req.path, req.body);
      setResult(res.ok ? { answer: res.body } : { refused: `${res.error.code}: ${res.error.message}`, code: res.error.code });
    } finally {
      setBusy(false);
    }
  };
  const input = (id: string, label: string, name: 'proportion' | 'tags' | 'exclusiveTo' | 'position' | 'weights' | 'reach', mode = 'text'): unknown =>
    html`<label>${label}<input id=${id} inputmode=${mode} value=${f[name]} onInput=${(e: Event) => {
      set(name, (e.currentTarget as HTMLInputElement).value);
    }} /></label>`;
  const after = result !== null && 'answer' in result ? result.answer.impact.bucketMap : undefined;
  // A previewed segment change answers the segment after it: its tags explain the charts after.
  const changed = result !== null && 'answer' in result && target.kind === 'segment' ? (result.answer as PreviewAnswer & Partial<SegmentJson>) : undefined;
  const segmentsAfter = segments.map((s) => (changed?.allocation !== undefined && changed.name === s.name ? { ...s, allocation: changed.allocation } : s));
  return html`<form class="whatif" onSubmit=${preview} aria-describedby="whatif-help">
    <p id="whatif-help" class="muted">Preview a change: the server applies it to a copy of the workspace and answers what would move, as <code>allot diff</code> does. Nothing is written.</p>
    <label>Change
      <select id="whatif-target" value=${targetKey(target)} onChange=${(e: Event) => {
        const t = list.find((x) => targetKey(x) === (e.currentTarget as HTMLSelectElement).value);
        chosen.current = true;
        if (t !== undefined) choose(t, actionsFor(t)[0]!);
      }}>
        <optgroup label="Segments">${list.filter((t) => t.kind === 'segment').map((t) => html`<option value=${targetKey(t)}>segment ${shortId(t.segment.name)} (${t.segment.state})</option>`)}</optgroup>
        ${list.some((t) => t.kind === 'rule')
          ? html`<optgroup label="Rules">${list.map((t) => (t.kind === 'rule' ? html`<option value=${targetKey(t)}>rule ${shortId(t.flag.name)} / ${shortId(t.rule.name)} (${t.rule.kind}, ${t.rule.state})</option>` : null))}</optgroup>`
          : null}
      </select>
    </label>
    <label>Action
      <select id="whatif-action" value=${shown} onChange=${(e: Event) => {
        chosen.current = true;
        setAction((e.currentTarget as HTMLSelectElement).value as Action);
        setFields(currentFields(target));
        setResult(null);
      }}>
        ${actions.map((a) => html`<option value=${a}>${ACTION_LABELS[a]}</option>`)}
      </select>
    </label>
    ${shown === 'proportion' ? input('whatif-proportion', 'New proportion (0.1 or 10%)', 'proportion', 'decimal') : null}
    ${shown === 'retag' ? [input('whatif-tags', 'Tags (comma-separated)', 'tags'), input('whatif-exclusive-to', 'Exclusive to (comma-separated)', 'exclusiveTo')] : null}
    ${shown === 'move' && target.kind === 'rule' ? input('whatif-position', `New position (0 is evaluated first; now ${target.index})`, 'position', 'numeric') : null}
    ${shown === 'weights' ? input('whatif-weights', 'Weights (variant=weight, …)', 'weights') : null}
    ${shown === 'reach' ? input('whatif-reach', target.kind === 'rule' && target.rule.kind === 'conditional' ? 'Share of the audience (0.5 or 50%)' : 'Reach (0.5 or 50%)', 'reach', 'decimal') : null}
    ${shown === 'proportion' || shown === 'retag'
      ? html`<label class="inline"><input id="whatif-force" type="checkbox" checked=${f.force} onChange=${(e: Event) => {
          set('force', (e.currentTarget as HTMLInputElement).checked);
        }} /> force (a live segment may lose units)</label>`
      : null}
    <div><button id="whatif-preview" type="submit" disabled=${busy}>Preview</button></div>
    <div class="result" aria-live="polite" id="whatif-result">
      ${result === null
        ? null
        : 'refused' in result
          ? html`<p class="error" role="alert" data-error-code=${result.code}>The change would be refused: ${result.refused}</p>`
          : html`<${ImpactView} impact=${result.answer.impact} warnings=${result.answer.warnings ?? []} />
              <p class="muted">Previewed with validateOnly: nothing was written.</p>`}
    </div>
    ${after !== undefined && result !== null && 'answer' in result && !result.answer.impact.segments.some((x) => x.buckets.added + x.buckets.removed > 0)
      ? html`<p class="muted" id="whatif-after">This change moves no bucket: the bucket space stays as drawn above.</p>`
      : after !== undefined
      ? html`<section class="after" aria-labelledby="after-h" id="whatif-after"><h3 id="after-h">Bucket space after this change</h3>
          <${BucketSpace} map=${after} segments=${segmentsAfter} colour=${colour} before=${map} idPrefix="after-" /></section>`
      : null}
  </form>`;
}
