/**
 * The what-if panel: a change to a segment (allocate, proportion, retag) or to a rule
 * (reorder, weights, reach, enable or disable) sent to the server's own write route with
 * `?validateOnly=true&bucketMapCells=N`. The server applies it to a copy of the workspace and
 * answers what the write would answer, the impact `allot diff` would print (start, stop and
 * change per flag and the from → to matrix, segments' buckets and who enters or leaves) and
 * the bucket map after the change, which is drawn below the result. Nothing is written.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { api, type Answer } from './api.js';
import { BucketSpace, type Colour } from './bucket-space.js';
import { ACTION_LABELS, actionsFor, currentFields, openingChange, request, targetKey, targets, type Action, type Fields, type Target } from './changes.js';
import { shortId } from './format.js';
import { html } from './html.js';
import { ImpactView } from './impact-view.js';
import type { BucketMap, FlagJson, PreviewAnswer, SegmentJson } from './types.js';

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
