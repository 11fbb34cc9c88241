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
 * Compiles a dotted selector. With `targetingKeyAlias` (e.g. OpenFeature's `targetingKey`),
 * the selector `targeting_key` reads that field when the context has no `targeting_key`, so
 * a caller need not copy its context to rename the field.
 */
export function compileContextPath(selector: string, targetingKeyAlias = ''): ContextReader {
  if (selector === 'targeting_key' && targetingKeyAlias !== '' && targetingKeyAlias !== selector) {
    const direct = compileContextPath(selector);
    const alias = compileContextPath(targetingKeyAlias);
    return (c) => {
      const v = direct(c);
      return v === undefined ? alias(c) : v;
    };
  }
  const keys = selector.split('.');
  if (keys.length === 1) {
    const key = selector;
    if (inherited(key)) return (c) => (hasOwn(c, key) ? c[key] : undefined);
    return (c) => c[key];
  }
  const guarded = keys.some(inherited);
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
