/**
 * murmur3_x64_128 (seed 0) over UTF-8 bytes, bit-exact with the reference implementation,
 * written with 32-bit halves so that no BigInt or allocation happens per call.
 *
 * A 64-bit lane is a (hi, lo) pair of unsigned 32-bit numbers. Results are left in the
 * exported `out` record (`h1hi`, `h1lo`, `h2hi`, `h2lo`) instead of a fresh object.
 */

/** The four 32-bit words of the last hash computed; overwritten by every call. */
export interface HashWords {
  h1hi: number;
  h1lo: number;
  h2hi: number;
  h2lo: number;
}

export const out: HashWords = { h1hi: 0, h1lo: 0, h2hi: 0, h2lo: 0 };

// 64-bit constants as (hi, lo).
const C1_HI = 0x87c37b91;
const C1_LO = 0x114253d5;
const C2_HI = 0x4cf5ad43;
const C2_LO = 0x2745937f;
const F1_HI = 0xff51afd7;
const F1_LO = 0xed558ccd;
const F2_HI = 0xc4ceb9fe;
const F2_LO = 0x1a85ec53;

// Scratch result of the 64-bit helpers below.
let rHi = 0;
let rLo = 0;

/** High 32 bits of the unsigned 64-bit product a*b of two unsigned 32-bit numbers. */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const m1 = a1 * b0;
  const m2 = a0 * b1;
  const carry = (((a0 * b0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16;
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + carry) >>> 0;
}

/** (aHi,aLo) * (bHi,bLo) mod 2^64 into (rHi, rLo). */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  rLo = Math.imul(aLo, bLo) >>> 0;
  rHi = (mulHigh32(aLo, bLo) + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

/** (hi,lo) rotated left by n (0 < n < 64) into (rHi, rLo). */
function rotl64(hi: number, lo: number, n: number): void {
  if (n === 32) {
    rHi = lo;
    rLo = hi;
  } else if (n < 32) {
    rHi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    rLo = ((lo << n) | (hi >>> (32 - n))) >>> 0;
  } else {
    const m = n - 32;
    rHi = ((lo << m) | (hi >>> (32 - m))) >>> 0;
    rLo = ((hi << m) | (lo >>> (32 - m))) >>> 0;
  }
}

/** (aHi,aLo) + (bHi,bLo) mod 2^64 into (rHi, rLo). */
function add64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const lo = aLo + bLo;
  rLo = lo >>> 0;
  rHi = (aHi + bHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** fmix64 of (hi, lo) into (rHi, rLo). */
function fmix64(hi: number, lo: number): void {
  // k ^= k >>> 33
  lo = (lo ^ (hi >>> 1)) >>> 0;
  mul64(hi, lo, F1_HI, F1_LO);
  hi = rHi;
  lo = (rLo ^ (rHi >>> 1)) >>> 0;
  mul64(hi, lo, F2_HI, F2_LO);
  hi = rHi;
  rLo = (rLo ^ (rHi >>> 1)) >>> 0;
  rHi = hi;
}

function readLo(bytes: Uint8Array, i: number): number {
  return (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
}

/**
 * The running state of a hash after whole 16-byte blocks: lets a constant key prefix be
 * absorbed once (see `HashPrefix`).
 */
export interface BlockState {
  h1hi: number;
  h1lo: number;
  h2hi: number;
  h2lo: number;
  /** Bytes absorbed so far (a multiple of 16). */
  length: number;
}

/** Absorbs the whole 16-byte blocks of `bytes[0, end)` into `s`, in place; returns bytes used. */
export function absorbBlocks(s: BlockState, bytes: Uint8Array, end: number): number {
  let h1hi = s.h1hi;
  let h1lo = s.h1lo;
  let h2hi = s.h2hi;
  let h2lo = s.h2lo;
  const blocks = end - (end % 16);
  for (let i = 0; i < blocks; i += 16) {
    let k1lo = readLo(bytes, i);
    let k1hi = readLo(bytes, i + 4);
    let k2lo = readLo(bytes, i + 8);
    let k2hi = readLo(bytes, i + 12);

    mul64(k1hi, k1lo, C1_HI, C1_LO);
    rotl64(rHi, rLo, 31);
    mul64(rHi, rLo, C2_HI, C2_LO);
    k1hi = rHi;
    k1lo = rLo;
    h1hi = (h1hi ^ k1hi) >>> 0;
    h1lo = (h1lo ^ k1lo) >>> 0;
    rotl64(h1hi, h1lo, 27);
    add64(rHi, rLo, h2hi, h2lo);
    mul64(rHi, rLo, 0, 5);
    add64(rHi, rLo, 0, 0x52dce729);
    h1hi = rHi;
    h1lo = rLo;

    mul64(k2hi, k2lo, C2_HI, C2_LO);
    rotl64(rHi, rLo, 33);
    mul64(rHi, rLo, C1_HI, C1_LO);
    k2hi = rHi;
    k2lo = rLo;
    h2hi = (h2hi ^ k2hi) >>> 0;
    h2lo = (h2lo ^ k2lo) >>> 0;
    rotl64(h2hi, h2lo, 31);
    add64(rHi, rLo, h1hi, h1lo);
    mul64(rHi, rLo, 0, 5);
    add64(rHi, rLo, 0, 0x38495ab5);
    h2hi = rHi;
    h2lo = rLo;
  }
  s.h1hi = h1hi;
  s.h1lo = h1lo;
  s.h2hi = h2hi;
  s.h2lo = h2lo;
  s.length += blocks;
  return blocks;
}

/**
 * Finishes a hash: `bytes[start, end)` are the remaining input (possibly more whole blocks,
 * then a tail), `s` the state after what came before. Result in `out`. `s` is not changed.
 */
export function finish(s: BlockState, bytes: Uint8Array, start: number, end: number): void {
  scratchState.h1hi = s.h1hi;
  scratchState.h1lo = s.h1lo;
  scratchState.h2hi = s.h2hi;
  scratchState.h2lo = s.h2lo;
  scratchState.length = s.length;
  const view = start === 0 ? bytes : bytes.subarray(start, end);
  const used = absorbBlocks(scratchState, view, end - start);
  let h1hi = scratchState.h1hi;
  let h1lo = scratchState.h1lo;
  let h2hi = scratchState.h2hi;
  let h2lo = scratchState.h2lo;
  const tail = used;
  const rem = end - start - used;

  // Tail: k1 from bytes 0..7, k2 from bytes 8..15, little-endian.
  let k1hi = 0;
  let k1lo = 0;
  let k2hi = 0;
  let k2lo = 0;
  for (let j = rem - 1; j >= 8; j--) {
    const b = view[tail + j]!;
    if (j >= 12) k2hi |= b << ((j - 12) * 8);
    else k2lo |= b << ((j - 8) * 8);
  }
  if (rem > 8) {
    k2hi >>>= 0;
    k2lo >>>= 0;
    mul64(k2hi, k2lo, C2_HI, C2_LO);
    rotl64(rHi, rLo, 33);
    mul64(rHi, rLo, C1_HI, C1_LO);
    h2hi = (h2hi ^ rHi) >>> 0;
    h2lo = (h2lo ^ rLo) >>> 0;
  }
  for (let j = Math.min(rem, 8) - 1; j >= 0; j--) {
    const b = view[tail + j]!;
    if (j >= 4) k1hi |= b << ((j - 4) * 8);
    else k1lo |= b << (j * 8);
  }
  if (rem > 0) {
    k1hi >>>= 0;
    k1lo >>>= 0;
    mul64(k1hi, k1lo, C1_HI, C1_LO);
    rotl64(rHi, rLo, 31);
    mul64(rHi, rLo, C2_HI, C2_LO);
    h1hi = (h1hi ^ rHi) >>> 0;
    h1lo = (h1lo ^ rLo) >>> 0;
  }

  // Finalization; the total length fits in 32 bits.
  const total = s.length + (end - start);
  h1lo = (h1lo ^ total) >>> 0;
  h2lo = (h2lo ^ total) >>> 0;
  add64(h1hi, h1lo, h2hi, h2lo);
  h1hi = rHi;
  h1lo = rLo;
  add64(h2hi, h2lo, h1hi, h1lo);
  h2hi = rHi;
  h2lo = rLo;
  fmix64(h1hi, h1lo);
  h1hi = rHi;
  h1lo = rLo;
  fmix64(h2hi, h2lo);
  h2hi = rHi;
  h2lo = rLo;
  add64(h1hi, h1lo, h2hi, h2lo);
  h1hi = rHi;
  h1lo = rLo;
  add64(h2hi, h2lo, h1hi, h1lo);
  out.h1hi = h1hi;
  out.h1lo = h1lo;
  out.h2hi = rHi;
  out.h2lo = rLo;
}

const scratchState: BlockState = { h1hi: 0, h1lo: 0, h2hi: 0, h2lo: 0, length: 0 };
const EMPTY_STATE: BlockState = Object.freeze({ h1hi: 0, h1lo: 0, h2hi: 0, h2lo: 0, length: 0 });

/** murmur3_x64_128 of `bytes[0, length)`, result in `out`. */
export function murmur3Bytes(bytes: Uint8Array, length: number = bytes.length): void {
  finish(EMPTY_STATE, bytes, 0, length);
}

/**
 * Writes the UTF-8 encoding of `s` into `buf` at `at`; returns the end offset. `buf` must
 * have room for 3 bytes per UTF-16 unit (never checked here: callers size it).
 * Lone surrogates become U+FFFD, as TextEncoder does.
 */
export function writeUtf8(s: string, buf: Uint8Array, at: number): number {
  let p = at;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 0x3f);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 0x3f);
      buf[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

let stringBuf = new Uint8Array(1024);

/** murmur3_x64_128 of the UTF-8 bytes of `key`, result in `out`. */
export function murmur3String(key: string): void {
  if (key.length * 3 > stringBuf.length) stringBuf = new Uint8Array(key.length * 3 + 16);
  const end = writeUtf8(key, stringBuf, 0);
  finish(EMPTY_STATE, stringBuf, 0, end);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The two 64-bit halves of murmur3_x64_128(utf8(key)) as 16-digit hex strings. */
export function murmur3Hex(key: string): { h1: string; h2: string } {
  murmur3String(key);
  return { h1: hex32(out.h1hi) + hex32(out.h1lo), h2: hex32(out.h2hi) + hex32(out.h2lo) };
}
