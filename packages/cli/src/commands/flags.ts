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
  updateRule,
  type Flag,
  type Rule,
  type RuleInput,
  type RuleKind,
  type RulePatch,
  type Sticky,
} from '@allot/admin';
import type { JsonValue } from '@allot/core';

import { listOption, optionalString, type Parsed } from '../args.js';
import type { Command } from '../command.js';
import type { Io } from '../io.js';
import {
  apply,
  CliError,
  fractionOption,
  positional,
  printJson,
  query,
  read,
  splitSubcommand,
  subcommand,
  switchOption,
  weightsOption,
} from './workspace-io.js';

const RULE_VALUE_OPTIONS = {
  segment: { type: 'string' },
  targeting: { type: 'string' },
  attribute: { type: 'string' },
  values: { type: 'string' },
  variant: { type: 'string' },
  percentage: { type: 'string' },
  split: { type: 'string' },
  weights: { type: 'string' },
  reach: { type: 'string' },
  'randomization-field': { type: 'string' },
  environments: { type: 'string' },
} as const;

const RULE_OPTIONS_HELP =
  '    individual:  --attribute A --values a,b --variant V [--top]\n' +
  '    conditional: (--segment S | --targeting EXPR) [--percentage P] (--split a=1,b=1 | --variant V) [--randomization-field F]\n' +
  '    ab-test:     (--segment S | --targeting EXPR) --weights a=50,b=50 [--randomization-field F]\n' +
  '    rollout:     (--segment S | --targeting EXPR) --reach R --variant V [--randomization-field F]\n' +
  '                 (reach < 100%: hashed, a split; reach 100%: the whole audience, a full rollout)\n' +
  '    any kind:    [--environments e,f]';

const USAGES = {
  create: 'allot flags create ID --workspace W [--dry-run] [--display-name N] [--variant NAME=VALUE]... [--clients a,b] [--json]',
  'add-variant': 'allot flags add-variant FLAG NAME --workspace W [--dry-run] [--value JSON]',
  'add-rule':
    'allot flags add-rule FLAG --workspace W [--dry-run] --kind individual|conditional|ab-test|rollout [--id R] [--enabled] [--sticky] [--paused-intake] [--ignore-targeting-for-assigned] [kind options] [--json]\n' +
    RULE_OPTIONS_HELP,
  'update-rule':
    'allot flags update-rule FLAG RULE --workspace W [--dry-run] [kind options] [--sticky on|off] [--paused-intake on|off] [--ignore-targeting-for-assigned on|off] [--json]',
  'enable-rule': 'allot flags enable-rule FLAG RULE --workspace W [--dry-run]',
  'disable-rule': 'allot flags disable-rule FLAG RULE --workspace W [--dry-run]',
  'move-rule': 'allot flags move-rule FLAG RULE --workspace W [--dry-run] (--to INDEX | --top | --bottom)',
  'archive-rule': 'allot flags archive-rule FLAG RULE --workspace W [--dry-run]',
  archive: 'allot flags archive FLAG --workspace W [--dry-run]',
  get: 'allot flags get FLAG --workspace W [--json]',
  list: 'allot flags list --workspace W [--json]',
} as const;

const usage = Object.values(USAGES).map((u) => `  ${u}`).join('\n');

/** A variant value from the command line: JSON when it parses, else the text as a string. */
function variantValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

function ruleValues(args: Parsed): RulePatch {
  const pick = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    ...pick('segment', optionalString(args, 'segment')),
    ...pick('targeting', optionalString(args, 'targeting')),
    ...pick('attribute', optionalString(args, 'attribute')),
    ...pick('values', listOption(args, 'values')),
    ...pick('variant', optionalString(args, 'variant')),
    ...pick('percentage', fractionOption(args, 'percentage')),
    ...pick('split', weightsOption(args, 'split')),
    ...pick('weights', weightsOption(args, 'weights')),
    ...pick('reach', fractionOption(args, 'reach')),
    ...pick('randomizationField', optionalString(args, 'randomization-field')),
    ...pick('environments', listOption(args, 'environments')),
  };
}

function ruleJson(r: Rule): Record<string, unknown> {
  const { sticky, ...rest } = r;
  const audience = 'audience' in r ? r.audience : undefined;
  return {
    ...rest,
    ...(audience === undefined
      ? {}
      : { audience: audience.kind === 'segment' ? { segment: audience.segment } : { targeting: audience.targeting?.source ?? '' } }),
    sticky,
  };
}

function flagJson(f: Flag): Record<string, unknown> {
  return { id: f.id, displayName: f.displayName, state: f.state, clients: f.clients, variants: f.variants, rules: f.rules.map(ruleJson) };
}

function describeRule(r: Rule): string {
  const audience = 'audience' in r ? (r.audience.kind === 'segment' ? `segment ${r.audience.segment}` : (r.audience.targeting?.source ?? 'everyone')) : '';
  const sticky = r.sticky.enabled ? ` sticky${r.sticky.pausedIntake ? ' (intake paused)' : ''}${r.sticky.ignoreTargetingForAssigned ? ' (targeting not re-checked)' : ''}` : '';
  const by = 'randomizationField' in r && r.randomizationField !== '' ? ` by ${r.randomizationField}` : '';
  switch (r.kind) {
    case 'individual':
      return `individual: ${r.attribute} in [${r.values.join(', ')}] → ${r.variant}${sticky}`;
    case 'conditional':
      return `conditional: ${audience}, ${r.percentage * 100}% split ${r.split.map((w) => `${w.variant}=${w.weight}`).join(',')}${by}${sticky}`;
    case 'ab-test':
      return `ab-test: ${audience}, weights ${r.weights.map((w) => `${w.variant}=${w.weight}`).join(',')}${by}${sticky}`;
    case 'rollout':
      return `rollout: ${audience}, reach ${r.reach * 100}% → ${r.variant}${by}${sticky}`;
  }
}

function describeFlag(io: Io, f: Flag): void {
  io.out(`${f.id} (${f.displayName}): ${f.state}; clients: ${f.clients.join(', ') || 'all'}`);
  io.out(`  variants: ${f.variants.map((v) => `${v.name}=${JSON.stringify(v.value)}`).join(', ') || '-'}`);
  f.rules.forEach((r, i) => {
    io.out(`  ${String(i).padStart(2)}. ${r.id.padEnd(12)} ${r.state.padEnd(9)} ${describeRule(r)}`);
  });
}

const KINDS: readonly RuleKind[] = ['individual', 'conditional', 'ab-test', 'rollout'];

export const flags: Command = {
  name: 'flags',
  usage: `allot flags <${Object.keys(USAGES).join('|')}> ...\n${usage}`,
  async run(argv, io) {
    const [name, rest] = splitSubcommand('flags', argv, Object.keys(USAGES), usage);
    switch (name) {
      case 'create': {
        const ctx = subcommand('flags create', rest, { 'display-name': { type: 'string' }, variant: { type: 'string', multiple: true }, clients: { type: 'string' } }, USAGES.create, io);
        const id = positional(ctx, 0, 'the flag ID');
        const variants = ((ctx.args.values.variant as string[] | undefined) ?? []).map((spec) => {
          const eq = spec.indexOf('=');
          const vname = eq === -1 ? spec : spec.slice(0, eq);
          return { name: vname.trim(), value: eq === -1 ? null : variantValue(spec.slice(eq + 1)) };
        });
        const displayName = optionalString(ctx.args, 'display-name');
        const created = !(await ctx.file.exists());
        const out = await apply(
          ctx,
          (ws) => createFlag(ws, { id, variants, clients: listOption(ctx.args, 'clients') ?? [], ...(displayName === undefined ? {} : { displayName }) }),
          true,
        );
        if (ctx.json) printJson(io, flagJson(out.result));
        else {
          if (created) io.out(`created workspace ${ctx.file.path} (account ${out.workspace.account})`);
          io.out(`created flag ${id} with variants ${variants.map((v) => v.name).join(', ') || '(none)'}`);
        }
        return 0;
      }
      case 'add-variant': {
        const ctx = subcommand('flags add-variant', rest, { value: { type: 'string' } }, USAGES['add-variant'], io);
        const flag = positional(ctx, 0, 'the FLAG');
        const vname = positional(ctx, 1, 'the variant NAME');
        const value = optionalString(ctx.args, 'value');
        await apply(ctx, (ws) => addVariant(ws, flag, { name: vname, value: value === undefined ? null : variantValue(value) }));
        io.out(`added variant ${vname} to ${flag}`);
        return 0;
      }
      case 'add-rule': {
        const ctx = subcommand(
          'flags add-rule',
          rest,
          {
            ...RULE_VALUE_OPTIONS,
            kind: { type: 'string' },
            id: { type: 'string' },
            top: { type: 'boolean' },
            enabled: { type: 'boolean' },
            sticky: { type: 'boolean' },
            'paused-intake': { type: 'boolean' },
            'ignore-targeting-for-assigned': { type: 'boolean' },
          },
          USAGES['add-rule'],
          io,
        );
        const flag = positional(ctx, 0, 'the FLAG');
        const kind = optionalString(ctx.args, 'kind');
        if (kind === undefined || !(KINDS as readonly string[]).includes(kind)) {
          throw new CliError(`--kind: expected ${KINDS.join(', ')}, got ${JSON.stringify(kind ?? '')}\nusage: ${USAGES['add-rule']}`);
        }
        const ruleId = optionalString(ctx.args, 'id');
        const sticky: Partial<Sticky> = {
          ...(ctx.args.values.sticky === true ? { enabled: true } : {}),
          ...(ctx.args.values['paused-intake'] === true ? { pausedIntake: true } : {}),
          ...(ctx.args.values['ignore-targeting-for-assigned'] === true ? { ignoreTargetingForAssigned: true } : {}),
        };
        const input: RuleInput = {
          kind: kind as RuleKind,
          ...ruleValues(ctx.args),
          ...(ruleId === undefined ? {} : { id: ruleId }),
          enabled: ctx.args.values.enabled === true,
          sticky,
        };
        const out = await apply(ctx, (ws) => addRule(ws, flag, input, ctx.args.values.top === true ? 'top' : 'bottom'));
        if (ctx.json) printJson(io, ruleJson(out.result));
        else io.out(`added rule ${out.result.id} to ${flag} (${out.result.state}): ${describeRule(out.result)}`);
        return 0;
      }
      case 'update-rule': {
        const ctx = subcommand(
          'flags update-rule',
          rest,
          { ...RULE_VALUE_OPTIONS, sticky: { type: 'string' }, 'paused-intake': { type: 'string' }, 'ignore-targeting-for-assigned': { type: 'string' } },
          USAGES['update-rule'],
          io,
        );
        const flag = positional(ctx, 0, 'the FLAG');
        const ruleId = positional(ctx, 1, 'the RULE');
        const enabled = switchOption(ctx.args, 'sticky');
        const pausedIntake = switchOption(ctx.args, 'paused-intake');
        const ignore = switchOption(ctx.args, 'ignore-targeting-for-assigned');
        const sticky: Partial<Sticky> = {
          ...(enabled === undefined ? {} : { enabled }),
          ...(pausedIntake === undefined ? {} : { pausedIntake }),
          ...(ignore === undefined ? {} : { ignoreTargetingForAssigned: ignore }),
        };
        const out = await apply(ctx, (ws) => updateRule(ws, flag, ruleId, { ...ruleValues(ctx.args), sticky }));
        if (ctx.json) printJson(io, ruleJson(out.result));
        else io.out(`updated rule ${ruleId} of ${flag}: ${describeRule(out.result)}`);
        return 0;
      }
      case 'enable-rule':
      case 'disable-rule': {
        const ctx = subcommand(`flags ${name}`, rest, {}, USAGES[name], io);
        const flag = positional(ctx, 0, 'the FLAG');
        const ruleId = positional(ctx, 1, 'the RULE');
        await apply(ctx, (ws) => setRuleEnabled(ws, flag, ruleId, name === 'enable-rule'));
        io.out(`${name === 'enable-rule' ? 'enabled' : 'disabled'} rule ${ruleId} of ${flag}`);
        return 0;
      }
      case 'move-rule': {
        const ctx = subcommand('flags move-rule', rest, { to: { type: 'string' }, top: { type: 'boolean' }, bottom: { type: 'boolean' } }, USAGES['move-rule'], io);
        const flag = positional(ctx, 0, 'the FLAG');
        const ruleId = positional(ctx, 1, 'the RULE');
        const to = optionalString(ctx.args, 'to');
        const out = await apply(ctx, (ws) => {
          const count = query(() => getFlag(ws, flag)).rules.length;
          if (to === undefined && ctx.args.values.top !== true && ctx.args.values.bottom !== true) {
            throw new CliError(`give --to INDEX, --top or --bottom\nusage: ${USAGES['move-rule']}`);
          }
          const index = ctx.args.values.top === true ? 0 : ctx.args.values.bottom === true ? count - 1 : Number(to);
          return moveRule(ws, flag, ruleId, index);
        });
        io.out(`moved rule ${out.result.id} of ${flag}`);
        return 0;
      }
      case 'archive-rule': {
        const ctx = subcommand('flags archive-rule', rest, {}, USAGES['archive-rule'], io);
        const flag = positional(ctx, 0, 'the FLAG');
        const ruleId = positional(ctx, 1, 'the RULE');
        await apply(ctx, (ws) => archiveRule(ws, flag, ruleId));
        io.out(`archived rule ${ruleId} of ${flag}`);
        return 0;
      }
      case 'archive': {
        const ctx = subcommand('flags archive', rest, {}, USAGES.archive, io);
        const flag = positional(ctx, 0, 'the FLAG');
        await apply(ctx, (ws) => archiveFlag(ws, flag));
        io.out(`archived flag ${flag}`);
        return 0;
      }
      case 'get': {
        const ctx = subcommand('flags get', rest, {}, USAGES.get, io);
        const flag = positional(ctx, 0, 'the FLAG');
        const ws = await read(ctx);
        const f = query(() => getFlag(ws, flag));
        if (ctx.json) printJson(io, flagJson(f));
        else describeFlag(io, f);
        return 0;
      }
      default: {
        const ctx = subcommand('flags list', rest, {}, USAGES.list, io);
        const list = listFlags(await read(ctx));
        if (ctx.json) printJson(io, list.map(flagJson));
        else for (const f of list) describeFlag(io, f);
        return 0;
      }
    }
  },
};
