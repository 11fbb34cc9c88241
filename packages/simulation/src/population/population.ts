/**
 * Synthetic populations. A spec says how many units, their id shape and their attributes;
 * `Population.fill(i)` writes context i into one reused, fixed-shape context object, so that
 * generating ten million contexts allocates little more than their id strings.
 */
import type { AttributeSpec, Distribution, PopulationSpec } from '../types.js';
import { propertyName } from '../property-name.js';
import { seed32, uniform, unitKey, word } from './random.js';

/** Mutable, reused context: the same object (and nested objects) for every unit. */
export type MutableContext = Record<string, unknown>;

interface Slot {
  /** Object holding the attribute (the context, or a nested object for dotted names). */
  readonly holder: MutableContext;
  readonly key: string;
  readonly nameKey: number;
  readonly missing: number;
  readonly draw: (key: number) => unknown;
}


function stringKey(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}


const SERIAL_BITS = 30;
const SERIAL_MASK = 2 ** SERIAL_BITS - 1;

/**
 * The serial number of unit `index` in `sequential`, `email` and `numeric` ids. Seed 0 counts
 * 0, 1, 2, …; any other seed maps the indices below 2^30 through a permutation of [0, 2^30)
 * keyed by the seed (xor, odd multiplications and xor-shifts modulo 2^30, each a bijection),
 * so every seed draws its own ids, distinct within a run, below 2^30 (small integers, quick
 * to format and hash). Indices from 2^30 on are their own serial numbers.
 */
export function serialOf(key: number, index: number): number {
  if (key === 0 || index > SERIAL_MASK) return index;
  let x = (index ^ key) & SERIAL_MASK;
  x = Math.imul(x, 0x2c1b3c6d) & SERIAL_MASK;
  x ^= x >>> 15;
  x = Math.imul(x, 0x297a2d39) & SERIAL_MASK;
  x ^= x >>> 13;
  x = (x + (key >>> 2)) & SERIAL_MASK;
  x = Math.imul(x, 0x5851f42d) & SERIAL_MASK;
  return x ^ (x >>> 16);
}

const UUID_CHARS = new Array<number>(36).fill(0);
const HEX_CODES: readonly number[] = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

function putHex(w: number, at: number, digits: number): void {
  for (let d = digits - 1; d >= 0; d--) {
    UUID_CHARS[at + d] = HEX_CODES[w & 15]!;
    w >>>= 4;
  }
}

/**
 * A version-4 UUID from four draws of the unit, built as one flat string (a concatenation
 * would be a rope, slower to hash).
 */
function uuidOf(key: number): string {
  const a = word(key, 0);
  const b = (word(key, 1) & 0xffff0fff) | 0x00004000;
  const c = (word(key, 2) & 0x0fffffff) | 0x80000000;
  const d = word(key, 3);
  putHex(a, 0, 8);
  UUID_CHARS[8] = 45;
  putHex(b >>> 16, 9, 4);
  UUID_CHARS[13] = 45;
  putHex(b & 0xffff, 14, 4);
  UUID_CHARS[18] = 45;
  putHex(c >>> 16, 19, 4);
  UUID_CHARS[23] = 45;
  putHex(c & 0xffff, 24, 4);
  putHex(d, 28, 8);
  return String.fromCharCode.apply(null, UUID_CHARS);
}

/** Character codes of the two-digit numbers 00..99, tens then ones. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

/**
 * `prefix` + the decimal digits of `n` + `suffix`, built as one flat string. A concatenation
 * of 13 characters or more is a rope, which every hash of the id would walk piece by piece.
 */
class SerialText {
  private readonly prefix: readonly number[];
  private readonly suffix: readonly number[];
  /** A reused buffer per total length (`fromCharCode.apply` reads the whole array). */
  private readonly buffers: (number[] | undefined)[] = [];

  constructor(
    private readonly prefixText: string,
    private readonly suffixText: string,
  ) {
    const prefix = prefixText;
    const suffix = suffixText;
    this.prefix = Array.from(prefix, (c) => c.charCodeAt(0));
    this.suffix = Array.from(suffix, (c) => c.charCodeAt(0));
  }

  of(n: number): string {
    const p = this.prefix.length;
    // V8 makes shorter concatenations flat strings, faster than copying codes; so are the
    // serial numbers from 2^31 on (runs of more than 2^30 units), which the integer digit loop cannot take.
    if (n > 0x7fffffff) return `${this.prefixText}${n}${this.suffixText}`;
    const length = p + digitCount(n) + this.suffix.length;
    if (length < 13) return `${this.prefixText}${n}${this.suffixText}`;
    let buffer = this.buffers[length];
    if (buffer === undefined) {
      // The prefix and suffix stay in place: only the digits change.
      buffer = [...this.prefix, ...new Array<number>(length - p - this.suffix.length).fill(48), ...this.suffix];
      this.buffers[length] = buffer;
    }
    // Two digits per division (a division costs more than the table read).
    let x = n;
    let d = length - this.suffix.length - 1;
    for (; d > p; d -= 2) {
      const q = (x / 100) | 0;
      const pair = (x - q * 100) << 1;
      buffer[d] = DIGIT_PAIRS[pair + 1]!;
      buffer[d - 1] = DIGIT_PAIRS[pair]!;
      x = q;
    }
    if (d === p) buffer[d] = 48 + x;
    return String.fromCharCode.apply(null, buffer);
  }
}

/** 10^k for k in [0, 9]. */
const POWERS_OF_TEN = Int32Array.from({ length: 10 }, (_, k) => 10 ** k);

/**
 * Decimal digits of an integer in [0, 2^31), without branches: the bit length gives the
 * digit count or one more (bits · log10(2) ≈ bits · 1233 / 4096), and one comparison with a
 * power of ten decides. Comparisons by magnitude would leave branches that random serial
 * numbers take once in ten thousand units or less, and V8 throws compiled code away the
 * first time such a branch runs.
 */
function digitCount(n: number): number {
  const m = n | 1; // as many digits, and never 0
  const t = ((32 - Math.clz32(m)) * 1233) >>> 12;
  // 1 when m < 10^t (the estimate is one too many): the sign bit of m − 10^t.
  return t + 1 - ((m - POWERS_OF_TEN[t]!) >>> 31);
}

function pick(weights: Float64Array, u: number): number {
  for (let i = 0; i < weights.length - 1; i++) if (u < weights[i]!) return i;
  return weights.length - 1;
}

function drawFor(d: Distribution, nameKey: number): (key: number) => unknown {
  switch (d.kind) {
    case 'categorical': {
      const total = d.weights.reduce((a, b) => a + b, 0);
      const cumulative = new Float64Array(d.weights.length);
      let acc = 0;
      d.weights.forEach((w, i) => (cumulative[i] = acc += w / total));
      const values = d.values;
      return (key) => values[pick(cumulative, uniform(key ^ nameKey, 1))];
    }
    case 'uniform': {
      const { min, max, integer } = d;
      if (integer) return (key) => min + Math.floor(uniform(key ^ nameKey, 1) * (max - min + 1));
      return (key) => min + uniform(key ^ nameKey, 1) * (max - min);
    }
    case 'normal': {
      const { mean, sd, integer } = d;
      return (key) => {
        // Box-Muller over two draws; 1 - u keeps the logarithm finite.
        const r = Math.sqrt(-2 * Math.log(1 - uniform(key ^ nameKey, 1)));
        const x = mean + sd * r * Math.cos(2 * Math.PI * uniform(key ^ nameKey, 2));
        return integer ? Math.round(x) : x;
      };
    }
    case 'boolean': {
      const p = d.p;
      return (key) => uniform(key ^ nameKey, 1) < p;
    }
    case 'version': {
      const [m0, m1] = d.major;
      const [n0, n1] = d.minor;
      const [p0, p1] = d.patch;
      const between = (u: number, lo: number, hi: number): number => lo + Math.floor(u * (hi - lo + 1));
      return (key) =>
        `${between(uniform(key ^ nameKey, 1), m0, m1)}.${between(uniform(key ^ nameKey, 2), n0, n1)}.${between(uniform(key ^ nameKey, 3), p0, p1)}`;
    }
    case 'timestamp': {
      const { from, to, format } = d;
      return (key) => {
        const ms = Math.floor(from + uniform(key ^ nameKey, 1) * (to - from));
        if (format === 'millis') return ms;
        if (format === 'seconds') return Math.floor(ms / 1000);
        return new Date(ms).toISOString();
      };
    }
    case 'list': {
      // One reused array per attribute: the resolver only reads it during the resolve.
      const list: string[] = [];
      const { values, p } = d;
      return (key) => {
        list.length = 0;
        for (let i = 0; i < values.length; i++) if (uniform(key ^ nameKey, i + 1) < p[i]!) list.push(values[i]!);
        return list;
      };
    }
    case 'constant': {
      const value = d.value;
      return () => value;
    }
  }
}

export class Population {
  readonly spec: PopulationSpec;
  /** The context of the last `fill`; the same object every time. */
  readonly context: MutableContext = {};
  private readonly seed: number;
  private readonly slots: readonly Slot[];
  private readonly idField: string;
  private readonly idOf: (index: number, key: number) => string | number;

  constructor(spec: PopulationSpec) {
    this.spec = spec;
    this.seed = seed32(spec.seed);
    this.idField = propertyName(spec.id.field);
    const prefix = spec.id.prefix;
    // Seed 0 keeps the plain counting order; others are folded to a non-zero permutation key.
    const serialKey = spec.seed === 0 ? 0 : seed32(spec.seed) | 1;
    switch (spec.id.shape) {
      case 'uuid':
        this.idOf = (_i, key) => uuidOf(key);
        break;
      case 'email': {
        const text = new SerialText(prefix, '@example.com');
        this.idOf = (i) => text.of(serialOf(serialKey, i));
        break;
      }
      case 'numeric':
        this.idOf = (i) => serialOf(serialKey, i) + 1;
        break;
      case 'sequential': {
        const text = new SerialText(prefix, '');
        this.idOf = (i) => text.of(serialOf(serialKey, i));
        break;
      }
    }
    this.context[this.idField] = '';
    this.slots = spec.attributes.map((a) => this.slotFor(a));
  }

  private slotFor(a: AttributeSpec): Slot {
    const parts = a.name.split('.');
    let holder = this.context;
    for (const part of parts.slice(0, -1)) {
      const next = holder[part];
      if (typeof next === 'object' && next !== null) holder = next as MutableContext;
      else holder = holder[part] = {};
    }
    const key = parts[parts.length - 1]!;
    holder[key] = undefined;
    const nameKey = stringKey(a.name);
    return { holder, key: propertyName(key), nameKey, missing: a.missing, draw: drawFor(a.distribution, nameKey) };
  }

  /** The id (randomization unit) of unit `index`. */
  idAt(index: number): string | number {
    return this.idOf(index, unitKey(this.seed, index));
  }

  /**
   * Writes unit `index` into `context` and returns its id. `id` may be given when it is
   * known already (`idAt(index)` of a population with the same id spec).
   */
  fill(index: number, id?: string | number): string | number {
    const key = unitKey(this.seed, index);
    if (id === undefined) id = this.idOf(index, key);
    const ctx = this.context;
    ctx[this.idField] = id;
    const slots = this.slots;
    for (let s = 0; s < slots.length; s++) {
      const slot = slots[s]!;
      slot.holder[slot.key] =
        slot.missing > 0 && uniform(key ^ slot.nameKey, 0) < slot.missing ? undefined : slot.draw(key);
    }
    return id;
  }
}

/** A population spec with some attributes replaced (a timeline step that changes the audience). */
export function withAttributes(spec: PopulationSpec, overrides: readonly AttributeSpec[]): PopulationSpec {
  if (overrides.length === 0) return spec;
  const byName = new Map(overrides.map((a) => [a.name, a]));
  const attributes = spec.attributes.map((a) => byName.get(a.name) ?? a);
  for (const o of overrides) if (!spec.attributes.some((a) => a.name === o.name)) attributes.push(o);
  return { ...spec, attributes };
}
