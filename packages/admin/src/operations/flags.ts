/**
 * Flag operations: flags and their variants, and ordered rules of the seeds' kinds
 * (individual targeting, conditional targeting, A/B test, rollout). New rules go to the
 * bottom so running experiments are not affected; only individual targeting may go to the
 * top. Rules are created disabled unless asked; only an allocated segment can serve an
 * enabled rule.
 */
import type { JsonValue } from '@allot/core';

import { AdminError } from '../errors.js';
import { fractionProblem } from '../workspace/document-reader.js';
import { segmentReferences } from '../targeting/ast.js';
import { TARGETING_LIMITS, tooManyValues } from '../targeting/limits.js';
import { parseTargeting } from '../targeting/parser.js';
import type { Audience, Flag, Rule, RuleKind, RuleState, Sticky, Variant, WeightedVariant, Workspace } from '../workspace/model.js';
import { NO_STICKY } from '../workspace/model.js';
import { checkId } from '../workspace/names.js';
import { flagOf, ruleOf, withFlag, withRule } from './lookup.js';
import type { Outcome } from './outcome.js';

export interface FlagInput {
  readonly id: string;
  readonly displayName?: string;
  readonly variants?: readonly Variant[];
  /** Client ids; empty or absent means every client of the workspace. */
  readonly clients?: readonly string[];
}

export function createFlag(workspace: Workspace, input: FlagInput): Outcome<Flag> {
  const path = `flags.${input.id}`;
  checkId(input.id, path);
  if (workspace.flags.some((f) => f.id === input.id)) throw new AdminError('ALREADY_EXISTS', 'a flag with this id exists already', { path });
  const clients = [...(input.clients ?? [])];
  clients.forEach((c, i) => {
    if (!workspace.clients.some((x) => x.id === c)) {
      throw new AdminError('NOT_FOUND', `unknown client ${JSON.stringify(c)}; clients: ${workspace.clients.map((x) => x.id).join(', ')}`, { path: `${path}.clients[${i}]` });
    }
  });
  let flag: Flag = { id: input.id, displayName: input.displayName ?? input.id, state: 'ACTIVE', clients, variants: [], rules: [] };
  for (const v of input.variants ?? []) flag = variantAdded(flag, v);
  return { workspace: { ...workspace, flags: [...workspace.flags, flag] }, result: flag, warnings: [] };
}

export function addVariant(workspace: Workspace, flagId: string, variant: Variant): Outcome<Flag> {
  const flag = variantAdded(activeFlag(workspace, flagId), variant);
  return { workspace: withFlag(workspace, flag), result: flag, warnings: [] };
}

function variantAdded(flag: Flag, variant: Variant): Flag {
  const path = `flags.${flag.id}.variants.${variant.name}`;
  checkId(variant.name, path);
  if (flag.variants.some((v) => v.name === variant.name)) throw new AdminError('ALREADY_EXISTS', 'the flag has a variant with this name already', { path });
  const type = valueType(variant.value);
  const typed = type === 'null' ? undefined : flag.variants.find((v) => valueType(v.value) !== 'null');
  if (typed !== undefined && valueType(typed.value) !== type) {
    // An app reads a flag with one typed call (getBooleanValue, getStringValue, ...): a variant
    // of another type would fail there, with TYPE_MISMATCH, only for the users it is served to.
    throw new AdminError(
      'INVALID_ARGUMENT',
      `the value ${JSON.stringify(variant.value)} is ${article(type)}, but variant ${JSON.stringify(typed.name)} is ${article(valueType(typed.value))}: every variant of a flag has one type (give ${JSON.stringify(variant.name)} ${article(valueType(typed.value))} value, or make another flag)`,
      { path },
    );
  }
  return { ...flag, variants: [...flag.variants, { name: variant.name, value: variant.value }] };
}

/** The OpenFeature type a variant value is read as; `null` (a variant without a value) fits any flag. */
type ValueType = 'boolean' | 'string' | 'number' | 'object' | 'array' | 'null';

function valueType(value: JsonValue): ValueType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as 'boolean' | 'string' | 'number' | 'object';
}

function article(type: ValueType): string {
  return type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;
}

/** Archives a flag: resolves of it then return FLAG_ARCHIVED. */
export function archiveFlag(workspace: Workspace, flagId: string): Outcome<Flag> {
  const flag = activeFlag(workspace, flagId);
  const next: Flag = { ...flag, state: 'ARCHIVED' };
  return { workspace: withFlag(workspace, next), result: next, warnings: [] };
}

export function getFlag(workspace: Workspace, flagId: string): Flag {
  return flagOf(workspace, flagId);
}

/** A rule of a flag; NOT_FOUND names the flag's rules when there is no such rule. */
export function getRule(workspace: Workspace, flagId: string, ruleId: string): Rule {
  return ruleOf(flagOf(workspace, flagId), ruleId);
}

export function listFlags(workspace: Workspace): readonly Flag[] {
  return workspace.flags;
}

/** A new rule. Which fields apply depends on `kind` (see the README). */
export interface RuleInput {
  readonly kind: RuleKind;
  /** `rule-<n>` by default. */
  readonly id?: string;
  /** Create it enabled (its segment must be allocated). Rules start disabled by default. */
  readonly enabled?: boolean;
  /** Individual targeting: the attribute matched and the values that get the variant. */
  readonly attribute?: string;
  readonly values?: readonly string[];
  /** Individual targeting and rollout: the variant served. Conditional: shorthand for a one-variant split. */
  readonly variant?: string;
  /** The audience: a workspace segment, or inline targeting (everyone when neither). */
  readonly segment?: string;
  readonly targeting?: string;
  /** Conditional: share of the audience that gets a variant, in (0, 1]; 1 by default. */
  readonly percentage?: number;
  /** Conditional: variant weights. */
  readonly split?: readonly WeightedVariant[];
  /** A/B test: variant weights. */
  readonly weights?: readonly WeightedVariant[];
  /** Rollout: share of the audience that gets the variant, in (0, 1]. */
  readonly reach?: number;
  /** Context field randomized on; `targeting_key` when blank. */
  readonly randomizationField?: string;
  readonly environments?: readonly string[];
  readonly sticky?: Partial<Sticky>;
}

export type RulePosition = 'top' | 'bottom';

/** Adds a rule at the bottom (or, for individual targeting only, at the top). */
export function addRule(workspace: Workspace, flagId: string, input: RuleInput, position: RulePosition = 'bottom'): Outcome<Rule> {
  const flag = activeFlag(workspace, flagId);
  const id = input.id ?? nextRuleId(flag);
  const path = `flags.${flagId}.rules.${id}`;
  checkId(id, `${path}.id`);
  if (flag.rules.some((r) => r.id === id)) throw new AdminError('ALREADY_EXISTS', 'the flag has a rule with this id already', { path });
  if (position === 'top' && input.kind !== 'individual') {
    throw new AdminError('INVALID_ARGUMENT', 'new rules go to the bottom so running tests are not affected; only individual targeting rules can be added at the top (reorder later with moveRule)', { path });
  }
  const rule = buildRule(workspace, flag, id, input, path);
  const rules = position === 'top' ? [rule, ...flag.rules] : [...flag.rules, rule];
  return { workspace: withFlag(workspace, { ...flag, rules }), result: rule, warnings: [] };
}

/** Changes to a rule; absent fields stay as they are. `kind` and `id` never change. */
export type RulePatch = Omit<RuleInput, 'kind' | 'id' | 'enabled'>;

export function updateRule(workspace: Workspace, flagId: string, ruleId: string, patch: RulePatch): Outcome<Rule> {
  const flag = activeFlag(workspace, flagId);
  const current = liveRule(flag, ruleId);
  const path = `flags.${flagId}.rules.${ruleId}`;
  const base = inputOf(current);
  const audienceChanged = patch.segment !== undefined || patch.targeting !== undefined;
  const merged: RuleInput = {
    ...base,
    ...patch,
    ...(audienceChanged ? { segment: patch.segment, targeting: patch.targeting } : {}),
    sticky: { ...current.sticky, ...patch.sticky },
    enabled: current.state === 'ENABLED',
  };
  const rule = buildRule(workspace, flag, ruleId, merged, path);
  return { workspace: withRule(workspace, flag, rule), result: rule, warnings: [] };
}

/** Enables or disables a rule. Enabling needs the rule's segment to be ALLOCATED. */
export function setRuleEnabled(workspace: Workspace, flagId: string, ruleId: string, enabled: boolean): Outcome<Rule> {
  const flag = activeFlag(workspace, flagId);
  const current = liveRule(flag, ruleId);
  const state: RuleState = enabled ? 'ENABLED' : 'DISABLED';
  if (enabled) requireAllocated(workspace, current, `flags.${flagId}.rules.${ruleId}`);
  const rule = { ...current, state } as Rule;
  return { workspace: withRule(workspace, flag, rule), result: rule, warnings: [] };
}

/** Moves a rule to position `index` (0 is evaluated first) among the flag's rules. */
export function moveRule(workspace: Workspace, flagId: string, ruleId: string, index: number): Outcome<Rule> {
  const flag = activeFlag(workspace, flagId);
  const rule = ruleOf(flag, ruleId);
  if (!Number.isInteger(index) || index < 0 || index >= flag.rules.length) {
    throw new AdminError('INVALID_ARGUMENT', `position must be in [0, ${flag.rules.length - 1}], got ${index}`, { path: `flags.${flagId}.rules.${ruleId}` });
  }
  const rest = flag.rules.filter((r) => r.id !== ruleId);
  const rules = [...rest.slice(0, index), rule, ...rest.slice(index)];
  const warnings = rule.state === 'ENABLED' || rest.some((r) => r.state === 'ENABLED')
    ? [`reordering the rules of ${flagId} changes which rule decides for some units and may affect running tests and rollouts`]
    : [];
  return { workspace: withFlag(workspace, { ...flag, rules }), result: rule, warnings };
}

/** Archives a rule: it is kept in the workspace but no longer compiled. */
export function archiveRule(workspace: Workspace, flagId: string, ruleId: string): Outcome<Rule> {
  const flag = activeFlag(workspace, flagId);
  const current = liveRule(flag, ruleId);
  const rule = { ...current, state: 'ARCHIVED' } as Rule;
  return { workspace: withRule(workspace, flag, rule), result: rule, warnings: [] };
}

function activeFlag(workspace: Workspace, flagId: string): Flag {
  const flag = flagOf(workspace, flagId);
  if (flag.state === 'ARCHIVED') throw new AdminError('FAILED_PRECONDITION', 'the flag is ARCHIVED and cannot change', { path: `flags.${flagId}.state` });
  return flag;
}

function liveRule(flag: Flag, ruleId: string): Rule {
  const rule = ruleOf(flag, ruleId);
  if (rule.state === 'ARCHIVED') {
    throw new AdminError('FAILED_PRECONDITION', 'the rule is ARCHIVED and cannot change', { path: `flags.${flag.id}.rules.${ruleId}.state` });
  }
  return rule;
}

function nextRuleId(flag: Flag): string {
  let n = flag.rules.length + 1;
  while (flag.rules.some((r) => r.id === `rule-${n}`)) n++;
  return `rule-${n}`;
}

function requireAllocated(workspace: Workspace, rule: Rule, path: string): void {
  if (rule.kind === 'individual' || rule.audience.kind !== 'segment') return;
  const id = rule.audience.segment;
  const segment = workspace.segments.find((s) => s.id === id);
  if (segment?.state !== 'ALLOCATED') {
    throw new AdminError(
      'FAILED_PRECONDITION',
      `only an ALLOCATED segment can serve an enabled rule, and ${id} is ${segment?.state ?? 'missing'}; allocate it first ("allot segments allocate ${id}")`,
      { path: `${path}.segment` },
    );
  }
}

function inputOf(rule: Rule): RuleInput {
  const audience = (a: Audience): Pick<RuleInput, 'segment' | 'targeting'> =>
    a.kind === 'segment' ? { segment: a.segment } : a.targeting === null ? {} : { targeting: a.targeting.source };
  const common = { kind: rule.kind, id: rule.id, environments: rule.environments, sticky: rule.sticky };
  switch (rule.kind) {
    case 'individual':
      return { ...common, attribute: rule.attribute, values: rule.values, variant: rule.variant };
    case 'conditional':
      return { ...common, ...audience(rule.audience), percentage: rule.percentage, randomizationField: rule.randomizationField, split: rule.split };
    case 'ab-test':
      return { ...common, ...audience(rule.audience), randomizationField: rule.randomizationField, weights: rule.weights };
    case 'rollout':
      return { ...common, ...audience(rule.audience), reach: rule.reach, randomizationField: rule.randomizationField, variant: rule.variant };
  }
}

function buildRule(workspace: Workspace, flag: Flag, id: string, input: RuleInput, path: string): Rule {
  const variant = (name: string | undefined, at: string): string => {
    if (name === undefined || name === '') throw new AdminError('INVALID_ARGUMENT', 'name the variant to serve', { path: at });
    if (!flag.variants.some((v) => v.name === name)) {
      throw new AdminError('NOT_FOUND', `unknown variant ${JSON.stringify(name)}; the flag has ${flag.variants.map((v) => v.name).join(', ') || 'no variants (add one first)'}`, { path: at });
    }
    return name;
  };
  const fraction = (value: number | undefined, at: string, fallback?: number): number => {
    const v = value ?? fallback;
    const problem = fractionProblem(v);
    if (problem !== undefined) throw new AdminError('INVALID_ARGUMENT', problem, { path: at });
    return v!;
  };
  const weighted = (list: readonly WeightedVariant[] | undefined, at: string): WeightedVariant[] => {
    if (list === undefined || list.length === 0) throw new AdminError('INVALID_ARGUMENT', 'give at least one variant with a weight (e.g. control=50,treatment=50)', { path: at });
    const seen = new Set<string>();
    return list.map((w) => {
      variant(w.variant, `${at}.${w.variant}`);
      if (seen.has(w.variant)) throw new AdminError('INVALID_ARGUMENT', 'variant listed twice', { path: `${at}.${w.variant}` });
      seen.add(w.variant);
      if (!Number.isInteger(w.weight) || w.weight <= 0) {
        throw new AdminError('INVALID_ARGUMENT', `expected a positive whole-number weight, got ${w.weight}`, { path: `${at}.${w.variant}` });
      }
      return { variant: w.variant, weight: w.weight };
    });
  };
  const environments = [...(input.environments ?? [])];
  environments.forEach((e, i) => {
    if (!workspace.environments.includes(e)) {
      throw new AdminError('NOT_FOUND', `unknown environment ${JSON.stringify(e)}; environments: ${workspace.environments.join(', ')}`, { path: `${path}.environments[${i}]` });
    }
  });
  const sticky = stickyOf(input.sticky, `${path}.sticky`);
  const base = { id, state: (input.enabled === true ? 'ENABLED' : 'DISABLED') as RuleState, environments, sticky };
  const randomizationField = (input.randomizationField ?? '').trim();
  let rule: Rule;
  switch (input.kind) {
    case 'individual': {
      const attribute = (input.attribute ?? '').trim();
      if (attribute === '') throw new AdminError('INVALID_ARGUMENT', 'name the attribute to match (e.g. user_id)', { path: `${path}.attribute` });
      const values = [...new Set(input.values ?? [])];
      if (values.length === 0) throw new AdminError('INVALID_ARGUMENT', 'list at least one value that gets the variant', { path: `${path}.values` });
      if (values.length > TARGETING_LIMITS.maxValues) throw tooManyValues(values.length, `${path}.values`);
      rule = { ...base, kind: 'individual', attribute, values, variant: variant(input.variant, `${path}.variant`) };
      break;
    }
    case 'conditional': {
      const split = input.split ?? (input.variant === undefined ? undefined : [{ variant: input.variant, weight: 1 }]);
      rule = {
        ...base,
        kind: 'conditional',
        audience: audienceOf(workspace, input, path),
        percentage: fraction(input.percentage, `${path}.percentage`, 1),
        randomizationField,
        split: weighted(split, `${path}.split`),
      };
      break;
    }
    case 'ab-test':
      rule = { ...base, kind: 'ab-test', audience: audienceOf(workspace, input, path), randomizationField, weights: weighted(input.weights, `${path}.weights`) };
      break;
    case 'rollout':
      rule = {
        ...base,
        kind: 'rollout',
        audience: audienceOf(workspace, input, path),
        reach: fraction(input.reach, `${path}.reach`),
        randomizationField,
        variant: variant(input.variant, `${path}.variant`),
      };
      break;
    default:
      throw new AdminError('INVALID_ARGUMENT', `unknown rule kind ${JSON.stringify(input.kind)}; expected individual, conditional, ab-test or rollout`, { path: `${path}.kind` });
  }
  if (rule.state === 'ENABLED') requireAllocated(workspace, rule, path);
  return rule;
}

function audienceOf(workspace: Workspace, input: RuleInput, path: string): Audience {
  if (input.segment !== undefined && input.segment !== '') {
    if (input.targeting !== undefined && input.targeting.trim() !== '') {
      throw new AdminError('INVALID_ARGUMENT', 'give the rule a segment or inline targeting, not both', { path: `${path}.targeting` });
    }
    const segment = workspace.segments.find((s) => s.id === input.segment);
    if (segment === undefined) throw new AdminError('NOT_FOUND', `unknown segment ${JSON.stringify(input.segment)}`, { path: `${path}.segment` });
    if (segment.state === 'ARCHIVED') throw new AdminError('FAILED_PRECONDITION', `segment ${segment.id} is ARCHIVED`, { path: `${path}.segment` });
    return { kind: 'segment', segment: segment.id };
  }
  const targeting = parseTargeting(input.targeting ?? '', `${path}.targeting`);
  if (targeting !== null) {
    for (const ref of segmentReferences(targeting.expr)) {
      if (!workspace.segments.some((s) => s.id === ref)) throw new AdminError('NOT_FOUND', `refers to unknown segment ${JSON.stringify(ref)}`, { path: `${path}.targeting` });
    }
  }
  return { kind: 'inline', targeting };
}

function stickyOf(input: Partial<Sticky> | undefined, path: string): Sticky {
  if (input === undefined) return NO_STICKY;
  const pausedIntake = input.pausedIntake ?? false;
  const ignoreTargetingForAssigned = input.ignoreTargetingForAssigned ?? false;
  const enabled = input.enabled ?? (pausedIntake || ignoreTargetingForAssigned);
  if (!enabled && (pausedIntake || ignoreTargetingForAssigned)) {
    throw new AdminError('INVALID_ARGUMENT', 'paused intake and ignoring targeting for assigned units need sticky assignments on', { path });
  }
  return { enabled, pausedIntake, ignoreTargetingForAssigned };
}

/** A variant value from its JSON text, e.g. `true`, `"blue"`, `{"size": 3}`. */
export function parseVariantValue(text: string, path: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new AdminError('INVALID_ARGUMENT', `expected a JSON value (quote strings: '"blue"'): ${(error as Error).message}`, { path });
  }
}
