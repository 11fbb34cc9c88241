/**
 * How the reference reads context values as a criterion's type, written apart from core's
 * readers: numbers written as text and text written from numbers, epoch numbers and
 * timestamp text as (seconds, nanoseconds), text order by code point (UTF-8 byte order), unit
 * length in UTF-8 bytes. Only `parseTimestamp` (text → epoch milliseconds, the formats
 * Confidence accepts) and `parseVersion` / `compareVersions` are borrowed from core; the
 * nanoseconds a millisecond float cannot hold are read back from the text here.
 */
import { parseTimestamp } from '@allot/core';

/** The earliest and latest seconds a timestamp may name: years -262143 to 262142 (protobuf's chrono range). */
const MIN_SECONDS = Date.UTC(-262143, 0, 1) / 1000;
const MAX_SECONDS = Date.UTC(262142, 11, 31, 23, 59, 59) / 1000;

/** The last timestamp read: seconds, nanoseconds. Module scratch, so reading allocates nothing. */
export const instant = { seconds: 0, nanos: 0 };

/** An epoch number into `instant`: truncated; |n| ≥ 1e12 is milliseconds, smaller is seconds. */
export function readEpoch(n: number): boolean {
  if (!Number.isFinite(n)) return false;
  const whole = Math.trunc(n);
  let seconds = whole;
  let nanos = 0;
  if (Math.abs(whole) >= 1e12) {
    const ms = whole % 1000; // sign of the dividend
    seconds = (whole - ms) / 1000;
    nanos = ms * 1e6;
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
  }
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return false;
  instant.seconds = seconds;
  instant.nanos = nanos;
  return true;
}

const FRACTION = /:\d{1,2}\.(\d+)/;

/** Timestamp text into `instant`. */
export function readTimestampText(text: string): boolean {
  const ms = parseTimestamp(text);
  if (Number.isNaN(ms)) return false;
  const digits = FRACTION.exec(text)?.[1] ?? '';
  const nanos = digits === '' ? 0 : Number(digits.slice(0, 9).padEnd(9, '0'));
  instant.seconds = Math.round((ms - nanos / 1e6) / 1000);
  instant.nanos = nanos;
  return true;
}

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INFINITE_TEXT = /^[+-]?inf(inity)?$/i;
const NAN_TEXT = /^[+-]?nan$/i;

/** Text read as a number for a number criterion, or undefined when it is no number. */
export function numberOfText(text: string): number | undefined {
  if (NUMBER_TEXT.test(text)) return Number(text);
  if (INFINITE_TEXT.test(text)) return text.charCodeAt(0) === 45 /* - */ ? -Infinity : Infinity;
  if (NAN_TEXT.test(text)) return NaN;
  return undefined;
}

/** A number read as text for a text criterion: full decimal, never exponent notation. */
export function textOfNumber(n: number): string {
  if (n === 0) return 1 / n < 0 ? '-0' : '0';
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  const plain = String(n);
  const e = plain.indexOf('e');
  if (e === -1) return plain;
  // "d.ddde±x": move the point by x.
  const negative = plain.startsWith('-');
  const mantissa = plain.slice(negative ? 1 : 0, e);
  const exponent = Number(plain.slice(e + 1));
  const point = mantissa.indexOf('.');
  const digits = point === -1 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  const intDigits = (point === -1 ? mantissa.length : point) + exponent;
  let out: string;
  if (intDigits <= 0) out = '0.' + '0'.repeat(-intDigits) + digits;
  else if (intDigits >= digits.length) out = digits + '0'.repeat(intDigits - digits.length);
  else out = digits.slice(0, intDigits) + '.' + digits.slice(intDigits);
  return negative ? '-' + out : out;
}

/** Orders two texts by code point, which is UTF-8 byte order: negative, zero or positive. */
export function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
    // A lone surrogate is written to UTF-8 as U+FFFD.
    const cx = x >= 0xd800 && x <= 0xdfff ? 0xfffd : x;
    const cy = y >= 0xd800 && y <= 0xdfff ? 0xfffd : y;
    if (cx !== cy) return cx - cy;
  }
  return (a.length - i) - (b.length - j);
}

/** UTF-8 length of a text (a lone surrogate is U+FFFD, three bytes). */
export function utf8Length(text: string): number {
  // Counted in place (units are short): cheaper than a call into Buffer per unit.
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one astral code point
      i++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate as U+FFFD
  }
  return bytes;
}
