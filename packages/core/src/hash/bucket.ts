/**
 * Buckets: `(h1 >>> 4) mod N` of murmur3_x64_128 over `prefix + unit`, where the prefix is a
 * constant of the state (the account salt, or a segment id) absorbed once, at load.
 */
import { MURMUR3_WASM } from './murmur3-wasm.js';
import { murmur3Continue, out, writeUtf8, type BlockState } from './murmur3.js';

/** Longest unit the resolver accepts, in bytes of UTF-8 (longer ones are a targeting-key error). */
export const MAX_UNIT_LENGTH = 100;

const TWO_POW_32 = 4294967296;
/** Units at least this long are encoded by Node's UTF-8 encoder rather than `writeUtf8`. */
const NATIVE_ENCODE_FROM = 24;
/** Above this N, (a mod N) * (b mod N) may exceed 2^53: a slower exact path is used. */
const FAST_MOD_LIMIT = 94906265;

/**
 * `(h1 >>> 4) mod n` for the h1 of the last hash (`out[0]`, `out[1]`), exactly. Reads `out`
 * itself rather than taking the words as arguments, which would box them when not inlined.
 */
export function bucketOfLastHash(n: number): number {
  const hi = out[0]!;
  const top = hi >>> 4; // bits 32..59 of h1 >>> 4
  const bottom = (hi & 0xf) * 0x10000000 + (out[1]! >>> 4); // bits 0..31
  if (n > FAST_MOD_LIMIT) return Number(((BigInt(top) << 32n) + BigInt(bottom)) % BigInt(n));
  // (top mod n) * (2^32 mod n) + bottom < 2^53; x - floor(x / n) * n avoids the slow float `%`.
  const topMod = top % n;
  const baseMod = TWO_POW_32 - Math.floor(TWO_POW_32 / n) * n;
  const x = topMod * baseMod + bottom;
  let r = x - Math.floor(x / n) * n;
  if (r < 0) r += n;
  else if (r >= n) r -= n;
  return r;
}

/** `(h1 >>> 4) mod n` for a 64-bit h1 given as unsigned 32-bit halves. */
export function bucketOf(hi: number, lo: number, n: number): number {
  out[0] = hi;
  out[1] = lo;
  return bucketOfLastHash(n);
}

/**
 * The hash of a unit after its prefix runs in a small WebAssembly module (wasm/murmur3.wat):
 * native 64-bit multiplies instead of their 16-bit emulation in JavaScript, about twice as
 * fast per 16-byte block. Its memory holds the result at [0, 16) and the bytes to hash from 16
 * (the prefix's tail, then the unit; the module masks off whatever lies past them).
 */
const DATA = 16;
/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: unknown };
}
const { Module, Instance } = (globalThis as unknown as { readonly WebAssembly: WebAssemblyApi }).WebAssembly;
const wasm = new Instance(new Module(Buffer.from(MURMUR3_WASM, 'base64'))).exports as {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly hash: (h1hi: number, h1lo: number, h2hi: number, h2lo: number, length: number, total: number, n: number) => number;
};
const wasmBytes = Buffer.from(wasm.memory.buffer);
const wasmWords = new Uint32Array(wasm.memory.buffer, 0, 4);
const wasmHash = wasm.hash;
const encoder = new TextEncoder();
/** Where a unit's bytes go after a tail of each length (0 to 15 bytes): views shared by every prefix. */
const UNIT_BYTES: readonly Uint8Array[] = Array.from({ length: 16 }, (_, tail) => wasmBytes.subarray(DATA + tail));
/** The `id` of the prefix whose tail is at DATA in the module's memory (0: none yet). */
let tailWriter = 0;
let prefixes = 0;

/**
 * Int32 words of a prefix in a slab: its block state [h1hi, h1lo, h2hi, h2lo], the last unit's
 * h1 [hi, lo], and its tail (fewer than 16 bytes).
 */
const STATE = 0;
const LAST_H1 = 4;
const TAIL = 6;
const PREFIX_WORDS = 10;
/**
 * Prefixes share slabs of words rather than holding typed arrays of their own: a state has one
 * prefix per rule (10,000 in a large one), and as one object each rather than eight (four
 * typed arrays, three buffers) a reload leaves the garbage collector far fewer to copy. A slab
 * lives while any prefix in it does: at most 10 KB kept for one.
 */
const SLAB_PREFIXES = 256;
let slab = new Int32Array(0);
let slabBytes = new Uint8Array(0);
let slabUsed = 0;
const absorbed: BlockState = new Uint32Array(4);

/**
 * A constant key prefix, pre-absorbed: `bucket(unit, n)` hashes `prefix + unit` touching only
 * the prefix's last partial block and the unit's bytes.
 */
export class HashPrefix {
  readonly prefix: string;
  /** The slab holding this prefix's words, from `at` (see PREFIX_WORDS). */
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly at: number;
  private readonly stateLength: number;
  private readonly tailLength: number;
  /** The unit whose h1 the slab holds: callers that hash one unit several times hash it once. */
  private lastUnit: string | null = null;
  /** The last bucket answered for `lastUnit`, and its `n` (0: none yet). */
  private lastN = 0;
  private lastBucket = 0;
  /** WebAssembly memory from where the unit's bytes go (right after the prefix's tail). */
  private readonly unitBytes: Uint8Array;
  private readonly id = ++prefixes;

  constructor(prefix: string) {
    this.prefix = prefix;
    const bytes = encoder.encode(prefix);
    absorbed.fill(0);
    const used = murmur3Continue(absorbed, 0, bytes, bytes.length, false);
    if (slabUsed === slab.length) {
      slab = new Int32Array(SLAB_PREFIXES * PREFIX_WORDS);
      slabBytes = new Uint8Array(slab.buffer);
      slabUsed = 0;
    }
    const at = slabUsed;
    slabUsed += PREFIX_WORDS;
    this.words = slab;
    this.bytes = slabBytes;
    this.at = at;
    for (let i = 0; i < 4; i++) slab[at + STATE + i] = absorbed[i]!;
    this.stateLength = used;
    this.tailLength = bytes.length - used;
    slabBytes.set(bytes.subarray(used), 4 * (at + TAIL));
    this.unitBytes = UNIT_BYTES[this.tailLength]!;
  }

  /**
   * Bucket of `prefix + unit` among `n` (unit at most MAX_UNIT_LENGTH bytes of UTF-8). The
   * last unit's hash is kept, so asking again for the same unit (another flag, another
   * bucket count, another evaluator sharing this prefix) costs a string comparison.
   */
  bucket(unit: string, n: number): number {
    const words = this.words;
    const at = this.at;
    if (unit === this.lastUnit) {
      if (n === this.lastN) return this.lastBucket;
      out[0] = words[at + LAST_H1]!;
      out[1] = words[at + LAST_H1 + 1]!;
      this.lastBucket = bucketOfLastHash(n);
    } else {
      const start = DATA + this.tailLength;
      // The prefix's tail stays in memory until another prefix writes over it.
      if (tailWriter !== this.id) {
        const tail = this.bytes;
        const from = 4 * (at + TAIL);
        for (let i = 0; i < this.tailLength; i++) wasmBytes[DATA + i] = tail[from + i]!;
        tailWriter = this.id;
      }
      // TextEncoder.encodeInto (into a view made once, at construction) beats both Buffer's
      // write (about twice its cost on a UUID) and a JavaScript loop from a few dozen
      // characters on; below that the loop wins. encodeInto's result object does not
      // survive optimization (no per-call garbage: bench/core.bench.ts measures the heap).
      const end =
        unit.length < NATIVE_ENCODE_FROM
          ? writeUtf8(unit, wasmBytes, start)
          : start + encoder.encodeInto(unit, this.unitBytes).written;
      // The module answers the bucket itself (a native 64-bit remainder) for integers n in [1, 2^31).
      const native = Number.isInteger(n) && n >= 1 && n <= 0x7fffffff;
      const bucket = wasmHash(words[at]!, words[at + 1]!, words[at + 2]!, words[at + 3]!, end - DATA, this.stateLength + end - DATA, native ? n : 1);
      out[0] = words[at + LAST_H1] = wasmWords[0]!;
      out[1] = words[at + LAST_H1 + 1] = wasmWords[1]!;
      out[2] = wasmWords[2]!;
      out[3] = wasmWords[3]!;
      this.lastUnit = unit;
      this.lastBucket = native ? bucket : bucketOfLastHash(n);
    }
    this.lastN = n;
    return this.lastBucket;
  }
}
