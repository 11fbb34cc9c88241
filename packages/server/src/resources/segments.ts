/**
 * `/v1/segments`: Confidence's segments API over admin's segment operations. Proportions are
 * decimals as Confidence writes them (`{"value": "0.1"}`); targeting is Confidence's JSON
 * criteria (or allot's expression text); names are `segments/<id>`.
 */
import {
  allocateSegment,
  archiveSegment,
  availableSpace,
  createSegment,
  getSegment,
  listSegments,
  SEGMENT_FIELDS,
  toConfidenceTargeting,
  updateSegment,
  type Segment,
  type SegmentField,
  type SegmentFilter,
  type SegmentInput,
  type SegmentState,
  type SegmentUpdate,
  type Outcome,
  type Workspace,
} from '@allot/admin';

import { invalid, translated } from '../http/api-error.js';
import type { Reply, RequestContext, Route } from '../http/router.js';
import { targetingExpression } from '../input/confidence-targeting.js';
import { optionalDecimal, optionalString, optionalStringList, readObject, type JsonObject } from '../input/fields.js';
import { resourceId } from '../input/ids.js';
import type { Store } from '../store/store.js';
import { checkEtag, etagHeader, requiredEtags, resourceEtag } from './preconditions.js';
import { commit, withImpact, type Committed } from './validate-only.js';

/** A segment as the API shows it. */
export function segmentJson(s: Segment): Record<string, unknown> {
  const representation = {
    name: `segments/${s.id}`,
    displayName: s.displayName,
    targeting: toConfidenceTargeting(s.targeting),
    targetingExpression: s.targeting?.source ?? '',
    allocation: {
      proportion: { value: String(s.proportion) },
      exclusivityTags: s.exclusivityTags,
      exclusiveTo: s.exclusiveTo,
    },
    state: s.state,
    allocatedBuckets: s.buckets?.count ?? 0,
  };
  return { ...representation, etag: resourceEtag(representation) };
}

function segmentReply(s: Segment, extra: Record<string, unknown> = {}, warnings: readonly string[] = []): Reply {
  const json = segmentJson(s);
  return { body: { ...json, ...extra, ...(warnings.length > 0 ? { warnings } : {}) }, headers: etagHeader(json.etag as string) };
}

const SEGMENT_BODY = ['displayName', 'targeting', 'allocation'];
const ALLOCATION_BODY = ['proportion', 'exclusivityTags', 'exclusiveTo'];

interface SegmentFields {
  displayName?: string;
  targeting?: string;
  proportion?: number;
  exclusivityTags?: string[];
  exclusiveTo?: string[];
  /** Which of SEGMENT_FIELDS the body set. */
  present: SegmentField[];
}

/** The segment fields of a create or update body. */
function readSegmentBody(body: JsonObject): SegmentFields {
  const out: SegmentFields = { present: [] };
  const displayName = optionalString(body, 'displayName', '');
  if (displayName !== undefined) {
    out.displayName = displayName;
    out.present.push('displayName');
  }
  if (body.targeting !== undefined) {
    out.targeting = targetingExpression(body.targeting, 'targeting');
    out.present.push('targeting');
  }
  if (body.allocation !== undefined) {
    const allocation = readObject(body.allocation, 'allocation', ALLOCATION_BODY);
    const proportion = optionalDecimal(allocation, 'proportion', 'allocation');
    if (proportion !== undefined) {
      out.proportion = proportion;
      out.present.push('allocation.proportion');
    }
    const tags = optionalStringList(allocation, 'exclusivityTags', 'allocation');
    if (tags !== undefined) {
      out.exclusivityTags = tags;
      out.present.push('allocation.exclusivityTags');
    }
    const to = optionalStringList(allocation, 'exclusiveTo', 'allocation');
    if (to !== undefined) {
      out.exclusiveTo = to;
      out.present.push('allocation.exclusiveTo');
    }
  }
  return out;
}

/** Only the set members of `fields`, as admin's input types want them (no `undefined` values). */
function defined<T extends object>(fields: { [K in keyof T]-?: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

const STATES: readonly SegmentState[] = ['UNALLOCATED', 'ALLOCATED', 'ARCHIVED'];

function updateMask(ctx: RequestContext, present: readonly SegmentField[]): SegmentField[] {
  const mask = ctx.query.list('updateMask');
  // AIP-134: without a mask, the fields present in the body change.
  if (mask === undefined) return [...present];
  if (mask.includes('*')) return [...SEGMENT_FIELDS];
  return mask.map((f) => {
    if (!(SEGMENT_FIELDS as readonly string[]).includes(f)) {
      throw invalid('updateMask', `unknown field ${JSON.stringify(f)}; expected ${SEGMENT_FIELDS.join(', ')} (or *)`);
    }
    return f as SegmentField;
  });
}

async function bodyObject(ctx: RequestContext, allowed: readonly string[]): Promise<JsonObject> {
  return readObject(await ctx.body(), '', allowed);
}

/** The `etag` member of an action body (`{}` or `{"etag": "…"}`). */
async function actionEtags(ctx: RequestContext): Promise<string[] | undefined> {
  const body = await bodyObject(ctx, ['etag']);
  return requiredEtags(ctx.req, optionalString(body, 'etag', ''));
}

export function segmentRoutes(store: Store): Route[] {
  const prefix = (id: string): string => `segments.${id}.`;
  /** Applies `operate` to segment `id` under the write lock (or previews it), after checking its etag. */
  const writeSegment = <R>(ctx: RequestContext, id: string, etags: readonly string[] | undefined, operate: (ws: Workspace) => Outcome<R>): Promise<Committed<R>> =>
    commit(store, ctx, (ws) =>
      translated(() => {
        checkEtag(etags, segmentJson(getSegment(ws, id)).etag as string, 'etag');
        return operate(ws);
      }, prefix(id)),
    );
  return [
    {
      method: 'POST',
      path: '/v1/segments',
      scope: 'write',
      validateOnly: true,
      query: ['segmentId'],
      async handle(ctx) {
        const id = resourceId(ctx.query.string('segmentId'), 'segmentId');
        const fields = readSegmentBody(await bodyObject(ctx, SEGMENT_BODY));
        const input = defined<SegmentInput>({
          id,
          displayName: fields.displayName,
          targeting: fields.targeting,
          proportion: fields.proportion,
          exclusivityTags: fields.exclusivityTags,
          exclusiveTo: fields.exclusiveTo,
        });
        const out = await commit(store, ctx, (ws) => translated(() => createSegment(ws, input), prefix(id)));
        return withImpact(segmentReply(out.result, {}, out.warnings), out.impact);
      },
    },
    {
      method: 'GET',
      path: '/v1/segments',
      scope: 'read',
      query: ['tag', 'state'],
      async handle(ctx) {
        const tag = ctx.query.string('tag');
        const state = ctx.query.string('state');
        if (state !== undefined && !(STATES as readonly string[]).includes(state)) {
          throw invalid('state', `expected ${STATES.join(', ')}, got ${JSON.stringify(state)}`);
        }
        const { workspace } = await store.current();
        const filter = defined<SegmentFilter>({ tag, state: state as SegmentState | undefined });
        return { body: { segments: listSegments(workspace, filter).map(segmentJson) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/segments:availableSpace',
      scope: 'read',
      query: ['exclusivityTags', 'exclusiveTo', 'segment'],
      async handle(ctx) {
        const exclusivityTags = ctx.query.list('exclusivityTags') ?? [];
        const exclusiveTo = ctx.query.list('exclusiveTo') ?? [];
        const segmentParam = ctx.query.string('segment');
        const segment = segmentParam === undefined ? undefined : resourceId(segmentParam, 'segment', 'segments');
        const { workspace } = await store.current();
        const space = translated(() => availableSpace(workspace, { exclusivityTags, exclusiveTo }, segment));
        return {
          body: {
            exclusivityTags,
            exclusiveTo,
            ...(segment === undefined ? {} : { segment: `segments/${segment}` }),
            available: { value: String(space.free) },
            availableBuckets: space.freeBuckets,
            conflictingSegments: space.conflicting.map((s) => `segments/${s}`),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/segments/{segment}',
      scope: 'read',
      async handle(ctx) {
        const id = resourceId(ctx.params.segment, 'segment');
        const { workspace } = await store.current();
        return segmentReply(translated(() => getSegment(workspace, id), prefix(id)));
      },
    },
    {
      method: 'PATCH',
      path: '/v1/segments/{segment}',
      scope: 'write',
      validateOnly: true,
      query: ['updateMask', 'force'],
      async handle(ctx) {
        const id = resourceId(ctx.params.segment, 'segment');
        const body = await bodyObject(ctx, [...SEGMENT_BODY, 'etag']);
        const fields = readSegmentBody(body);
        const mask = updateMask(ctx, fields.present);
        if (mask.length === 0) {
          throw invalid('updateMask', `name the fields to change (${SEGMENT_FIELDS.join(', ')}), or send them in the body`);
        }
        const force = ctx.query.boolean('force') ?? false;
        const etags = requiredEtags(ctx.req, optionalString(body, 'etag', ''));
        const update = defined<SegmentUpdate>({
          displayName: fields.displayName,
          targeting: fields.targeting,
          proportion: fields.proportion,
          exclusivityTags: fields.exclusivityTags,
          exclusiveTo: fields.exclusiveTo,
        });
        const out = await writeSegment(ctx, id, etags, (ws) => updateSegment(ws, id, update, mask, { force }));
        const { segment, reallocation } = out.result;
        return withImpact(segmentReply(segment, reallocation === null ? {} : { reallocation }, out.warnings), out.impact);
      },
    },
    {
      method: 'POST',
      path: '/v1/segments/{segment}:allocate',
      scope: 'write',
      validateOnly: true,
      async handle(ctx) {
        const id = resourceId(ctx.params.segment, 'segment');
        const etags = await actionEtags(ctx);
        const out = await writeSegment(ctx, id, etags, (ws) => allocateSegment(ws, id));
        return withImpact(segmentReply(out.result.segment, {}, out.warnings), out.impact);
      },
    },
    {
      method: 'POST',
      path: '/v1/segments/{segment}:archive',
      scope: 'write',
      validateOnly: true,
      async handle(ctx) {
        const id = resourceId(ctx.params.segment, 'segment');
        const etags = await actionEtags(ctx);
        const out = await writeSegment(ctx, id, etags, (ws) => archiveSegment(ws, id));
        return withImpact(segmentReply(out.result, {}, out.warnings), out.impact);
      },
    },
  ];
}

