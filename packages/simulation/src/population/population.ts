/**
 * Synthetic populations. A spec says how many units, their id shape and their attributes;
 * `Population.fill(i)` writes context i into one reused, fixed-shape context object, so that
 * generating ten million contexts allocates little more than their id strings.
 */
import type { AttributeSpec, Distribution, PopulationSpec } from '../types.js';
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


/**
 * Where the serial numbers of `sequential`, `email` and `numeric` ids start: 2^20 times the
 * seed folded to 32 bits, so every seed counts through its own stretch of numbers (seed 0
 * from 0) and two seeds share an id only if their starts fall within `units` of each other
 * (below 2^-20 for ten million units). The ids hash to new buckets, so a new seed is a new
 * population for every id shape, as it is for UUIDs (drawn from the seed).
 */
export function firstSerial(seed: number): number {
  return seed32(seed) * 2 ** 20;
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
    this.idField = spec.id.field;
    const prefix = spec.id.prefix;
    const first = firstSerial(spec.seed);
    switch (spec.id.shape) {
      case 'uuid':
        this.idOf = (_i, key) => uuidOf(key);
        break;
      case 'email':
        this.idOf = (i) => `${prefix}${first + i}@example.com`;
        break;
      case 'numeric':
        this.idOf = (i) => first + i + 1;
        break;
      case 'sequential':
        this.idOf = (i) => `${prefix}${first + i}`;
        break;
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
    return { holder, key, nameKey, missing: a.missing, draw: drawFor(a.distribution, nameKey) };
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
