/**
 * The `claims:` section of a scenario: what its author intends, written apart from the
 * workspace (which may be wrong), parsed into `ClaimSpec`s. Names are the workspace's short
 * ids (`ranking-exp-1`) or resource names (`segments/ranking-exp-1`, `flags/ranking`); a
 * short id that is both a segment and a flag must be written as a resource name.
 *
 * ```yaml
 * claims:
 *   - exclusive: [ranking-exp-1, ranking-exp-2]
 *   - precedence: { flag: new-checkout, when: employee == true, rule: employees, steps: [50%] }
 *   - share: { flag: ranking, variant: treatment, p: 0.05 }
 *   - monotone: [new-checkout-rollout]
 *   - sticky: { flag: onboarding, from: initial, to: conversions }
 * ```
 */
import { AdminError, parseTargeting, toConfidenceTargeting } from '@allot/admin';

import type { ClaimCondition, ClaimSpec, ClaimTarget, ConfiguredStep } from '../types.js';
import { ScenarioError } from './errors.js';
import { isObject, num } from './population-spec.js';

type Json = Record<string, unknown>;

const KINDS = ['exclusive', 'precedence', 'share', 'monotone', 'sticky'] as const;

/** Segment, flag and rule names found in any step's compiled state. */
interface Names {
  readonly segments: ReadonlySet<string>;
  readonly flags: ReadonlySet<string>;
  readonly rules: ReadonlySet<string>;
  readonly steps: readonly string[];
}

function namesOf(steps: readonly ConfiguredStep[]): Names {
  const segments = new Set<string>();
  const flags = new Set<string>();
  const rules = new Set<string>();
  for (const step of steps) {
    const state = isObject(step.state) ? step.state : {};
    for (const s of Object.keys(isObject(state.segments) ? state.segments : {})) segments.add(s);
    for (const [f, raw] of Object.entries(isObject(state.flags) ? state.flags : {})) {
      flags.add(f);
      const list = isObject(raw) && Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
      for (const r of list) if (isObject(r) && typeof r.name === 'string') rules.add(r.name);
    }
  }
  return { segments, flags, rules, steps: steps.map((s) => s.label) };
}

function text(v: unknown, path: string, what: string): string {
  if (typeof v !== 'string' || v === '') throw new ScenarioError(path, `expected ${what}`);
  return v;
}

function flagName(v: unknown, path: string, names: Names): string {
  const raw = text(v, path, 'a flag id');
  const name = raw.startsWith('flags/') ? raw : `flags/${raw}`;
  if (!names.flags.has(name)) throw new ScenarioError(path, `no step of the scenario has a flag ${raw} (flags: ${[...names.flags].join(', ') || 'none'})`);
  return name;
}

function target(v: unknown, path: string, names: Names): ClaimTarget {
  const raw = text(v, path, 'a segment or flag id');
  if (raw.startsWith('segments/') || raw.startsWith('flags/')) {
    const kind = raw.startsWith('segments/') ? 'segment' : 'flag';
    if (!(kind === 'segment' ? names.segments : names.flags).has(raw)) throw new ScenarioError(path, `no step of the scenario has ${raw}`);
    return { kind, name: raw };
  }
  const segment = names.segments.has(`segments/${raw}`);
  const flag = names.flags.has(`flags/${raw}`);
  if (segment && flag) throw new ScenarioError(path, `${raw} is both a segment and a flag: write segments/${raw} or flags/${raw}`);
  if (!segment && !flag) throw new ScenarioError(path, `no step of the scenario has a segment or flag ${raw}`);
  return segment ? { kind: 'segment', name: `segments/${raw}` } : { kind: 'flag', name: `flags/${raw}` };
}

function targets(v: unknown, path: string, names: Names, min: number): ClaimTarget[] {
  if (!Array.isArray(v) || v.length < min) throw new ScenarioError(path, `expected a list of at least ${min} segment or flag ids`);
  return v.map((x, i) => target(x, `${path}[${i}]`, names));
}

function condition(v: unknown, path: string): ClaimCondition | null {
  if (v === undefined || v === null) return null;
  const source = text(v, path, 'a targeting expression such as `employee == true`');
  try {
    return { source, targeting: toConfidenceTargeting(parseTargeting(source, path)) };
  } catch (error) {
    if (error instanceof AdminError) throw new ScenarioError(path, error.message);
    throw error;
  }
}

function stepLabel(v: unknown, path: string, names: Names): string {
  const label = typeof v === 'number' ? String(v) : text(v, path, 'a step label');
  if (!names.steps.includes(label)) throw new ScenarioError(path, `no step is labelled ${JSON.stringify(label)} (steps: ${names.steps.join(', ')})`);
  return label;
}

function stepList(v: unknown, path: string, names: Names): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length === 0) throw new ScenarioError(path, 'expected a list of step labels');
  return v.map((x, i) => stepLabel(x, `${path}[${i}]`, names));
}

const short = (name: string): string => name.replace(/^(segments|flags)\//, '').replace(/^.*\/rules\//, '');

function claim(raw: unknown, path: string, names: Names): ClaimSpec {
  if (!isObject(raw)) throw new ScenarioError(path, `expected one of ${KINDS.join(', ')}, e.g. { exclusive: [a, b] }`);
  const kinds = KINDS.filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) throw new ScenarioError(path, `expected exactly one of ${KINDS.join(', ')}`);
  const kind = kinds[0]!;
  const body = raw[kind];
  const p = `${path}.${kind}`;
  // List claims take their options beside the list; the others inside their mapping.
  const options: Json = Array.isArray(body) ? raw : isObject(body) ? body : {};
  const given = typeof raw.name === 'string' ? raw.name : null;
  const at = Array.isArray(body) ? path : p;
  const base = { steps: stepList(options.steps, `${at}.steps`, names), when: condition(options.when, `${at}.when`) };
  const suffix = base.when === null ? '' : ` when ${base.when.source}`;
  switch (kind) {
    case 'exclusive':
    case 'monotone': {
      const members = targets(body, p, names, kind === 'exclusive' ? 2 : 1);
      // Named as written: `segments/x` where the short id would be ambiguous.
      return { kind, ...base, members, name: given ?? `${kind} [${(body as string[]).join(', ')}]${suffix}` };
    }
    case 'precedence': {
      if (!isObject(body)) throw new ScenarioError(p, 'expected { flag, when, rule } or { flag, when, variants }');
      const flag = flagName(body.flag, `${p}.flag`, names);
      if (base.when === null) throw new ScenarioError(`${p}.when`, 'expected the targeting expression of the units the rule must decide');
      let rule: string | null = null;
      if (body.rule !== undefined) {
        const r = text(body.rule, `${p}.rule`, 'a rule id');
        rule = r.includes('/rules/') ? r : `${flag}/rules/${r}`;
        if (!names.rules.has(rule)) throw new ScenarioError(`${p}.rule`, `no step of the scenario has a rule ${r} in ${flag}`);
      }
      const variants = body.variants === undefined ? null : (body.variants as unknown[]);
      if (variants !== null && (!Array.isArray(variants) || variants.length === 0 || variants.some((v) => typeof v !== 'string'))) throw new ScenarioError(`${p}.variants`, 'expected a list of variant names');
      if ((rule === null) === (variants === null)) throw new ScenarioError(p, 'expected exactly one of rule (the rule that must decide) and variants (the variants that may be served)');
      const what = rule !== null ? `decided by ${short(rule)}` : `serves ${(variants as string[]).join(' or ')}`;
      return { kind, ...base, flag, rule, variants: variants as string[] | null, name: given ?? `precedence: ${short(flag)} ${what}${suffix}` };
    }
    case 'share': {
      if (!isObject(body)) throw new ScenarioError(p, 'expected { flag, variant, p }');
      const flag = flagName(body.flag, `${p}.flag`, names);
      const variant = text(body.variant, `${p}.variant`, 'a variant name');
      const share = num(body.p, `${p}.p`, 0, 1);
      return { kind, ...base, flag, variant, p: share, name: given ?? `share: ${short(flag)} serves ${variant} to ${+(share * 100).toFixed(4)}%${base.when === null ? ' of units' : ` of units with ${base.when.source}`}` };
    }
    case 'sticky': {
      if (!isObject(body)) throw new ScenarioError(p, 'expected { flag, from, to }');
      const flag = flagName(body.flag, `${p}.flag`, names);
      const from = stepLabel(body.from, `${p}.from`, names);
      const to = stepLabel(body.to, `${p}.to`, names);
      if (names.steps.indexOf(to) <= names.steps.indexOf(from)) throw new ScenarioError(`${p}.to`, `expected a step after ${from}`);
      return { kind, ...base, steps: [to], flag, from, to, name: given ?? `sticky: ${short(flag)} from ${from} to ${to}${suffix}` };
    }
  }
}

/** Parses `claims:` against the scenario's steps (names must exist in some step). */
export function claimsSpec(raw: unknown, steps: readonly ConfiguredStep[]): ClaimSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ScenarioError('claims', 'expected a list of claims ({ exclusive: [a, b] }, { precedence: {…} }, …)');
  const names = namesOf(steps);
  const out = raw.map((c, i) => claim(c, `claims[${i}]`, names));
  const seen = new Set<string>();
  out.forEach((c, i) => {
    if (seen.has(c.name)) throw new ScenarioError(`claims[${i}]`, `two claims are named ${JSON.stringify(c.name)}: give one a name`);
    seen.add(c.name);
  });
  return out;
}
