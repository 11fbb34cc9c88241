/**
 * A previewed change's impact as `allot diff` prints it: per changed flag the start, stop and
 * change shares and the from → to matrix of outcomes, per changed segment its buckets and who
 * enters or leaves, and the audience conditions the bounds depend on.
 */
import type { FlagImpact } from '@allot/admin';

import { count, formatShare } from './format.js';
import { html } from './html.js';
import type { Impact } from './types.js';

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

export function ImpactView({ impact, warnings }: { readonly impact: Impact; readonly warnings: readonly string[] }): unknown {
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
