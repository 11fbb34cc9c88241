/**
 * The scenario's intent claims at one step, from their counts (see `claimSlots`): exact ones
 * (exclusive, precedence, monotone, sticky) fail at the first unit that contradicts them;
 * `share` is a χ² goodness-of-fit test. Each names the claim, the step and the numbers, and
 * is inconclusive when no unit reached it.
 */
import { StepLayout } from '../plan/layout.js';
import type { ClaimSpec, Plan, StepClaim, StepPlan } from '../types.js';
import { count, goodnessOfFit, type Draft } from './draft.js';

const short = (name: string): string => name.replace(/^(segments|flags)\//, '').replace(/^.*\/rules\//, '');

function exclusive(step: StepPlan, c: StepClaim, at: (i: number) => number, base: number, units: number): Pick<Draft, 'detail' | 'verdict'> {
  const m = c.targets.length;
  const targets = c.targets.map((t) => step.claimTargets[t]!);
  const each = targets.map((t, a) => `${short(t.name)} ${t.index < 0 ? '(not in this step)' : count(at(base + a))}`).join(', ');
  const present = targets.filter((_, a) => at(base + a) > 0).length;
  const many = at(base + m + m * m);
  if (many > 0) {
    const pairs: string[] = [];
    for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++) if (at(base + m + a * m + b) > 0) pairs.push(`${short(targets[a]!.name)} × ${short(targets[b]!.name)}: ${count(at(base + m + a * m + b))}`);
    return { verdict: 'fail', detail: `${count(many)} of ${count(units)} units are in two or more of them (${pairs.join('; ')}); units in each: ${each}` };
  }
  if (present < 2) return { verdict: 'inconclusive', detail: `fewer than two of them have units here, so none could be shared (units in each: ${each})` };
  return { verdict: 'pass', detail: `no unit of ${count(units)} is in two of them; units in each: ${each}` };
}

function precedence(step: StepPlan, c: StepClaim, spec: Extract<ClaimSpec, { kind: 'precedence' }>, at: (i: number) => number, base: number): Pick<Draft, 'detail' | 'verdict'> {
  const matched = at(base);
  const who = `units with ${spec.when!.source}`;
  if (matched === 0) return { verdict: 'inconclusive', detail: `no unit has ${spec.when!.source}: nothing was tested` };
  const flag = c.flag >= 0 ? step.flags[c.flag]! : null;
  if (flag === null) return { verdict: 'fail', detail: `this step has no flag ${short(spec.flag)}; ${count(matched)} ${who} are not served by it` };
  const wrong = matched - at(base + 1);
  const by = flag.rules.map((r, i) => [short(r.name), at(base + 2 + i)] as const).concat([['no rule', at(base + 2 + c.rules)]]).filter(([, n]) => n > 0);
  const decided = by.map(([name, n]) => `${name} ${count(n)}`).join(', ');
  const claimed = spec.rule !== null ? `rule ${short(spec.rule)}${c.rule < 0 ? ' (which this step does not have)' : ''}` : `variants ${spec.variants!.join(', ')}`;
  if (wrong > 0) return { verdict: 'fail', detail: `${count(wrong)} of ${count(matched)} ${who} are not ${spec.rule !== null ? 'decided by' : 'served'} ${claimed}; decided by: ${decided}` };
  return { verdict: 'pass', detail: `all ${count(matched)} ${who} are ${spec.rule !== null ? 'decided by' : 'served'} ${claimed}` };
}

function monotone(step: StepPlan, c: StepClaim, at: (i: number) => number, base: number, previous: string): Pick<Draft, 'detail' | 'verdict'> {
  const parts = c.targets.map((t, a) => ({ name: short(step.claimTargets[t]!.name), was: at(base + 2 * a), left: at(base + 2 * a + 1) }));
  const was = parts.reduce((n, p) => n + p.was, 0);
  const list = parts.map((p) => `${p.name}: ${count(p.left)} of ${count(p.was)} left`).join('; ');
  if (was === 0) return { verdict: 'inconclusive', detail: `no unit was in ${parts.map((p) => p.name).join(' or ')} at step ${previous}: nothing could leave` };
  if (parts.some((p) => p.left > 0)) return { verdict: 'fail', detail: `units in it at step ${previous} are not in it any more (${list})` };
  return { verdict: 'pass', detail: `every unit in it at step ${previous} still is (${list})` };
}

function sticky(spec: Extract<ClaimSpec, { kind: 'sticky' }>, c: StepClaim, at: (i: number) => number, base: number): Pick<Draft, 'detail' | 'verdict'> {
  const assigned = at(base);
  const other = at(base + 2);
  const none = at(base + 3);
  const from = `served a variant of ${short(spec.flag)} at step ${spec.from}`;
  if (assigned === 0) return { verdict: 'inconclusive', detail: `no unit was ${from}: nothing was tested` };
  if (c.flag < 0) return { verdict: 'fail', detail: `this step has no flag ${short(spec.flag)}: all ${count(assigned)} units ${from} lost it` };
  if (other + none > 0) return { verdict: 'fail', detail: `of ${count(assigned)} units ${from}, ${count(other)} are served another variant and ${count(none)} none at step ${spec.to}` };
  return { verdict: 'pass', detail: `all ${count(assigned)} units ${from} keep their variant at step ${spec.to}` };
}

/** The claims of step `k`, appended to `out`. */
export function claimChecks(plan: Plan, k: number, counts: readonly number[], out: Draft[]): void {
  const step = plan.steps[k]!;
  const L = new StepLayout(step);
  const at = (i: number): number => counts[i]!;
  const units = at(L.units);
  step.claims.forEach((c, i) => {
    const spec = plan.claims[c.claim]!;
    const base = L.claims[i]!;
    const head = { kind: spec.kind, step: step.label, subject: spec.name, claim: spec.name };
    switch (spec.kind) {
      case 'exclusive':
        out.push({ ...head, ...exclusive(step, c, at, base, units) });
        break;
      case 'precedence':
        out.push({ ...head, ...precedence(step, c, spec, at, base) });
        break;
      case 'share': {
        const n = at(base);
        const served = at(base + 1);
        const test = goodnessOfFit(step, 'share', spec.name, [spec.variant, 'other'], [served, n - served], [spec.p, 1 - spec.p]);
        const flagNote = c.flag < 0 ? ` (this step has no flag ${short(spec.flag)})` : '';
        out.push({ ...test, claim: spec.name, detail: n === 0 ? `no unit${spec.when === null ? '' : ` has ${spec.when.source}`}: nothing was tested` : `${test.detail}${flagNote}` });
        break;
      }
      case 'monotone': {
        // The first step of the claim has nothing to compare with.
        if (k === 0 || c.targets.every((t) => step.claimTargets[t]!.previous < 0)) return;
        out.push({ ...head, ...monotone(step, c, at, base, plan.steps[k - 1]!.label) });
        break;
      }
      case 'sticky':
        out.push({ ...head, ...sticky(spec, c, at, base) });
        break;
    }
  });
}
