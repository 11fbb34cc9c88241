/**
 * Canonical JSON, the bytes an audit entry's hash is taken over: RFC 8785 (the JSON
 * Canonicalization Scheme). Object keys sorted by their UTF-16 code units (JavaScript's
 * default sort), no whitespace, strings and numbers written as `JSON.stringify` writes them
 * (ECMAScript's shortest round-trip numbers), keys whose value is `undefined` left out, and
 * the text hashed as UTF-8. Any program that follows RFC 8785 recomputes the same hash.
 */

const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

/** The canonical JSON text of `value`; throws on what JSON cannot hold (NaN, Infinity, functions, cycles). */
export function canonicalJson(value: unknown): string {
  // Fast path: JSON.stringify over copies of the objects with their keys inserted in sorted
  // order. JavaScript puts integer-like keys ("10", "9") first in numeric order whatever the
  // insertion order, which is not code-unit order, so objects with such keys take the
  // slow path, which writes every key itself.
  const state = { sortable: true };
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (!state.sortable) return v;
    if (typeof v === 'number' && !Number.isFinite(v)) state.sortable = false;
    else if (typeof v === 'function' || typeof v === 'symbol') state.sortable = false;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const record = v as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      if (keys.some((k) => ARRAY_INDEX.test(k))) state.sortable = false;
      else {
        const sorted: Record<string, unknown> = {};
        for (const k of keys) sorted[k] = record[k];
        return sorted;
      }
    }
    return v;
  });
  if (state.sortable) return text;
  const out: string[] = [];
  write(value, out, new Set(), []);
  return out.join('');
}

function where(path: readonly (string | number)[]): string {
  return path.length === 0 ? 'the value' : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function write(value: unknown, out: string[], open: Set<object>, path: (string | number)[]): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${where(path)} is ${String(value)}, which JSON cannot hold`);
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON: ${where(path)} is a ${typeof value}, which JSON cannot hold`);
  }
  if (open.has(value)) throw new TypeError(`canonical JSON: ${where(path)} refers to itself`);
  open.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      path.push(i);
      const item: unknown = value[i];
      write(item === undefined ? null : item, out, open, path);
      path.pop();
    }
    out.push(']');
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(JSON.stringify(k), ':');
      path.push(k);
      write(record[k], out, open, path);
      path.pop();
    });
    out.push('}');
  }
  open.delete(value);
}
