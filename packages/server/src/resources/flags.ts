/**
 * `/v1/flags`: flags, their variants and their ordered rules, over admin's flag operations.
 * Names are Confidence's (`flags/<flag>`, `flags/<flag>/variants/<v>`,
 * `flags/<flag>/rules/<rule>`); requests take short ids or those names. Rules are created at
 * the bottom and disabled unless `enabled: true`; `:enable`, `:disable`, `:move` and
 * `:archive` change them.
 */
import {
  addRule,
  addVariant,
  archiveFlag,
  archiveRule,
  createFlag,
  getFlag,
  listFlags,
  moveRule,
  setRuleEnabled,
  toConfidenceTargeting,
  updateRule,
  type Audience,
  type Flag,
  type FlagInput,
  type Rule,
  type RuleInput,
  type RuleKind,
  type RulePatch,
  type Sticky,
  type Variant,
  type WeightedVariant,
} from '@allot/admin';
import type { JsonValue } from '@allot/core';

import { ApiError, invalid, translated } from '../http/api-error.js';
import type { Reply, RequestContext, Route } from '../http/router.js';
import { targetingExpression } from '../input/confidence-targeting.js';
import {
  describe,
  optionalBoolean,
  optionalDecimal,
  optionalInteger,
  optionalString,
  optionalStringList,
  optionalWeights,
  readObject,
  shortName,
  type JsonObject,
} from '../input/fields.js';
import { resourceId } from '../input/ids.js';
import type { Store } from '../store/store.js';
import { checkEtag, etagHeader, requiredEtags, resourceEtag } from './preconditions.js';
import { commit, withImpact } from './validate-only.js';

const KINDS: readonly RuleKind[] = ['individual', 'conditional', 'ab-test', 'rollout'];

function weightsJson(list: readonly WeightedVariant[]): Record<string, number> {
  return Object.fromEntries(list.map((w) => [w.variant, w.weight]));
}

function audienceJson(a: Audience): Record<string, unknown> {
  if (a.kind === 'segment') return { segment: `segments/${a.segment}` };
  return { targeting: toConfidenceTargeting(a.targeting), targetingExpression: a.targeting?.source ?? '' };
}

function ruleRepresentation(flagId: string, r: Rule): Record<string, unknown> {
  const common = { name: `flags/${flagId}/rules/${r.id}`, kind: r.kind, state: r.state, environments: r.environments, sticky: r.sticky };
  switch (r.kind) {
    case 'individual':
      return { ...common, attribute: r.attribute, values: r.values, variant: r.variant };
    case 'conditional':
      return { ...common, ...audienceJson(r.audience), percentage: { value: String(r.percentage) }, randomizationField: r.randomizationField, split: weightsJson(r.split) };
    case 'ab-test':
      return { ...common, ...audienceJson(r.audience), randomizationField: r.randomizationField, weights: weightsJson(r.weights) };
    case 'rollout':
      return { ...common, ...audienceJson(r.audience), reach: { value: String(r.reach) }, randomizationField: r.randomizationField, variant: r.variant };
  }
}

/** A rule as the API shows it. */
export function ruleJson(flagId: string, r: Rule): Record<string, unknown> {
  const representation = ruleRepresentation(flagId, r);
  return { ...representation, etag: resourceEtag(representation) };
}

/** A flag as the API shows it (with its rules). */
export function flagJson(f: Flag): Record<string, unknown> {
  const representation = {
    name: `flags/${f.id}`,
    displayName: f.displayName,
    state: f.state,
    clients: f.clients.map((c) => `clients/${c}`),
    variants: f.variants.map((v) => ({ name: `flags/${f.id}/variants/${v.name}`, value: v.value })),
    rules: f.rules.map((r) => ruleRepresentation(f.id, r)),
  };
  return { ...representation, rules: f.rules.map((r) => ruleJson(f.id, r)), etag: resourceEtag(representation) };
}

function withWarnings(json: Record<string, unknown>, warnings: readonly string[]): Reply {
  return { body: warnings.length > 0 ? { ...json, warnings } : json, headers: etagHeader(json.etag as string) };
}

function readVariant(value: unknown, field: string, flagId: string): Variant {
  const v = readObject(value, field, ['name', 'value']);
  const name = shortName(shortName(optionalString(v, 'name', field) ?? '', `flags/${flagId}/variants`), 'variants');
  if (v.value === undefined) throw invalid(`${field}.value`, 'required: the variant\'s JSON value');
  return { name, value: v.value as JsonValue };
}

const RULE_FIELDS = ['attribute', 'values', 'variant', 'segment', 'targeting', 'percentage', 'split', 'weights', 'reach', 'randomizationField', 'environments', 'sticky'];

/** The fields of a rule body shared by create and update, without undefined members. */
function readRuleFields(body: JsonObject): RulePatch {
  const patch: Record<string, unknown> = {
    attribute: optionalString(body, 'attribute', ''),
    values: optionalStringList(body, 'values', ''),
    variant: optionalString(body, 'variant', ''),
    segment: body.segment === undefined ? undefined : shortName(optionalString(body, 'segment', '') ?? '', 'segments'),
    targeting: body.targeting === undefined ? undefined : targetingExpression(body.targeting, 'targeting'),
    percentage: optionalDecimal(body, 'percentage', ''),
    split: optionalWeights(body, 'split', ''),
    weights: optionalWeights(body, 'weights', ''),
    reach: optionalDecimal(body, 'reach', ''),
    randomizationField: optionalString(body, 'randomizationField', ''),
    environments: optionalStringList(body, 'environments', ''),
    sticky: body.sticky === undefined ? undefined : readSticky(body.sticky),
  };
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
}

function readSticky(value: unknown): Partial<Sticky> {
  const s = readObject(value, 'sticky', ['enabled', 'pausedIntake', 'ignoreTargetingForAssigned']);
  const out: { -readonly [K in keyof Sticky]?: boolean } = {};
  for (const key of ['enabled', 'pausedIntake', 'ignoreTargetingForAssigned'] as const) {
    const v = optionalBoolean(s, key, 'sticky');
    if (v !== undefined) out[key] = v;
  }
  return out;
}

async function bodyObject(ctx: RequestContext, allowed: readonly string[]): Promise<JsonObject> {
  return readObject(await ctx.body(), '', allowed);
}

export function flagRoutes(store: Store): Route[] {
  const flagPrefix = (id: string): string => `flags.${id}.`;
  const rulePrefix = (flag: string, rule: string): string => `flags.${flag}.rules.${rule}.`;
  const ids = (ctx: RequestContext): { flag: string; rule: string } => ({
    flag: resourceId(ctx.params.flag, 'flag'),
    rule: resourceId(ctx.params.rule, 'rule'),
  });
  /** Checks the rule's etag; a missing rule is left for the operation to report (404). */
  const checkRuleEtag = (etags: readonly string[] | undefined, flag: Flag, ruleId: string): void => {
    const rule = flag.rules.find((r) => r.id === ruleId);
    if (rule !== undefined) checkEtag(etags, ruleJson(flag.id, rule).etag as string, 'etag');
  };

  /** A rule action (`:enable`, `:archive`, …) with an optional etag and extra body fields. */
  const ruleAction = (verb: string, extra: readonly string[], apply: (ctx: RequestContext, body: JsonObject, flag: string, rule: string) => (ws: Parameters<typeof getFlag>[0]) => { workspace: Parameters<typeof getFlag>[0]; result: Rule; warnings: readonly string[] }): Route => ({
    method: 'POST',
    path: `/v1/flags/{flag}/rules/{rule}:${verb}`,
    scope: 'write',
    validateOnly: true,
    async handle(ctx) {
      const { flag, rule } = ids(ctx);
      const body = await bodyObject(ctx, ['etag', ...extra]);
      const etags = requiredEtags(ctx.req, optionalString(body, 'etag', ''));
      const operation = apply(ctx, body, flag, rule);
      const out = await commit(store, ctx, (ws) =>
        translated(() => {
          checkRuleEtag(etags, getFlag(ws, flag), rule);
          return operation(ws);
        }, rulePrefix(flag, rule)),
      );
      return withImpact(withWarnings(ruleJson(flag, out.result), out.warnings), out.impact);
    },
  });

  return [
    {
      method: 'POST',
      path: '/v1/flags',
      scope: 'write',
      validateOnly: true,
      query: ['flagId'],
      async handle(ctx) {
        const id = resourceId(ctx.query.string('flagId'), 'flagId');
        const body = await bodyObject(ctx, ['displayName', 'variants', 'clients']);
        const displayName = optionalString(body, 'displayName', '');
        const clients = optionalStringList(body, 'clients', '')?.map((c) => shortName(c, 'clients'));
        let variants: Variant[] | undefined;
        if (body.variants !== undefined) {
          if (!Array.isArray(body.variants)) throw invalid('variants', `expected a list of {"name", "value"}, got ${describe(body.variants)}`);
          variants = body.variants.map((v: unknown, i) => readVariant(v, `variants[${i}]`, id));
        }
        const input: FlagInput = {
          id,
          ...(displayName === undefined ? {} : { displayName }),
          ...(clients === undefined ? {} : { clients }),
          ...(variants === undefined ? {} : { variants }),
        };
        const out = await commit(store, ctx, (ws) => translated(() => createFlag(ws, input), flagPrefix(id)));
        return withImpact(withWarnings(flagJson(out.result), out.warnings), out.impact);
      },
    },
    {
      method: 'GET',
      path: '/v1/flags',
      scope: 'read',
      async handle() {
        const { workspace } = await store.current();
        return { body: { flags: listFlags(workspace).map(flagJson) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/flags/{flag}',
      scope: 'read',
      async handle(ctx) {
        const id = resourceId(ctx.params.flag, 'flag');
        const { workspace } = await store.current();
        const json = flagJson(translated(() => getFlag(workspace, id), flagPrefix(id)));
        return { body: json, headers: etagHeader(json.etag as string) };
      },
    },
    {
      method: 'POST',
      path: '/v1/flags/{flag}:archive',
      scope: 'write',
      validateOnly: true,
      async handle(ctx) {
        const id = resourceId(ctx.params.flag, 'flag');
        const body = await bodyObject(ctx, ['etag']);
        const etags = requiredEtags(ctx.req, optionalString(body, 'etag', ''));
        const out = await commit(store, ctx, (ws) =>
          translated(() => {
            checkEtag(etags, flagJson(getFlag(ws, id)).etag as string, 'etag');
            return archiveFlag(ws, id);
          }, flagPrefix(id)),
        );
        return withImpact(withWarnings(flagJson(out.result), out.warnings), out.impact);
      },
    },
    {
      method: 'POST',
      path: '/v1/flags/{flag}/variants',
      scope: 'write',
      validateOnly: true,
      query: ['variantId'],
      async handle(ctx) {
        const id = resourceId(ctx.params.flag, 'flag');
        const name = resourceId(ctx.query.string('variantId'), 'variantId');
        const body = await bodyObject(ctx, ['value']);
        if (body.value === undefined) throw invalid('value', 'required: the variant\'s JSON value');
        const variant: Variant = { name, value: body.value as JsonValue };
        const out = await commit(store, ctx, (ws) => translated(() => addVariant(ws, id, variant), flagPrefix(id)));
        return withImpact(withWarnings(flagJson(out.result), out.warnings), out.impact);
      },
    },
    {
      method: 'POST',
      path: '/v1/flags/{flag}/rules',
      scope: 'write',
      validateOnly: true,
      query: ['ruleId', 'position'],
      async handle(ctx) {
        const flag = resourceId(ctx.params.flag, 'flag');
        const ruleIdParam = ctx.query.string('ruleId');
        const ruleId = ruleIdParam === undefined ? undefined : resourceId(ruleIdParam, 'ruleId');
        const position = ctx.query.string('position') ?? 'bottom';
        if (position !== 'top' && position !== 'bottom') throw invalid('position', `expected top or bottom, got ${JSON.stringify(position)}`);
        const body = await bodyObject(ctx, ['kind', 'enabled', ...RULE_FIELDS]);
        const kind = optionalString(body, 'kind', '');
        if (kind === undefined) throw invalid('kind', `required: one of ${KINDS.join(', ')}`);
        if (!(KINDS as readonly string[]).includes(kind)) throw invalid('kind', `expected one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
        const enabled = optionalBoolean(body, 'enabled', '');
        const input: RuleInput = {
          kind: kind as RuleKind,
          ...(ruleId === undefined ? {} : { id: ruleId }),
          ...(enabled === undefined ? {} : { enabled }),
          ...readRuleFields(body),
        };
        const out = await commit(store, ctx, (ws) => translated(() => addRule(ws, flag, input, position), ruleId === undefined ? new RegExp(`^flags\\.${flag}\\.rules\\.[^.]+\\.`) : rulePrefix(flag, ruleId)));
        return withImpact(withWarnings(ruleJson(flag, out.result), out.warnings), out.impact);
      },
    },
    {
      method: 'GET',
      path: '/v1/flags/{flag}/rules/{rule}',
      scope: 'read',
      async handle(ctx) {
        const { flag, rule } = ids(ctx);
        const { workspace } = await store.current();
        const f = translated(() => getFlag(workspace, flag), flagPrefix(flag));
        const r = f.rules.find((x) => x.id === rule);
        if (r === undefined) {
          throw new ApiError(404, 'NOT_FOUND', `flag ${flag} has no rule ${JSON.stringify(rule)} (rules: ${f.rules.map((x) => x.id).join(', ') || 'none'})`, { field: 'rule' });
        }
        const json = ruleJson(flag, r);
        return { body: json, headers: etagHeader(json.etag as string) };
      },
    },
    {
      method: 'PATCH',
      path: '/v1/flags/{flag}/rules/{rule}',
      scope: 'write',
      validateOnly: true,
      async handle(ctx) {
        const { flag, rule } = ids(ctx);
        const body = await bodyObject(ctx, ['etag', ...RULE_FIELDS]);
        const etags = requiredEtags(ctx.req, optionalString(body, 'etag', ''));
        const patch = readRuleFields(body);
        const out = await commit(store, ctx, (ws) =>
          translated(() => {
            checkRuleEtag(etags, getFlag(ws, flag), rule);
            return updateRule(ws, flag, rule, patch);
          }, rulePrefix(flag, rule)),
        );
        return withImpact(withWarnings(ruleJson(flag, out.result), out.warnings), out.impact);
      },
    },
    ruleAction('enable', [], (_ctx, _body, flag, rule) => (ws) => setRuleEnabled(ws, flag, rule, true)),
    ruleAction('disable', [], (_ctx, _body, flag, rule) => (ws) => setRuleEnabled(ws, flag, rule, false)),
    ruleAction('archive', [], (_ctx, _body, flag, rule) => (ws) => archiveRule(ws, flag, rule)),
    ruleAction('move', ['position'], (_ctx, body, flag, rule) => {
      const position = optionalInteger(body, 'position', '');
      if (position === undefined) throw invalid('position', 'required: the rule\'s new index (0 is evaluated first)');
      return (ws) => moveRule(ws, flag, rule, position);
    }),
  ];
}
