/**
 * Typed values of targeting, read the way Confidence's resolver reads them: timestamps (RFC 3339
 * / ISO 8601 text, or epoch numbers), semantic versions, numbers written in text and numbers
 * written as text. Rule values are parsed once at load; context values per evaluation, without
 * allocating (results go through small scratch arrays).
 */

/** The last timestamp parsed: [seconds since the epoch, nanoseconds within that second]. */
export const TS: Float64Array = new Float64Array(2);

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** Seconds since the epoch of the earliest and latest instants a timestamp may name (±262143 years). */
const MIN_SECONDS = -8_334_601_228_800;
const MAX_SECONDS = 8_210_266_876_799;

/** Date with an offset: `YYYY-MM-DD(T| )HH:MM:SS[.fraction](Z|±HH:MM)`. */
const ZONED = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
/** Date and time without an offset (read as UTC); one- or two-digit fields. */
const NAIVE = /^([+-]\d+|\d{1,4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?$/;
/** A date alone: midnight UTC. */
const DATE = /^([+-]\d+|\d{1,4})-(\d{1,2})-(\d{1,2})$/;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Seconds since the epoch of a UTC date and time, or NaN when a field is out of range. */
function utcSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return NaN;
  if (day > DAYS_IN_MONTH[month - 1]! || (month === 2 && day === 29 && !isLeap(year))) return NaN;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const seconds = date.getTime() / 1000;
  return seconds >= MIN_SECONDS && seconds <= MAX_SECONDS ? seconds : NaN;
}

/** Nanoseconds of a fraction's digits (truncated past 9). */
function nanosOf(digits: string | undefined): number {
  if (digits === undefined) return 0;
  return Number(digits.length >= 9 ? digits.slice(0, 9) : digits.padEnd(9, '0'));
}

/**
 * Parses a timestamp into `TS`; returns false when `text` is not one. Accepted, as
 * Confidence's resolver accepts them: RFC 3339 with `Z` or an offset (`T` or a space between
 * date and time, any number of fraction digits), `YYYY-MM-DD[T ]HH:MM:SS[.f]` as UTC (fields
 * may have one digit), and `YYYY-MM-DD` as midnight UTC.
 */
export function parseTimestampInto(text: string): boolean {
  let seconds = NaN;
  let nanos = 0;
  const t = text.indexOf('T');
  const s = text.indexOf(' ');
  if (t === -1 && s === -1) {
    const m = DATE.exec(text);
    if (m !== null) seconds = utcSeconds(Number(m[1]), Number(m[2]), Number(m[3]), 0, 0, 0);
  } else {
    // The part after the first separator decides: with a zone (Z, + or -) it is RFC 3339.
    const first = t === -1 ? s : s === -1 ? t : Math.min(t, s);
    const rest = text.slice(first + 1);
    const cut = rest.search(/[T ]/);
    const timePart = cut === -1 ? rest : rest.slice(0, cut);
    if (/[Z+-]/.test(timePart)) {
      const m = ZONED.exec(text);
      if (m !== null) {
        // RFC 3339 allows a leap second (:60), which Confidence folds into the next second.
        const leap = m[6] === '60' ? 1 : 0;
        seconds = utcSeconds(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]) - leap) + leap;
        nanos = nanosOf(m[7]);
        if (m[8] !== undefined) {
          const hours = Number(m[9]);
          const minutes = Number(m[10]);
          if (hours > 23 || minutes > 59) return false;
          seconds -= (m[8] === '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
        }
      }
    } else {
      const m = NAIVE.exec(text);
      if (m !== null) {
        seconds = utcSeconds(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
        nanos = nanosOf(m[7]);
      }
    }
  }
  if (Number.isNaN(seconds)) return false;
  TS[0] = seconds;
  TS[1] = nanos;
  return true;
}

/**
 * An epoch number as a timestamp into `TS`, truncated toward zero: |value| ≥ 1e12 is
 * milliseconds, smaller is seconds (Confidence's rule). False when it names no representable
 * instant.
 */
export function epochInto(value: number): boolean {
  if (!Number.isFinite(value)) return false;
  const whole = Math.trunc(value);
  let seconds: number;
  let nanos = 0;
  if (Math.abs(whole) >= 1e12) {
    seconds = Math.floor(whole / 1000);
    nanos = (whole - seconds * 1000) * 1e6;
  } else {
    seconds = whole;
  }
  if (!(seconds >= MIN_SECONDS && seconds <= MAX_SECONDS)) return false;
  TS[0] = seconds;
  TS[1] = nanos;
  return true;
}

/** Milliseconds since the epoch of a timestamp text, or NaN (for callers that validate input). */
export function parseTimestamp(text: string): number {
  return parseTimestampInto(text) ? TS[0]! * 1000 + TS[1]! / 1e6 : NaN;
}

/**
 * A semantic version as Confidence orders it: 2 to 4 dot-separated parts of digits only (at
 * most 10 digits each), anything after the first `-` ignored; `MAJOR.MINOR.N` with N longer
 * than 3 digits is a build tag, not a patch. `v5`, `1`, `1.2.3+b` and `2027-07-11` are not
 * versions.
 */
export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly tag: number;
}

/** The last version parsed: [major, minor, patch, tag]. */
const VER = new Float64Array(4);

function parseVersionInto(text: string): boolean {
  const dash = text.indexOf('-');
  const core = dash === -1 ? text : text.slice(0, dash);
  const parts = core.split('.');
  if (parts.length < 2 || parts.length > 4) return false;
  for (const p of parts) if (!/^\d{1,10}$/.test(p)) return false;
  VER[0] = Number(parts[0]);
  VER[1] = Number(parts[1]);
  VER[2] = 0;
  VER[3] = 0;
  if (parts.length === 3) {
    if (parts[2]!.length > 3) VER[3] = Number(parts[2]);
    else VER[2] = Number(parts[2]);
  } else if (parts.length === 4) {
    VER[2] = Number(parts[2]);
    VER[3] = Number(parts[3]);
  }
  return true;
}

export function parseVersion(text: string): Version | null {
  if (!parseVersionInto(text)) return null;
  return { major: VER[0]!, minor: VER[1]!, patch: VER[2]!, tag: VER[3]! };
}

/** Version order: negative, zero or positive. */
export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.tag - b.tag;
}

/**
 * A context text compared with a version bound: negative, zero or positive. Text that is not
 * a version orders as 0.0.0 (Confidence's rule), so it is below every version but 0.0.0.
 */
export function compareVersionText(text: string, bound: Version): number {
  if (!parseVersionInto(text)) {
    VER[0] = 0;
    VER[1] = 0;
    VER[2] = 0;
    VER[3] = 0;
  }
  return VER[0]! - bound.major || VER[1]! - bound.minor || VER[2]! - bound.patch || VER[3]! - bound.tag;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

/**
 * A string compared with a number criterion, read as a number as Confidence reads it (decimal
 * or exponent notation, an optional sign, `inf`, `nan`), or undefined when it is not a number
 * (`"abc"`, `""`, `" 1"`, `"0x12"`).
 */
export function numberFromText(text: string): number | undefined {
  if (DECIMAL.test(text)) return Number(text);
  if (SPECIAL.test(text)) {
    if (/nan/i.test(text)) return NaN;
    return text.startsWith('-') ? -Infinity : Infinity;
  }
  return undefined;
}

/**
 * A number compared with a text criterion, written as Confidence writes it: in full decimal,
 * never in exponent notation (`1e21` is `1000000000000000000000`, `1e-7` is `0.0000001`, `-0`
 * is `-0`), with the shortest digits that read back as the same number.
 */
export function numberText(value: number): string {
  if (Object.is(value, -0)) return '-0';
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'inf' : '-inf';
  const plain = String(value);
  if (!plain.includes('e')) return plain;
  const sign = value < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const point = Number(exp) + 1; // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * Text as Confidence reads it: UTF-8, in which a lone surrogate (half of a UTF-16 pair, which
 * UTF-8 cannot write) is U+FFFD, as every encoder on the way to Confidence writes it. The
 * string itself when it is well formed (no allocation).
 */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

/** The code point of `s` at UTF-16 index `i`: a whole pair's, or U+FFFD for a lone surrogate. */
function scalarAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdfff) return c;
  if (c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return 0xfffd;
}

/**
 * Orders two strings by their UTF-8 bytes, as Confidence compares text: code point order, a
 * lone surrogate read as U+FFFD (so it sorts below U+FFFF and every astral code point, and
 * equal to U+FFFD).
 */
export function compareUtf8(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.charCodeAt(i);
    if (x === b.charCodeAt(j) && (x < 0xd800 || x > 0xdfff)) {
      i++;
      j++;
      continue;
    }
    // Below the surrogates UTF-16 order is code point order; past them it is not (an astral
    // code point sorts above U+E000..U+FFFF), so surrogates are read as whole code points.
    const cx = scalarAt(a, i);
    const cy = scalarAt(b, j);
    if (cx !== cy) return cx - cy;
    i += cx > 0xffff ? 2 : 1;
    j += cy > 0xffff ? 2 : 1;
  }
  return (i < a.length ? 1 : 0) - (j < b.length ? 1 : 0);
}
