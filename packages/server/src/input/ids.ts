/**
 * Ids in paths and query parameters: admin's resource ids (1 to 63 lowercase letters, digits
 * and hyphens, starting with a letter), checked before anything else happens so a hostile id
 * (`../../etc/passwd`, `%00`, a megabyte of text) is a 400 that names the parameter.
 */
import { invalid } from '../http/api-error.js';

const ID = /^[a-z][a-z0-9-]{0,62}$/;

export function resourceId(value: string | undefined, field: string, collection?: string): string {
  if (value === undefined || value === '') throw invalid(field, 'required');
  const id = collection !== undefined && value.startsWith(`${collection}/`) ? value.slice(collection.length + 1) : value;
  if (!ID.test(id)) {
    const shown = id.length > 70 ? `${JSON.stringify(id.slice(0, 70))}…` : JSON.stringify(id);
    throw invalid(field, `${shown} is not a valid id: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter`);
  }
  return id;
}
