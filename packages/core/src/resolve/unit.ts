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

/** A UTF-16 unit that takes three bytes of UTF-8 (U+0800 and up, surrogates included). */
// eslint-disable-next-line no-control-regex -- a range of code units that starts at U+0000
const THREE_BYTES = /[^\u0000-\u07ff]/;
/** A UTF-16 unit that takes more than one byte. */
// eslint-disable-next-line no-control-regex -- likewise
const NOT_ASCII = /[^\u0000-\u007f]/;

/**
 * Whether `unit` is at most MAX_UNIT_LENGTH bytes of UTF-8 (a lone surrogate counts as U+FFFD,
 * three bytes; a surrogate pair is four bytes, two per UTF-16 unit). The regular expressions
 * answer the common cases (a UUID: 36 units, at most two bytes each) faster than counting.
 */
export function fitsUnit(unit: string): boolean {
  const n = unit.length;
  if (n > MAX_UNIT_LENGTH) return false; // every UTF-16 unit is at least one byte
  if (n * 3 <= MAX_UNIT_LENGTH) return true; // every UTF-16 unit is at most three bytes
  if (n * 2 <= MAX_UNIT_LENGTH ? !THREE_BYTES.test(unit) : !NOT_ASCII.test(unit)) return true;
  return Buffer.byteLength(unit, 'utf8') <= MAX_UNIT_LENGTH;
}
