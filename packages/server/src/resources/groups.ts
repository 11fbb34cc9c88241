/**
 * `/v1/groups`: Optimizely-style exclusion groups over admin's group operations. A group's
 * members never share a unit (admin puts the tag `group:<id>` on both tag lists of every
 * member); a membership change that moves buckets reports it in `reallocations`.
 */
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
  type GroupInput,
  type Outcome,
  type Workspace,
} from '@allot/admin';

import { invalid, translated } from '../http/api-error.js';
import type { Reply, RequestContext, Route } from '../http/router.js';
import { optionalDecimal, optionalString, optionalStringList, readObject, type JsonObject } from '../input/fields.js';
import { resourceId } from '../input/ids.js';
import type { Store } from '../store/store.js';
import { checkEtag, etagHeader, requiredEtags, resourceEtag } from './preconditions.js';
import { commit, withImpact } from './validate-only.js';

/** A group as the API shows it. */
export function groupJson(g: ExclusionGroup): Record<string, unknown> {
  const representation = {
    name: `groups/${g.id}`,
    displayName: g.displayName,
    state: g.state,
    members: g.members.map((m) => `segments/${m}`),
  };
  return { ...representation, etag: resourceEtag(representation) };
}

function changeReply(change: GroupChange, warnings: readonly string[]): Reply {
  const json = groupJson(change.group);
  const reallocations = Object.fromEntries(Object.entries(change.reallocations).map(([id, r]) => [`segments/${id}`, r]));
  return {
    body: { ...json, reallocations, ...(warnings.length > 0 ? { warnings } : {}) },
    headers: etagHeader(json.etag as string),
  };
}

async function bodyObject(ctx: RequestContext, allowed: readonly string[]): Promise<JsonObject> {
  return readObject(await ctx.body(), '', allowed);
}

export function groupRoutes(store: Store): Route[] {
  const prefix = (id: string): string => `groups.${id}.`;

  /** A group action (`:addMember`, `:archive`, …) with an optional etag and extra body fields. */
  const action = (
    verb: string,
    extra: readonly string[],
    operation: (body: JsonObject, group: string) => (ws: Workspace) => Outcome<GroupChange>,
  ): Route => ({
    method: 'POST',
    path: `/v1/groups/{group}:${verb}`,
    scope: 'write',
    validateOnly: true,
    async handle(ctx) {
      const group = resourceId(ctx.params.group, 'group');
      const body = await bodyObject(ctx, ['etag', ...extra]);
      const etags = requiredEtags(ctx.req, optionalString(body, 'etag', ''));
      const apply = operation(body, group);
      const out = await commit(store, ctx, (ws) =>
        translated(() => {
          checkEtag(etags, groupJson(getGroup(ws, group)).etag as string, 'etag');
          return apply(ws);
        }, prefix(group)),
      );
      return withImpact(changeReply(out.result, out.warnings), out.impact);
    },
  });

  const member = (body: JsonObject): string => {
    const segment = optionalString(body, 'segment', '');
    if (segment === undefined) throw invalid('segment', 'required: the member segment ("segments/ID" or ID)');
    return resourceId(segment, 'segment', 'segments');
  };

  return [
    {
      method: 'POST',
      path: '/v1/groups',
      scope: 'write',
      validateOnly: true,
      query: ['groupId'],
      async handle(ctx) {
        const id = resourceId(ctx.query.string('groupId'), 'groupId');
        const body = await bodyObject(ctx, ['displayName', 'members']);
        const displayName = optionalString(body, 'displayName', '');
        const members = optionalStringList(body, 'members', '')?.map((m, i) => resourceId(m, `members[${i}]`, 'segments'));
        const input: GroupInput = {
          id,
          ...(displayName === undefined ? {} : { displayName }),
          ...(members === undefined ? {} : { members }),
        };
        const out = await commit(store, ctx, (ws) => translated(() => createGroup(ws, input), prefix(id)));
        return withImpact(changeReply(out.result, out.warnings), out.impact);
      },
    },
    {
      method: 'GET',
      path: '/v1/groups',
      scope: 'read',
      async handle() {
        const { workspace } = await store.current();
        return { body: { groups: listGroups(workspace).map(groupJson) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/groups/{group}',
      scope: 'read',
      async handle(ctx) {
        const id = resourceId(ctx.params.group, 'group');
        const { workspace } = await store.current();
        const json = groupJson(translated(() => getGroup(workspace, id), prefix(id)));
        return { body: json, headers: etagHeader(json.etag as string) };
      },
    },
    action('addMember', ['segment', 'proportion'], (body, group) => {
      const segment = member(body);
      const proportion = optionalDecimal(body, 'proportion', '');
      return (ws) => addGroupMember(ws, group, segment, proportion === undefined ? {} : { proportion });
    }),
    action('removeMember', ['segment'], (body, group) => {
      const segment = member(body);
      return (ws) => removeGroupMember(ws, group, segment);
    }),
    action('archive', [], (_body, group) => (ws) => archiveGroup(ws, group)),
    action('unarchive', [], (_body, group) => (ws) => unarchiveGroup(ws, group)),
  ];
}
