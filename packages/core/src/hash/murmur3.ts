/**
 * murmur3_x64_128 (seed 0) over UTF-8 bytes, bit-exact with the reference implementation,
 * written with 32-bit halves so that no BigInt or allocation happens per call.
 *
 * A 64-bit lane is a (hi, lo) pair of 32-bit words held in locals: numbers stored anywhere
 * else (module variables, object fields) would be boxed on every write, which costs more than
 * the hash. Results go to typed arrays, which store them unboxed.
 */

/** [h1hi, h1lo, h2hi, h2lo] of the last hash computed; overwritten by every call. */
export const out: Uint32Array = new Uint32Array(4);

/** The hash state after whole 16-byte blocks: [h1hi, h1lo, h2hi, h2lo]. */
export type BlockState = Uint32Array;


// Every 32-bit word below is kept as an int32 (`| 0`), so that TurboFan compiles the
// arithmetic to plain 32-bit machine operations; comparisons look at it unsigned (`>>> 0`).
// The 64-bit multiplications are written out in place rather than called: a call that is
// not inlined passes and returns numbers outside the small-integer range as heap objects,
// one allocation each, and that used to cost more than the hash itself. Each one computes
// (hi, lo) * (bHi, bLo) mod 2^64 from 16-bit halves of lo and the constant:
//   lo' = imul(lo, bLo)
//   hi' = high32(lo * bLo) + imul(hi, bLo) + imul(lo, bHi)

function readWord(bytes: Uint8Array, i: number): number {
  return bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
}

/**
 * Hashes `bytes[0, end)` as the continuation of `init` (the state after `initLength` bytes,
 * a multiple of 16). With `finalize`, the result goes to `out`; without, only whole blocks
 * are absorbed, into `init` itself, and the number of bytes used is returned.
 *
 * With `finalize`, `bytes` must hold zeros from `end` to the next multiple of 16 (see
 * `zeroTail`).
 */
export function murmur3Continue(
  init: BlockState,
  initLength: number,
  bytes: Uint8Array,
  end: number,
  finalize: boolean,
): number {
  let h1hi = init[0]! | 0;
  let h1lo = init[1]! | 0;
  let h2hi = init[2]! | 0;
  let h2lo = init[3]! | 0;
  // Declared once, as numbers, so that every use sees an int32 (never undefined).
  /* eslint-disable no-useless-assignment */
  let kHi = 0;
  let kLo = 0;
  let a0 = 0;
  let a1 = 0;
  let m1 = 0;
  let m2 = 0;
  let t = 0;
  let u = 0;
  /* eslint-enable no-useless-assignment */
  const blocks = end - (end & 15);
  for (let i = 0; i < blocks; i += 16) {
    // k1 = rotl(k1 * c1, 31) * c2; h1 ^= k1
    kLo = readWord(bytes, i);
    kHi = readWord(bytes, i + 4);
    // (kHi, kLo) *= c1
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x53d5);
    m2 = Math.imul(a0, 0x1142);
    kHi = (Math.imul(a1, 0x1142) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x53d5) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x114253d5) + Math.imul(kLo, 0x87c37b91)) | 0;
    kLo = Math.imul(kLo, 0x114253d5);
    t = (kHi << 31) | (kLo >>> 1);
    kLo = (kLo << 31) | (kHi >>> 1);
    kHi = t;
    // (kHi, kLo) *= c2
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x937f);
    m2 = Math.imul(a0, 0x2745);
    kHi = (Math.imul(a1, 0x2745) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x937f) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x2745937f) + Math.imul(kLo, 0x4cf5ad43)) | 0;
    kLo = Math.imul(kLo, 0x2745937f);
    h1hi ^= kHi;
    h1lo ^= kLo;
    // h1 = rotl(h1, 27) + h2; h1 = h1 * 5 + 0x52dce729
    t = (h1hi << 27) | (h1lo >>> 5);
    h1lo = (h1lo << 27) | (h1hi >>> 5);
    h1hi = t;
    h1lo = (h1lo + h2lo) | 0;
    h1hi = (h1hi + h2hi + ((h1lo >>> 0) < (h2lo >>> 0) ? 1 : 0)) | 0;
    // (h1hi, h1lo) = (h1hi, h1lo) * 5 + 0x52dce729
    t = (Math.imul(h1hi, 5) + ((((h1lo >>> 16) * 5) + (((h1lo & 0xffff) * 5) >>> 16)) >>> 16)) | 0;
    u = Math.imul(h1lo, 5);
    h1lo = (u + 0x52dce729) | 0;
    h1hi = (t + ((h1lo >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
    // k2 = rotl(k2 * c2, 33) * c1; h2 ^= k2
    kLo = readWord(bytes, i + 8);
    kHi = readWord(bytes, i + 12);
    // (kHi, kLo) *= c2
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x937f);
    m2 = Math.imul(a0, 0x2745);
    kHi = (Math.imul(a1, 0x2745) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x937f) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x2745937f) + Math.imul(kLo, 0x4cf5ad43)) | 0;
    kLo = Math.imul(kLo, 0x2745937f);
    t = (kLo << 1) | (kHi >>> 31);
    kLo = (kHi << 1) | (kLo >>> 31);
    kHi = t;
    // (kHi, kLo) *= c1
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x53d5);
    m2 = Math.imul(a0, 0x1142);
    kHi = (Math.imul(a1, 0x1142) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x53d5) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x114253d5) + Math.imul(kLo, 0x87c37b91)) | 0;
    kLo = Math.imul(kLo, 0x114253d5);
    h2hi ^= kHi;
    h2lo ^= kLo;
    // h2 = rotl(h2, 31) + h1; h2 = h2 * 5 + 0x38495ab5
    t = (h2hi << 31) | (h2lo >>> 1);
    h2lo = (h2lo << 31) | (h2hi >>> 1);
    h2hi = t;
    h2lo = (h2lo + h1lo) | 0;
    h2hi = (h2hi + h1hi + ((h2lo >>> 0) < (h1lo >>> 0) ? 1 : 0)) | 0;
    // (h2hi, h2lo) = (h2hi, h2lo) * 5 + 0x38495ab5
    t = (Math.imul(h2hi, 5) + ((((h2lo >>> 16) * 5) + (((h2lo & 0xffff) * 5) >>> 16)) >>> 16)) | 0;
    u = Math.imul(h2lo, 5);
    h2lo = (u + 0x38495ab5) | 0;
    h2hi = (t + ((h2lo >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
  }
  if (!finalize) {
    init[0] = h1hi;
    init[1] = h1lo;
    init[2] = h2hi;
    init[3] = h2lo;
    return blocks;
  }

  // Tail: k1 from bytes 0..7, k2 from bytes 8..15 of the rest, little-endian. The bytes
  // after `end` up to the next block boundary are zero (callers guarantee it), so whole
  // words can be read.
  const rem = end - blocks;
  if (rem > 8) {
    kLo = readWord(bytes, blocks + 8);
    kHi = readWord(bytes, blocks + 12);
    // (kHi, kLo) *= c2
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x937f);
    m2 = Math.imul(a0, 0x2745);
    kHi = (Math.imul(a1, 0x2745) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x937f) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x2745937f) + Math.imul(kLo, 0x4cf5ad43)) | 0;
    kLo = Math.imul(kLo, 0x2745937f);
    t = (kLo << 1) | (kHi >>> 31);
    kLo = (kHi << 1) | (kLo >>> 31);
    kHi = t;
    // (kHi, kLo) *= c1
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x53d5);
    m2 = Math.imul(a0, 0x1142);
    kHi = (Math.imul(a1, 0x1142) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x53d5) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x114253d5) + Math.imul(kLo, 0x87c37b91)) | 0;
    kLo = Math.imul(kLo, 0x114253d5);
    h2hi ^= kHi;
    h2lo ^= kLo;
  }
  if (rem > 0) {
    kLo = readWord(bytes, blocks);
    kHi = readWord(bytes, blocks + 4);
    // (kHi, kLo) *= c1
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x53d5);
    m2 = Math.imul(a0, 0x1142);
    kHi = (Math.imul(a1, 0x1142) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x53d5) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x114253d5) + Math.imul(kLo, 0x87c37b91)) | 0;
    kLo = Math.imul(kLo, 0x114253d5);
    t = (kHi << 31) | (kLo >>> 1);
    kLo = (kLo << 31) | (kHi >>> 1);
    kHi = t;
    // (kHi, kLo) *= c2
    a0 = kLo & 0xffff;
    a1 = kLo >>> 16;
    m1 = Math.imul(a1, 0x937f);
    m2 = Math.imul(a0, 0x2745);
    kHi = (Math.imul(a1, 0x2745) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x937f) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
      Math.imul(kHi, 0x2745937f) + Math.imul(kLo, 0x4cf5ad43)) | 0;
    kLo = Math.imul(kLo, 0x2745937f);
    h1hi ^= kHi;
    h1lo ^= kLo;
  }

  // Finalization: h ^= length; h1 += h2; h2 += h1; fmix64 both; h1 += h2; h2 += h1.
  const total = initLength + end;
  h1lo ^= total;
  h2lo ^= total;
  h1lo = (h1lo + h2lo) | 0;
  h1hi = (h1hi + h2hi + ((h1lo >>> 0) < (h2lo >>> 0) ? 1 : 0)) | 0;
  h2lo = (h2lo + h1lo) | 0;
  h2hi = (h2hi + h1hi + ((h2lo >>> 0) < (h1lo >>> 0) ? 1 : 0)) | 0;
  // fmix64(h1)
  h1lo ^= h1hi >>> 1;
  // (h1hi, h1lo) *= 0xff51afd7ed558ccd
  a0 = h1lo & 0xffff;
  a1 = h1lo >>> 16;
  m1 = Math.imul(a1, 0x8ccd);
  m2 = Math.imul(a0, 0xed55);
  h1hi = (Math.imul(a1, 0xed55) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x8ccd) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
    Math.imul(h1hi, 0xed558ccd) + Math.imul(h1lo, 0xff51afd7)) | 0;
  h1lo = Math.imul(h1lo, 0xed558ccd);
  h1lo ^= h1hi >>> 1;
  // (h1hi, h1lo) *= 0xc4ceb9fe1a85ec53
  a0 = h1lo & 0xffff;
  a1 = h1lo >>> 16;
  m1 = Math.imul(a1, 0xec53);
  m2 = Math.imul(a0, 0x1a85);
  h1hi = (Math.imul(a1, 0x1a85) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0xec53) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
    Math.imul(h1hi, 0x1a85ec53) + Math.imul(h1lo, 0xc4ceb9fe)) | 0;
  h1lo = Math.imul(h1lo, 0x1a85ec53);
  h1lo ^= h1hi >>> 1;
  // fmix64(h2)
  h2lo ^= h2hi >>> 1;
  // (h2hi, h2lo) *= 0xff51afd7ed558ccd
  a0 = h2lo & 0xffff;
  a1 = h2lo >>> 16;
  m1 = Math.imul(a1, 0x8ccd);
  m2 = Math.imul(a0, 0xed55);
  h2hi = (Math.imul(a1, 0xed55) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0x8ccd) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
    Math.imul(h2hi, 0xed558ccd) + Math.imul(h2lo, 0xff51afd7)) | 0;
  h2lo = Math.imul(h2lo, 0xed558ccd);
  h2lo ^= h2hi >>> 1;
  // (h2hi, h2lo) *= 0xc4ceb9fe1a85ec53
  a0 = h2lo & 0xffff;
  a1 = h2lo >>> 16;
  m1 = Math.imul(a1, 0xec53);
  m2 = Math.imul(a0, 0x1a85);
  h2hi = (Math.imul(a1, 0x1a85) + (m1 >>> 16) + (m2 >>> 16) + (((Math.imul(a0, 0xec53) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff)) >>> 16) +
    Math.imul(h2hi, 0x1a85ec53) + Math.imul(h2lo, 0xc4ceb9fe)) | 0;
  h2lo = Math.imul(h2lo, 0x1a85ec53);
  h2lo ^= h2hi >>> 1;
  h1lo = (h1lo + h2lo) | 0;
  h1hi = (h1hi + h2hi + ((h1lo >>> 0) < (h2lo >>> 0) ? 1 : 0)) | 0;
  h2lo = (h2lo + h1lo) | 0;
  h2hi = (h2hi + h1hi + ((h2lo >>> 0) < (h1lo >>> 0) ? 1 : 0)) | 0;
  out[0] = h1hi;
  out[1] = h1lo;
  out[2] = h2hi;
  out[3] = h2lo;
  return end;
}

/** Zeroes `bytes[end, end + 16)` (the buffer must have room) for `murmur3Continue`. */
export function zeroTail(bytes: Uint8Array, end: number): void {
  for (let i = end; i < end + 16; i++) bytes[i] = 0;
}

const EMPTY: BlockState = new Uint32Array(4);

/** murmur3_x64_128 of `bytes[0, length)`, result in `out`. */
export function murmur3Bytes(bytes: Uint8Array, length: number = bytes.length): void {
  const padded = new Uint8Array(length + 16);
  padded.set(bytes.subarray(0, length));
  murmur3Continue(EMPTY, 0, padded, length, true);
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
  if (key.length * 3 + 16 > stringBuf.length) stringBuf = new Uint8Array(key.length * 3 + 16);
  const end = writeUtf8(key, stringBuf, 0);
  zeroTail(stringBuf, end);
  murmur3Continue(EMPTY, 0, stringBuf, end, true);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The two 64-bit halves of murmur3_x64_128(utf8(key)) as 16-digit hex strings. */
export function murmur3Hex(key: string): { h1: string; h2: string } {
  murmur3String(key);
  return { h1: hex32(out[0]!) + hex32(out[1]!), h2: hex32(out[2]!) + hex32(out[3]!) };
}
