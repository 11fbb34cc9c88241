/**
 * The segments and the flags' rules, linked both ways: a segment's row lists the rules that
 * use it, a rule links to its segment.
 */
import { html } from './html.js';
import { count, percent, shortId } from './format.js';
import type { FlagJson, RuleJson, SegmentJson } from './types.js';

export interface RuleUse {
  readonly flag: string;
  readonly rule: string;
  readonly state: RuleJson['state'];
  readonly flagState: FlagJson['state'];
}

/** The rules that use each segment (by segment id), in flag and rule order. */
export function ruleUses(flags: readonly FlagJson[]): ReadonlyMap<string, readonly RuleUse[]> {
  const uses = new Map<string, RuleUse[]>();
  for (const f of flags) {
    for (const r of f.rules) {
      if (r.segment === undefined) continue;
      const id = shortId(r.segment);
      let list = uses.get(id);
      if (list === undefined) uses.set(id, (list = []));
      list.push({ flag: shortId(f.name), rule: shortId(r.name), state: r.state, flagState: f.state });
    }
  }
  return uses;
}

export const ruleAnchor = (flag: string, rule: string): string => `rule-${flag}-${rule}`;

export function Segments({ segments, uses }: { readonly segments: readonly SegmentJson[]; readonly uses: ReadonlyMap<string, readonly RuleUse[]> }): unknown {
  return html`<table>
    <caption>Every segment of the workspace, and the rules that use it</caption>
    <thead><tr><th scope="col">segment</th><th scope="col">state</th><th scope="col" class="num">proportion</th><th scope="col" class="num">buckets</th><th scope="col">tags</th><th scope="col">exclusive to</th><th scope="col">targeting</th><th scope="col">used by (flag / rule)</th></tr></thead>
    <tbody>
      ${segments.map((s) => {
        const id = shortId(s.name);
        const used = uses.get(id) ?? [];
        return html`<tr id=${`segment-${id}`} data-segment-row=${id}>
          <th scope="row">${id}</th><td><span class="state">${s.state}</span></td>
          <td class="num">${s.allocation.proportion.value}</td><td class="num">${count(s.allocatedBuckets)}</td>
          <td>${s.allocation.exclusivityTags.join(', ') || '–'}</td><td>${s.allocation.exclusiveTo.join(', ') || '–'}</td>
          <td><code>${s.targetingExpression || 'everyone'}</code></td>
          <td class="uses">${used.length === 0
            ? html`<span class="muted">no rule</span>`
            : used.map(
                (u) => html`<a href=${`#${ruleAnchor(u.flag, u.rule)}`} data-use=${`${u.flag}/${u.rule}`}>${u.flag} / ${u.rule}</a> <span class="state">${u.flagState === 'ARCHIVED' ? 'flag archived' : u.state}</span> `,
              )}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function weights(w: Readonly<Record<string, number>>): string {
  const total = Object.values(w).reduce((a, b) => a + b, 0);
  return Object.entries(w)
    .map(([v, n]) => `${v} ${percent(n / total)}`)
    .join(', ');
}

function who(r: RuleJson): unknown {
  if (r.segment !== undefined) return html`segment <a href=${`#segment-${shortId(r.segment)}`} data-rule-segment=${shortId(r.segment)}>${shortId(r.segment)}</a>`;
  if (r.targetingExpression !== undefined && r.targetingExpression !== '') return `targeting ${r.targetingExpression}`;
  if (r.kind === 'individual') return `${r.attribute} in [${r.values.join(', ')}]`;
  return 'everyone';
}

function what(r: RuleJson): string {
  switch (r.kind) {
    case 'ab-test':
      return `split ${weights(r.weights)}`;
    case 'conditional':
      return `${percent(Number(r.percentage.value))} of them, split ${weights(r.split)}`;
    case 'rollout':
      return `${r.variant} to ${percent(Number(r.reach.value))}`;
    case 'individual':
      return r.variant;
  }
}

export function Flags({ flags }: { readonly flags: readonly FlagJson[] }): unknown {
  if (flags.length === 0) return html`<p>No flags yet.</p>`;
  return flags.map((f) => {
    const flag = shortId(f.name);
    return html`<section aria-labelledby=${`flag-${flag}`}>
      <h3 id=${`flag-${flag}`}>${flag} <span class="state">${f.state}</span></h3>
      ${f.rules.length === 0
        ? html`<p class="muted">No rules: every unit gets the default.</p>`
        : html`<ol class="rules" start="0" aria-label=${`Rules of ${flag}, in the order they are evaluated`}>
            ${f.rules.map(
              (r) =>
                html`<li id=${ruleAnchor(flag, shortId(r.name))}><strong>${shortId(r.name)}</strong> (${r.kind}, <span class="state">${r.state}</span>${r.environments.length > 0 ? `, ${r.environments.join(', ')}` : ''}): ${who(r)}: ${what(r)}</li>`,
            )}
          </ol>`}
    </section>`;
  });
}
