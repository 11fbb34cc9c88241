/**
 * Canonical JSON, the bytes an audit entry's hash is taken over: RFC 8785 (the JSON
 * Canonicalization Scheme). Object keys sorted by their UTF-16 code units (JavaScript's
 * default sort), no whitespace, strings and numbers written as `JSON.stringify` writes them
 * (ECMAScript's shortest round-trip numbers), keys whose value is `undefined` left out, and
 * the text hashed as UTF-8. Any program that follows RFC 8785 recomputes the same hash.
 */

/** The canonical JSON text of `value`; throws on what JSON cannot hold (NaN, Infinity, functions, cycles). */
export function canonicalJson(value: unknown): string {
  return write(value, new Set(), '');
}

function write(value: unknown, open: Set<object>, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${path || 'the value'} is ${String(value)}, which JSON cannot hold`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON: ${path || 'the value'} is a ${typeof value}, which JSON cannot hold`);
  }
  if (open.has(value)) throw new TypeError(`canonical JSON: ${path || 'the value'} refers to itself`);
  open.add(value);
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((item, i) => write(item === undefined ? null : item, open, `${path}[${i}]`)).join(',')}]`;
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
    text = `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], open, path === '' ? k : `${path}.${k}`)}`).join(',')}}`;
  }
  open.delete(value);
  return text;
}
