import {
  allocateSegment,
  archiveSegment,
  availableSpace,
  BUCKETS,
  createSegment,
  getSegment,
  listSegments,
  SEGMENT_FIELDS,
  updateSegment,
  type Segment,
  type SegmentField,
  type SegmentState,
} from '@allot/admin';

import { listOption, optionalString } from '../args.js';
import type { Command } from '../command.js';
import type { Io } from '../io.js';
import { didYouMean } from '../suggest.js';
import { apply, CliError, fractionOption, positional, printJson, query, read, splitSubcommand, subcommand } from './workspace-io.js';

const SEGMENT_OPTIONS = {
  'display-name': { type: 'string' },
  proportion: { type: 'string' },
  tags: { type: 'string' },
  'exclusive-to': { type: 'string' },
  targeting: { type: 'string' },
} as const;

const USAGES = {
  create: 'allot segments create ID --workspace W [--dry-run] [--display-name N] [--proportion P] [--tags a,b] [--exclusive-to a,b] [--targeting EXPR] [--json]',
  update:
    'allot segments update ID --workspace W [--dry-run] --update-mask FIELD,... [--display-name N] [--proportion P] [--tags a,b] [--exclusive-to a,b] [--targeting EXPR] [--force] [--json]\n' +
    `  FIELD: ${SEGMENT_FIELDS.join(', ')}`,
  allocate: 'allot segments allocate ID --workspace W [--dry-run] [--json]',
  archive: 'allot segments archive ID --workspace W [--dry-run] [--json]',
  get: 'allot segments get ID --workspace W [--json]',
  list: 'allot segments list --workspace W [--state UNALLOCATED|ALLOCATED|ARCHIVED] [--tag T] [--json]',
  space: 'allot segments space --workspace W [--tags a,b] [--exclusive-to c,d] [--segment ID] [--json]',
} as const;

const usage = Object.values(USAGES).map((u) => `  ${u}`).join('\n');

/** The listing shape of a segment (`segments list --json`). */
function segmentJson(s: Segment): Record<string, unknown> {
  return {
    id: s.id,
    displayName: s.displayName,
    state: s.state,
    proportion: s.proportion,
    exclusivityTags: s.exclusivityTags,
    exclusiveTo: s.exclusiveTo,
    buckets: s.buckets?.count ?? 0,
    targeting: s.targeting?.source ?? '',
  };
}

function percent(buckets: number): string {
  return `${Number(((buckets / BUCKETS) * 100).toFixed(4))}%`;
}

function describeSegment(io: Io, s: Segment): void {
  io.out(`${s.id} (${s.displayName}): ${s.state}`);
  io.out(`  targeting:       ${s.targeting?.source ?? '(everyone)'}`);
  io.out(`  proportion:      ${s.proportion}${s.buckets === null ? '' : `, holds ${s.buckets.count} buckets (${percent(s.buckets.count)})`}`);
  io.out(`  exclusivityTags: ${s.exclusivityTags.join(', ') || '-'}`);
  io.out(`  exclusiveTo:     ${s.exclusiveTo.join(', ') || '-'}`);
}

/** `--update-mask` entries; short names (`proportion`, `exclusiveTo`) are accepted too. */
function maskOption(value: string[] | undefined): SegmentField[] {
  if (value === undefined || value.length === 0) throw new CliError(`missing --update-mask\nusage: ${USAGES.update}`);
  return value.map((f) => {
    const full = SEGMENT_FIELDS.find((x) => x === f || x === `allocation.${f}`);
    if (full === undefined) {
      const names = [...SEGMENT_FIELDS, ...SEGMENT_FIELDS.filter((x) => x.startsWith('allocation.')).map((x) => x.slice('allocation.'.length))];
      throw new CliError(`--update-mask: unknown field ${JSON.stringify(f)}${didYouMean(f, names)}; expected ${SEGMENT_FIELDS.join(', ')}`);
    }
    return full;
  });
}

export const segments: Command = {
  name: 'segments',
  usage: `allot segments <create|update|allocate|archive|get|list|space> ...\n${usage}`,
  async run(argv, io) {
    const [name, rest] = splitSubcommand('segments', argv, Object.keys(USAGES), usage);
    switch (name) {
      case 'create': {
        const ctx = subcommand('segments create', rest, SEGMENT_OPTIONS, USAGES.create, io);
        const id = positional(ctx, 0, 'the segment ID');
        const proportion = fractionOption(ctx.args, 'proportion');
        const displayName = optionalString(ctx.args, 'display-name');
        const targeting = optionalString(ctx.args, 'targeting');
        const created = !(await ctx.file.exists());
        const out = await apply(
          ctx,
          (ws) =>
            createSegment(ws, {
              id,
              ...(displayName === undefined ? {} : { displayName }),
              ...(targeting === undefined ? {} : { targeting }),
              ...(proportion === undefined ? {} : { proportion }),
              exclusivityTags: listOption(ctx.args, 'tags') ?? [],
              exclusiveTo: listOption(ctx.args, 'exclusive-to') ?? [],
            }),
          true,
        );
        if (ctx.json) printJson(io, segmentJson(out.result));
        else io.out(`${created ? `created workspace ${ctx.file.path} (account ${out.workspace.account})\n` : ''}created segment ${id} (UNALLOCATED, proportion ${out.result.proportion})`);
        return 0;
      }
      case 'update': {
        const ctx = subcommand('segments update', rest, { ...SEGMENT_OPTIONS, 'update-mask': { type: 'string' }, force: { type: 'boolean' } }, USAGES.update, io);
        const id = positional(ctx, 0, 'the segment ID');
        const mask = maskOption(listOption(ctx.args, 'update-mask'));
        const proportion = fractionOption(ctx.args, 'proportion');
        const displayName = optionalString(ctx.args, 'display-name');
        const targeting = optionalString(ctx.args, 'targeting');
        const tags = listOption(ctx.args, 'tags');
        const exclusiveTo = listOption(ctx.args, 'exclusive-to');
        const out = await apply(ctx, (ws) =>
          updateSegment(
            ws,
            id,
            {
              ...(displayName === undefined ? {} : { displayName }),
              ...(targeting === undefined ? {} : { targeting }),
              ...(proportion === undefined ? {} : { proportion }),
              ...(tags === undefined ? {} : { exclusivityTags: tags }),
              ...(exclusiveTo === undefined ? {} : { exclusiveTo }),
            },
            mask,
            { force: ctx.args.values.force === true },
          ),
        );
        const r = out.result.reallocation;
        if (ctx.json) {
          printJson(io, { ...segmentJson(out.result.segment), reallocation: r });
        } else {
          io.out(`updated segment ${id} (${mask.join(', ')})`);
          if (r !== null) {
            io.out(`  buckets: kept ${r.kept}, added ${r.added}, removed ${r.removed}; units moved: ${percent(r.removed)} of all units left the segment, ${percent(r.added)} joined`);
          }
        }
        return 0;
      }
      case 'allocate': {
        const ctx = subcommand('segments allocate', rest, {}, USAGES.allocate, io);
        const id = positional(ctx, 0, 'the segment ID');
        const out = await apply(ctx, (ws) => allocateSegment(ws, id));
        if (ctx.json) printJson(io, segmentJson(out.result.segment));
        else io.out(`allocated segment ${id}: ${out.result.buckets} buckets (${percent(out.result.buckets)})`);
        return 0;
      }
      case 'archive': {
        const ctx = subcommand('segments archive', rest, {}, USAGES.archive, io);
        const id = positional(ctx, 0, 'the segment ID');
        const out = await apply(ctx, (ws) => archiveSegment(ws, id));
        if (ctx.json) printJson(io, segmentJson(out.result));
        else io.out(`archived segment ${id}; its buckets are free`);
        return 0;
      }
      case 'get': {
        const ctx = subcommand('segments get', rest, {}, USAGES.get, io);
        const id = positional(ctx, 0, 'the segment ID');
        const ws = await read(ctx);
        const s = query(() => getSegment(ws, id));
        if (ctx.json) printJson(io, segmentJson(s));
        else describeSegment(io, s);
        return 0;
      }
      case 'list': {
        const ctx = subcommand('segments list', rest, { state: { type: 'string' }, tag: { type: 'string' } }, USAGES.list, io);
        const state = optionalString(ctx.args, 'state');
        if (state !== undefined && !['UNALLOCATED', 'ALLOCATED', 'ARCHIVED'].includes(state)) {
          throw new CliError(`--state: expected UNALLOCATED, ALLOCATED or ARCHIVED, got ${JSON.stringify(state)}`);
        }
        const tag = optionalString(ctx.args, 'tag');
        const list = listSegments(await read(ctx), {
          ...(state === undefined ? {} : { state: state as SegmentState }),
          ...(tag === undefined ? {} : { tag }),
        });
        if (ctx.json) {
          printJson(io, list.map(segmentJson));
        } else {
          io.out(`${'id'.padEnd(28)}${'state'.padEnd(13)}${'proportion'.padEnd(12)}${'buckets'.padEnd(10)}tags → exclusiveTo`);
          for (const s of list) {
            io.out(`${s.id.padEnd(28)}${s.state.padEnd(13)}${String(s.proportion).padEnd(12)}${String(s.buckets?.count ?? 0).padEnd(10)}[${s.exclusivityTags.join(', ')}] → [${s.exclusiveTo.join(', ')}]`);
          }
        }
        return 0;
      }
      default: {
        const ctx = subcommand('segments space', rest, { tags: { type: 'string' }, 'exclusive-to': { type: 'string' }, segment: { type: 'string' } }, USAGES.space, io);
        const ws = await read(ctx);
        const segment = optionalString(ctx.args, 'segment');
        const tags = listOption(ctx.args, 'tags');
        const exclusiveTo = listOption(ctx.args, 'exclusive-to');
        const space = query(() => {
          // With --segment and no tags: the space that segment could grow to, under its own tags.
          const own = segment !== undefined && tags === undefined && exclusiveTo === undefined ? getSegment(ws, segment) : undefined;
          return availableSpace(ws, { exclusivityTags: tags ?? own?.exclusivityTags ?? [], exclusiveTo: exclusiveTo ?? own?.exclusiveTo ?? [] }, segment);
        });
        if (ctx.json) printJson(io, space);
        else io.out(`free: ${percent(space.freeBuckets)} (${space.freeBuckets} buckets); conflicting allocated segments: ${space.conflicting.join(', ') || 'none'}`);
        return 0;
      }
    }
  },
};
