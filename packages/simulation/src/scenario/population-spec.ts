/** The `population` section of a scenario, parsed into a PopulationSpec. */
import type { AttributeSpec, Distribution, IdShape, PopulationSpec } from '../types.js';
import { ScenarioError } from './errors.js';

type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function num(v: unknown, path: string, min: number = -Infinity, max: number = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ScenarioError(path, `expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function pair(v: unknown, path: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) throw new ScenarioError(path, 'expected [low, high]');
  return [num(v[0], `${path}[0]`), num(v[1], `${path}[1]`)];
}

function time(v: unknown, path: string): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : NaN;
  if (Number.isNaN(t)) throw new ScenarioError(path, `expected an ISO 8601 date or epoch milliseconds, got ${JSON.stringify(v)}`);
  return t;
}

const KINDS = ['categorical', 'uniform', 'normal', 'boolean', 'version', 'timestamp', 'list', 'constant'];

function distribution(raw: Json, path: string): Distribution {
  const kinds = Object.keys(raw).filter((k) => KINDS.includes(k));
  if (kinds.length !== 1) throw new ScenarioError(path, `expected exactly one of ${KINDS.join(', ')}`);
  const kind = kinds[0]!;
  const v = raw[kind];
  const p = `${path}.${kind}`;
  switch (kind) {
    case 'categorical': {
      if (!isObject(v) || Object.keys(v).length === 0) throw new ScenarioError(p, 'expected a map of value: weight');
      const values = Object.keys(v);
      return { kind, values, weights: values.map((k) => num(v[k], `${p}.${k}`, 0)) };
    }
    case 'uniform': {
      const [min, max] = pair(v, p);
      return { kind, min, max, integer: raw.integer === true };
    }
    case 'normal': {
      if (!isObject(v)) throw new ScenarioError(p, 'expected {mean, sd}');
      return { kind, mean: num(v.mean, `${p}.mean`), sd: num(v.sd, `${p}.sd`, 0), integer: raw.integer === true };
    }
    case 'boolean':
      return { kind, p: num(v, p, 0, 1) };
    case 'version': {
      if (!isObject(v)) throw new ScenarioError(p, 'expected {major: [lo, hi], minor: [lo, hi], patch: [lo, hi]}');
      return { kind, major: pair(v.major, `${p}.major`), minor: pair(v.minor ?? [0, 0], `${p}.minor`), patch: pair(v.patch ?? [0, 0], `${p}.patch`) };
    }
    case 'timestamp': {
      if (!isObject(v)) throw new ScenarioError(p, 'expected {from, to, format}');
      const format = v.format ?? 'iso';
      if (format !== 'iso' && format !== 'seconds' && format !== 'millis') throw new ScenarioError(`${p}.format`, 'expected iso, seconds or millis');
      return { kind, from: time(v.from, `${p}.from`), to: time(v.to, `${p}.to`), format };
    }
    case 'list': {
      if (!isObject(v)) throw new ScenarioError(p, 'expected a map of value: probability of being in the list');
      const values = Object.keys(v);
      return { kind, values, p: values.map((k) => num(v[k], `${p}.${k}`, 0, 1)) };
    }
    default: {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ScenarioError(p, 'expected a string, number or boolean');
      return { kind: 'constant', value: v };
    }
  }
}

export function attributes(raw: unknown, path: string): AttributeSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!isObject(raw)) throw new ScenarioError(path, 'expected a map of attribute name: distribution');
  return Object.entries(raw).map(([name, spec]) => {
    const p = `${path}.${name}`;
    if (!isObject(spec)) throw new ScenarioError(p, 'expected a distribution such as {categorical: {SE: 1, US: 2}}');
    return { name, distribution: distribution(spec, p), missing: spec.missing === undefined ? 0 : num(spec.missing, `${p}.missing`, 0, 1) };
  });
}

const SHAPES: readonly IdShape[] = ['uuid', 'sequential', 'email', 'numeric'];

export function populationSpec(raw: unknown, path: string): PopulationSpec {
  if (!isObject(raw)) throw new ScenarioError(path, 'expected {units, seed, id, attributes}');
  const id = isObject(raw.id) ? raw.id : { shape: raw.id ?? 'uuid' };
  const shape = id.shape ?? 'uuid';
  if (!SHAPES.includes(shape as IdShape)) throw new ScenarioError(`${path}.id.shape`, `expected one of ${SHAPES.join(', ')}`);
  return {
    units: num(raw.units ?? 100_000, `${path}.units`, 1, Number.MAX_SAFE_INTEGER),
    seed: num(raw.seed ?? 1, `${path}.seed`, 0, Number.MAX_SAFE_INTEGER),
    id: { shape: shape as IdShape, field: typeof id.field === 'string' ? id.field : 'targeting_key', prefix: typeof id.prefix === 'string' ? id.prefix : 'user-' },
    attributes: attributes(raw.attributes, `${path}.attributes`),
  };
}
