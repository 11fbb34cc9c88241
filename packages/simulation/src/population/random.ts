/**
 * A counter-based random source: every draw is a pure function of (seed, unit index, draw
 * index), so context i is the same whichever worker, shard or machine generates it. The mix
 * is murmur3's 32-bit finalizer applied twice over the three words; it passes the avalanche
 * bar synthetic populations need, and costs a few multiplications per draw.
 */

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_POW_32 = 4294967296;

/** The per-unit key: a 32-bit word from (seed, index); draws are then keyed by draw number. */
export function unitKey(seed: number, index: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / TWO_POW_32) >>> 0;
  return fmix32(fmix32((seed ^ 0x9e3779b9) + Math.imul(lo, 0x27d4eb2f)) ^ Math.imul(hi + 0x165667b1, 0x61c88647));
}

/** A uniform 32-bit word for draw `draw` of the unit keyed `key`. */
export function word(key: number, draw: number): number {
  return fmix32(fmix32(key + Math.imul(draw + 1, 0x9e3779b9)) ^ 0x5bd1e995);
}

/** A uniform number in [0, 1) for draw `draw` of the unit keyed `key`. */
export function uniform(key: number, draw: number): number {
  return word(key, draw) / TWO_POW_32;
}

/** A seed given as any non-negative integer folded to 32 bits. */
export function seed32(seed: number): number {
  return (fmix32(seed >>> 0) ^ fmix32(Math.floor(seed / TWO_POW_32) >>> 0)) >>> 0;
}
