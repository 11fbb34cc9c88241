/**
 * A team's write token: `search=TOKEN:write(prefix=search-;family=search)` may create,
 * change and archive only segments, flags and groups whose id starts with `search-`, and
 * only segments whose coordination tags are all in the `search` family (`search` itself,
 * or `search` followed by `-`, `.`, `/` or `_`: `search-ranking`, `search/web`), so it
 * allocates only in that family's space. Reads stay account-wide.
 *
 * The check is made on what a write actually changes (every resource that differs before
 * and after, inside the store's write), not on what the request names, so no route, body
 * field or side effect (a group retagging its members) can reach past it. An exclusion
 * group's tag `group:ID` counts as in scope when the group's id is.
 */
import { ApiError } from '../http/api-error.js';
import type { ResourceChange } from '../audit/entry.js';
import { TokenConfigError, type Principal } from './tokens.js';

export interface WriteLimits {
  /** Resource ids must start with one of these (none given: any id). */
  readonly prefixes: readonly string[];
  /** Segment tags must be in one of these families (none given: any tag). */
  readonly families: readonly string[];
}

const PREFIX = /^[a-z][a-z0-9-]{0,62}$/;
const FAMILY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$/;

/** `prefix=search-;family=search` (`;`-separated; each key may repeat). */
export function parseLimits(text: string, where: string): WriteLimits {
  const prefixes: string[] = [];
  const families: string[] = [];
  for (const raw of text.split(';')) {
    const item = raw.trim();
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (key === 'prefix' && PREFIX.test(value)) prefixes.push(value);
    else if (key === 'family' && FAMILY.test(value)) families.push(value);
    else {
      throw new TokenConfigError(
        `${where}: a write limit must be prefix=ID-PREFIX (lowercase letters, digits, hyphens, starting with a letter) or family=TAG, separated by ";" — as in write(prefix=search-;family=search)`,
      );
    }
  }
  if (prefixes.length === 0 && families.length === 0) throw new TokenConfigError(`${where}: write() needs at least one prefix= or family= limit`);
  return { prefixes, families };
}

export function describeLimits(l: WriteLimits): string {
  return [...l.prefixes.map((p) => `prefix=${p}`), ...l.families.map((f) => `family=${f}`)].join(';');
}

function idAllowed(l: WriteLimits, id: string): boolean {
  return l.prefixes.length === 0 || l.prefixes.some((p) => id.startsWith(p));
}

function tagAllowed(l: WriteLimits, tag: string): boolean {
  if (tag.startsWith('group:')) return idAllowed(l, tag.slice('group:'.length));
  return l.families.length === 0 || l.families.some((f) => tag === f || (tag.startsWith(f) && '-./_'.includes(tag.charAt(f.length))));
}

function denied(p: Principal, l: WriteLimits, what: string): ApiError {
  const scope = [
    ...(l.prefixes.length > 0 ? [`resources whose id starts with ${l.prefixes.map((x) => `"${x}"`).join(' or ')}`] : []),
    ...(l.families.length > 0 ? [`segments tagged only within the famil${l.families.length > 1 ? 'ies' : 'y'} ${l.families.map((x) => `"${x}"`).join(', ')}`] : []),
  ].join(', and ');
  return new ApiError(403, 'PERMISSION_DENIED', `the token ${p.name} has the scope write(${describeLimits(l)}): it may change only ${scope}; ${what}. Nothing was changed; use a token whose scope covers it`, {
    field: 'authorization',
  });
}

/** Throws a 403 naming the scope when `id` (a path or query id of a write) is outside it. */
export function checkTargetId(p: Principal, collection: string, id: string): void {
  if (p.limits !== null && !idAllowed(p.limits, id)) throw denied(p, p.limits, `this request changes ${collection}/${id}`);
}

function tagsOf(representation: unknown): string[] {
  if (typeof representation !== 'object' || representation === null) return [];
  const allocation = (representation as { allocation?: { exclusivityTags?: unknown; exclusiveTo?: unknown } }).allocation;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : []);
  return [...list(allocation?.exclusivityTags), ...list(allocation?.exclusiveTo)];
}

/** Throws a 403 naming the scope when a changed resource, or a changed segment's tag, is outside it. */
export function checkChanges(p: Principal, changes: readonly ResourceChange[]): void {
  const l = p.limits;
  if (l === null) return;
  for (const c of changes) {
    const id = c.name.slice(c.name.indexOf('/') + 1);
    if (!idAllowed(l, id)) throw denied(p, l, `this change would touch ${c.name}`);
    if (!c.name.startsWith('segments/')) continue;
    const tag = [...tagsOf(c.before), ...tagsOf(c.after)].find((t) => !tagAllowed(l, t));
    if (tag !== undefined) throw denied(p, l, `this change would touch ${c.name}, tagged "${tag}"`);
  }
}
