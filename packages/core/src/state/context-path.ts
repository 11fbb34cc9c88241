/**
 * Reading a field of an evaluation context by a dotted selector (`user.country`), compiled
 * once. Only own properties are read: a selector such as `constructor` finds nothing on a
 * context that does not carry it.
 */
import type { EvaluationContext } from '../types.js';

/** Reads the selected field of a context, or undefined. */
export type ContextReader = (context: EvaluationContext) => unknown;

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A key that an object would inherit from Object.prototype, so it needs an own-property check. */
function inherited(key: string): boolean {
  return key in Object.prototype;
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * Compiled readers by selector and alias. A reader is a pure function of the two, so rules and
 * criteria that read the same field share one: a large state reads a handful of fields in
 * 10,000 places, and a closure each is garbage-collector work on every load. Bounded, so that
 * selectors from states long gone do not pile up.
 */
const readers = new Map<string, ContextReader>();
const MAX_READERS = 1024;

/**
 * Compiles a dotted selector. With `targetingKeyAlias` (e.g. OpenFeature's `targetingKey`),
 * the selector `targeting_key` reads that field when the context has no `targeting_key`, so
 * a caller need not copy its context to rename the field.
 */
export function compileContextPath(selector: string, targetingKeyAlias = ''): ContextReader {
  const id = `${targetingKeyAlias.length}:${targetingKeyAlias}${selector}`;
  let reader = readers.get(id);
  if (reader === undefined) {
    if (readers.size >= MAX_READERS) readers.clear();
    reader = readerOf(selector, targetingKeyAlias);
    readers.set(id, reader);
  }
  return reader;
}

// Each form of reader is made by a function of its own, so that its closure captures only
// what it reads (a closure holds every captured variable of the scope it was made in).
function readerOf(selector: string, targetingKeyAlias: string): ContextReader {
  if (selector === 'targeting_key' && targetingKeyAlias !== '' && targetingKeyAlias !== selector) {
    return readEither(compileContextPath(selector), compileContextPath(targetingKeyAlias));
  }
  const keys = selector.split('.');
  if (keys.length > 1) return readPath(keys, keys.some(inherited));
  return inherited(selector) ? readOwnKey(selector) : readKey(selector);
}

function readEither(direct: ContextReader, alias: ContextReader): ContextReader {
  return (c) => {
    const v = direct(c);
    return v === undefined ? alias(c) : v;
  };
}

function readKey(key: string): ContextReader {
  return (c) => c[key];
}

function readOwnKey(key: string): ContextReader {
  return (c) => (hasOwn(c, key) ? c[key] : undefined);
}

function readPath(keys: readonly string[], guarded: boolean): ContextReader {
  return (c) => {
    let cur: unknown = c;
    for (const key of keys) {
      if (!isRecord(cur)) return undefined;
      if (guarded && !hasOwn(cur, key)) return undefined;
      cur = cur[key];
    }
    return cur;
  };
}

/**
 * The key a selector reads in place (`context[key]`), or null when it needs its compiled
 * reader: a dotted path, a key objects inherit from Object.prototype, or `targeting_key`
 * with an alias.
 */
export function plainKeyOf(selector: string, targetingKeyAlias = ''): string | null {
  if (selector.includes('.') || inherited(selector)) return null;
  return selector === 'targeting_key' && targetingKeyAlias !== '' ? null : selector;
}
