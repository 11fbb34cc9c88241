/**
 * What ids and tags may look like. Ids are Confidence-style resource ids (lowercase
 * letters, digits and hyphens, at most 63 characters) so they fit in `segments/<id>` and in
 * URLs; they start with a letter, which also keeps their order as YAML map keys. Tags are
 * free words, except that `group:` is reserved for the tags exclusion groups put on their
 * members.
 */
import { AdminError } from '../errors.js';

const ID = /^[a-z][a-z0-9-]{0,62}$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}$/;
const GROUP_TAG_PREFIX = 'group:';

/** Whether `id` is a valid resource id. */
export function isValidId(id: string): boolean {
  return ID.test(id);
}

/** The problem with `id` as an id, or undefined when it is fine. A long id is shown cut. */
export function idProblem(id: string): string | undefined {
  if (ID.test(id)) return undefined;
  const shown = id.length > 70 ? `${JSON.stringify(id.slice(0, 70))}…` : JSON.stringify(id);
  return `${shown} is not a valid id: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter`;
}

export function checkId(id: string, path: string): string {
  const problem = idProblem(id);
  if (problem !== undefined) throw new AdminError('INVALID_ARGUMENT', problem, { path });
  return id;
}

/** The problem with `tag` as a user tag, or undefined. */
export function tagProblem(tag: string): string | undefined {
  if (TAG.test(tag)) return undefined;
  if (tag.startsWith(GROUP_TAG_PREFIX)) {
    return `${JSON.stringify(tag)}: tags starting with "${GROUP_TAG_PREFIX}" belong to exclusion groups; use "allot groups" to manage them`;
  }
  return `${JSON.stringify(tag)} is not a valid tag: use letters, digits and _ . - /, starting with a letter or digit`;
}

/** The coordination tag exclusion group `groupId` puts on its members. */
export function groupTag(groupId: string): string {
  return `${GROUP_TAG_PREFIX}${groupId}`;
}

export function isGroupTag(tag: string): boolean {
  return tag.startsWith(GROUP_TAG_PREFIX);
}

/** Sorted, without duplicates: tag lists are sets, stored canonically. */
export function canonicalTags(tags: readonly string[]): string[] {
  return [...new Set(tags)].sort();
}
