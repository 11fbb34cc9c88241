/**
 * `name` as V8 keeps property names (internalized: one copy in its string table). A name that
 * was read as a JSON value, or that reached a worker by structured clone, is a fresh copy,
 * and every store, load or `hasOwnProperty` by such a copy looks it up in the string table
 * first (hashing it); by the property's own name, each is a plain field access.
 */
export function propertyName(name: string): string {
  return Object.keys({ [name]: 0 })[0]!;
}
