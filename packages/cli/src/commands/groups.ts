import {
  addGroupMember,
  archiveGroup,
  createGroup,
  getGroup,
  listGroups,
  removeGroupMember,
  unarchiveGroup,
  type ExclusionGroup,
  type GroupChange,
  type Workspace,
} from '@allot/admin';

import { listOption, optionalString } from '../args.js';
import type { Command } from '../command.js';
import type { Io } from '../io.js';
import { apply, fractionOption, positional, printJson, query, read, splitSubcommand, subcommand } from './workspace-io.js';

const USAGES = {
  create: 'allot groups create ID --workspace W [--dry-run] [--display-name N] [--members seg-a,seg-b] [--json]',
  add: 'allot groups add GROUP SEGMENT --workspace W [--dry-run] [--proportion P] [--json]',
  remove: 'allot groups remove GROUP SEGMENT --workspace W [--dry-run] [--json]',
  archive: 'allot groups archive GROUP --workspace W [--dry-run] [--json]',
  unarchive: 'allot groups unarchive GROUP --workspace W [--dry-run] [--json]',
  get: 'allot groups get GROUP --workspace W [--json]',
  list: 'allot groups list --workspace W [--json]',
} as const;

const usage = Object.values(USAGES).map((u) => `  ${u}`).join('\n');

function groupJson(g: ExclusionGroup, ws: Workspace): Record<string, unknown> {
  return {
    id: g.id,
    displayName: g.displayName,
    state: g.state,
    members: g.members.map((m) => {
      const s = ws.segments.find((x) => x.id === m);
      return { segment: m, state: s?.state ?? 'MISSING', proportion: s?.proportion ?? 0, buckets: s?.buckets?.count ?? 0 };
    }),
  };
}

function describeGroup(io: Io, g: ExclusionGroup, ws: Workspace): void {
  const members = groupJson(g, ws).members as { segment: string; state: string; proportion: number }[];
  const share = members.filter((m) => m.state === 'ALLOCATED').reduce((n, m) => n + m.proportion, 0);
  io.out(`${g.id} (${g.displayName}): ${g.state}; ${members.length} member${members.length === 1 ? '' : 's'}, ${Number((share * 100).toFixed(4))}% of traffic allocated`);
  for (const m of members) io.out(`  ${m.segment.padEnd(28)}${m.state.padEnd(13)}${m.proportion}`);
}

function report(io: Io, json: boolean, verb: string, change: GroupChange, ws: Workspace): void {
  if (json) {
    printJson(io, { ...groupJson(change.group, ws), reallocations: change.reallocations });
    return;
  }
  io.out(`${verb} exclusion group ${change.group.id}`);
  for (const [segment, r] of Object.entries(change.reallocations)) {
    io.out(`  ${segment}: kept ${r.kept} buckets, moved ${r.removed} (${Number(((r.removed / 1_000_000) * 100).toFixed(4))}% of units)`);
  }
}

export const groups: Command = {
  name: 'groups',
  usage: `allot groups <create|add|remove|archive|unarchive|get|list> ...\n${usage}`,
  async run(argv, io) {
    const [name, rest] = splitSubcommand('groups', argv, Object.keys(USAGES), usage);
    switch (name) {
      case 'create': {
        const ctx = subcommand('groups create', rest, { 'display-name': { type: 'string' }, members: { type: 'string' } }, USAGES.create, io);
        const id = positional(ctx, 0, 'the group ID');
        const displayName = optionalString(ctx.args, 'display-name');
        const out = await apply(ctx, (ws) => createGroup(ws, { id, members: listOption(ctx.args, 'members') ?? [], ...(displayName === undefined ? {} : { displayName }) }));
        report(io, ctx.json, 'created', out.result, out.workspace);
        return 0;
      }
      case 'add':
      case 'remove': {
        const ctx = subcommand(`groups ${name}`, rest, name === 'add' ? { proportion: { type: 'string' } } : {}, USAGES[name], io);
        const group = positional(ctx, 0, 'the GROUP');
        const segment = positional(ctx, 1, 'the SEGMENT');
        const proportion = fractionOption(ctx.args, 'proportion');
        const out = await apply(ctx, (ws) =>
          name === 'add' ? addGroupMember(ws, group, segment, proportion === undefined ? {} : { proportion }) : removeGroupMember(ws, group, segment),
        );
        report(io, ctx.json, name === 'add' ? `added ${segment} to` : `removed ${segment} from`, out.result, out.workspace);
        return 0;
      }
      case 'archive':
      case 'unarchive': {
        const ctx = subcommand(`groups ${name}`, rest, {}, USAGES[name], io);
        const group = positional(ctx, 0, 'the GROUP');
        const out = await apply(ctx, (ws) => (name === 'archive' ? archiveGroup(ws, group) : unarchiveGroup(ws, group)));
        report(io, ctx.json, `${name}d`, out.result, out.workspace);
        return 0;
      }
      case 'get': {
        const ctx = subcommand('groups get', rest, {}, USAGES.get, io);
        const id = positional(ctx, 0, 'the GROUP');
        const ws = await read(ctx);
        const g = query(() => getGroup(ws, id));
        if (ctx.json) printJson(io, groupJson(g, ws));
        else describeGroup(io, g, ws);
        return 0;
      }
      default: {
        const ctx = subcommand('groups list', rest, {}, USAGES.list, io);
        const ws = await read(ctx);
        const list = listGroups(ws);
        if (ctx.json) printJson(io, list.map((g) => groupJson(g, ws)));
        else for (const g of list) describeGroup(io, g, ws);
        return 0;
      }
    }
  },
};
