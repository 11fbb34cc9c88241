/**
 * Small Int32Arrays carved from shared buffers. A view of an existing buffer is one object,
 * where `Int32Array.from` makes three (the array, its buffer, its elements), and a large state
 * holds one per rule: objects that every scavenge during its load must copy. A slab lives while
 * any view of it does, so at most 16 KB is kept for one.
 */

const SLAB_WORDS = 4096;
/** Longer lists get a buffer of their own: they would waste a slab's tail. */
const MAX_PACKED = SLAB_WORDS / 16;

let slab = new ArrayBuffer(0);
let used = 0;

/** `values` as an Int32Array, a view of a shared slab when short. */
export function packedInt32(values: readonly number[]): Int32Array {
  const n = values.length;
  if (n > MAX_PACKED) return Int32Array.from(values);
  if (used + n > SLAB_WORDS || slab.byteLength === 0) {
    slab = new ArrayBuffer(SLAB_WORDS * 4);
    used = 0;
  }
  const out = new Int32Array(slab, used * 4, n);
  used += n;
  out.set(values);
  return out;
}
