/**
 * Reading request bodies into typed values, field by field. Every reader names the field in
 * its error (`allocation.exclusivityTags[1]: expected a string, got a number`); objects are
 * read with the list of fields they may have, so an unknown field is an error, not ignored.
 */
import { invalid } from '../http/api-error.js';

export type JsonObject = Readonly<Record<string, unknown>>;

/** `value` described for an error message: `a number (3)`, `an array`, `null`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
    case 'number':
      return `a number (${value})`;
    case 'boolean':
      return `a boolean (${value})`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an object whose keys are all in `allowed`. */
export function readObject(value: unknown, field: string, allowed: readonly string[]): JsonObject {
  if (!isObject(value)) throw invalid(field || 'body', `expected an object, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const where = join(field, key);
      throw invalid(where, `unknown field; ${allowed.length === 0 ? 'no fields are accepted here' : `expected ${allowed.join(', ')}`}`);
    }
  }
  return value;
}

export function join(field: string, key: string): string {
  return field === '' ? key : `${field}.${key}`;
}

export function optionalString(obj: JsonObject, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(join(field, key), `expected a string, got ${describe(v)}`);
  return v;
}

export function requiredString(obj: JsonObject, key: string, field: string): string {
  const v = optionalString(obj, key, field);
  if (v === undefined) throw invalid(join(field, key), 'required');
  return v;
}

export function optionalBoolean(obj: JsonObject, key: string, field: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(join(field, key), `expected true or false, got ${describe(v)}`);
  return v;
}

export function optionalInteger(obj: JsonObject, key: string, field: string): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(join(field, key), `expected a whole number, got ${describe(v)}`);
  return v;
}

export function optionalStringList(obj: JsonObject, key: string, field: string): string[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  const at = join(field, key);
  if (!Array.isArray(v)) throw invalid(at, `expected a list of strings, got ${describe(v)}`);
  return v.map((item: unknown, i) => {
    if (typeof item !== 'string') throw invalid(`${at}[${i}]`, `expected a string, got ${describe(item)}`);
    return item;
  });
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A decimal as Confidence writes it (`{"value": "0.1"}`, google.type.Decimal), or as a bare
 * decimal string (`"0.1"`) or JSON number (`0.1`).
 */
export function optionalDecimal(obj: JsonObject, key: string, field: string): number | undefined {
  let v = obj[key];
  if (v === undefined) return undefined;
  let at = join(field, key);
  if (isObject(v)) {
    const decimal = readObject(v, at, ['value']);
    at = join(at, 'value');
    v = decimal.value;
    if (v === undefined) throw invalid(at, 'required: the decimal as a string, e.g. "0.1"');
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && DECIMAL.test(v.trim())) return Number(v.trim());
  throw invalid(at, `expected a decimal such as "0.1", got ${describe(v)}`);
}

/** `{"control": 1, "treatment": 1}` as weights in document order. */
export function optionalWeights(obj: JsonObject, key: string, field: string): { variant: string; weight: number }[] | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  const at = join(field, key);
  if (!isObject(v)) throw invalid(at, `expected an object of variant weights such as {"control": 1, "treatment": 1}, got ${describe(v)}`);
  return Object.entries(v).map(([variant, weight]) => {
    if (typeof weight !== 'number' || !Number.isSafeInteger(weight) || weight <= 0) {
      throw invalid(join(at, variant), `expected a positive whole-number weight, got ${describe(weight)}`);
    }
    return { variant, weight };
  });
}

/** A short id from `id` or its resource name (`segments/id` with `collection` = `segments`). */
export function shortName(value: string, collection: string): string {
  const prefix = `${collection}/`;
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}
