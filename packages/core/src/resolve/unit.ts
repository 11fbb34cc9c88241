/**
 * The randomization unit of a rule: the context field its selector names. A string is the
 * unit; a finite integral number is the unit written in full decimal without a fraction
 * (`1e21` is `1000000000000000000000`, `-0` is `-0`); null or missing is no unit; anything
 * else (a fraction, a boolean, an object, a list, or a unit longer than 100 bytes of UTF-8) is
 * a targeting-key error.
 */
import { MAX_UNIT_LENGTH } from '../hash/bucket.js';

/** The unit, `null` for none, or `undefined` for a targeting-key error. */
export function unitOf(value: unknown): string | null | undefined {
  if (typeof value === 'string') return fitsUnit(value) ? value : undefined;
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (Number.isSafeInteger(value)) return value === 0 && Object.is(value, -0) ? '-0' : String(value);
    const text = BigInt(value).toString();
    return text.length <= MAX_UNIT_LENGTH ? text : undefined;
  }
  return undefined;
}

/** Whether `unit` is at most MAX_UNIT_LENGTH bytes of UTF-8 (a lone surrogate counts as U+FFFD). */
export function fitsUnit(unit: string): boolean {
  const n = unit.length;
  if (n > MAX_UNIT_LENGTH) return false; // every UTF-16 unit is at least one byte
  if (n * 3 <= MAX_UNIT_LENGTH) return true; // every UTF-16 unit is at most three bytes
  return Buffer.byteLength(unit, 'utf8') <= MAX_UNIT_LENGTH;
}
