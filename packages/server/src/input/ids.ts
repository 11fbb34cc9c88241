/**
 * Ids in paths and query parameters: admin's resource ids (1 to 63 lowercase letters, digits
 * and hyphens, starting with a letter), checked before anything else happens so a hostile id
 * (`../../etc/passwd`, `%00`, a megabyte of text) is a 400 that names the parameter.
 */
import { idProblem } from '@allot/admin';

import { invalid } from '../http/api-error.js';

export function resourceId(value: string | undefined, field: string, collection?: string): string {
  if (value === undefined || value === '') throw invalid(field, 'required');
  const id = collection !== undefined && value.startsWith(`${collection}/`) ? value.slice(collection.length + 1) : value;
  const problem = idProblem(id);
  if (problem !== undefined) throw invalid(field, problem);
  return id;
}
