/**
 * The randomization unit of a rule: the context field its selector names. A string is the
 * unit; a finite integral number is the unit written without decimals; null or missing is no
 * unit; anything else (a fraction, a boolean, an object, a list, or more than 100 UTF-16
 * units) is a targeting-key error.
 */
import { MAX_UNIT_LENGTH } from '../hash/bucket.js';

/** The unit, `null` for none, or `undefined` for a targeting-key error. */
export function unitOf(value: unknown): string | null | undefined {
  if (typeof value === 'string') return value.length <= MAX_UNIT_LENGTH ? value : undefined;
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isInteger(value)) {
    const text = Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
    return text.length <= MAX_UNIT_LENGTH ? text : undefined;
  }
  return undefined;
}
