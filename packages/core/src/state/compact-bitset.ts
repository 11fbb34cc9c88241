/**
 * A set of buckets of 1,000,000 held in the space its information needs, not 125,000 bytes.
 *
 * Roaring's layout, without its dependency: the buckets split into 16 chunks of 2^16 (the last
 * holds 16,960), and each chunk is stored in the smallest of six forms: empty, full, a sorted
 * list of its members (2 bytes each), a list of runs (`first, last` pairs, 4 bytes each), a
 * split list (per 256-bucket block a count, then a byte per member: see SPLIT) or a bitmap
 * (8 KB). A 0.5% segment of scattered buckets takes 7.5 KB, one allocated in blocks of 16
 * about 1.3 KB, a 50% random one 122 KB (bitmaps, no worse than bytes), the full set 72 bytes.
 * The form chosen is a function of the members alone, so equal sets have equal bytes.
 *
 * One region of one ArrayBuffer holds a set: 18 Int32 (per chunk `offset << 3 | form`, the end
 * offset, the member count), then the Uint16 words of the chunks. Regions are self-describing,
 * which is what the transfer form (`toTransfer`, `readTransfer`) relies on.
 */

export const SEGMENT_BUCKETS = 1_000_000;
export const BITSET_BYTES: number = SEGMENT_BUCKETS / 8;

const CHUNKS = 16;
const EMPTY = 0;
const FULL = 1;
const ARRAY = 2;
const RUNS = 3;
const BITMAP = 4;
/**
 * Members by 256-bucket block: each block's count in a nibble, a running count every 16
 * blocks, then each member's low byte. 160 bytes + 1 per member, against 2 per member as a
 * list: the smaller form for scattered sets above 0.25% (0.5%: 6.7 KB, not 10 KB). Only for
 * chunks whose blocks hold at most 15 members.
 */
const SPLIT = 5;
/** Int32 entries before the chunk words: 16 chunk entries, the end entry, the count. */
const HEADER = CHUNKS + 2;
const HEADER_BYTES = HEADER * 4;
/** 32-bit words of the whole set as a bitmap (125,000 bytes). */
const WORDS32 = SEGMENT_BUCKETS / 32;

function chunkBits(c: number): number {
  return c === CHUNKS - 1 ? SEGMENT_BUCKETS - (CHUNKS - 1) * 65_536 : 65_536;
}

function popcount32(w: number): number {
  let v = w - ((w >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(w: number): number {
  return 31 - Math.clz32(w & -w);
}

export class CompactBitset {
  /**
   * The whole buffer as Int32, the set's header from `head`: per chunk `wordOffset << 3 | form`,
   * then the end offset, then the count. Views of the whole buffer, shared by every set read
   * from one transfer: a 10,000-segment state would otherwise hold 20,000 typed arrays, objects
   * that every scavenge during its assembly must copy.
   */
  private readonly header: Int32Array;
  private readonly head: number;
  /** The whole buffer as Uint16, the set's chunk words from `base` (offsets are relative to it). */
  private readonly data: Uint16Array;
  private readonly base: number;
  /** Number of buckets in the set. */
  readonly count: number;

  /** The set whose region starts at `byteOffset` of the buffer both views cover from its start. */
  private constructor(header: Int32Array, data: Uint16Array, byteOffset: number) {
    this.header = header;
    this.head = byteOffset >>> 2;
    this.data = data;
    this.base = (byteOffset + HEADER_BYTES) >>> 1;
    this.count = header[this.head + CHUNKS + 1]!;
  }

  /** Words of chunk data in the set's region. */
  private get words(): number {
    return this.header[this.head + CHUNKS]! >>> 3;
  }

  /** Whether `bucket` (an integer in [0, SEGMENT_BUCKETS)) is in the set. The hot path. */
  has(bucket: number): boolean {
    const c = bucket >>> 16;
    const h = this.head + c;
    const entry = this.header[h]!;
    const form = entry & 7;
    if (form <= FULL) return form === FULL;
    const lo = bucket & 0xffff;
    const d = this.data;
    let from = this.base + (entry >>> 3);
    if (form === BITMAP) return (d[from + (lo >>> 4)]! & (1 << (lo & 15))) !== 0;
    if (form === SPLIT) return splitHas(d, from, c === CHUNKS - 1 ? LAST_GROUPS : 16, lo);
    // Branch-free binary searches (a mask instead of a branch the CPU would mispredict half
    // the time): the last member, or the last run's first bucket, at or below lo.
    let n = (this.header[h + 1]! >>> 3) - (entry >>> 3);
    if (form === ARRAY) {
      while (n > 1) {
        const half = n >>> 1;
        from += half & ((d[from + half]! - lo - 1) >> 31);
        n -= half;
      }
      return d[from] === lo;
    }
    // Runs: (first, last) pairs.
    n >>>= 1;
    while (n > 1) {
      const half = n >>> 1;
      from += (2 * half) & ((d[from + 2 * half]! - lo - 1) >> 31);
      n -= half;
    }
    return d[from]! <= lo && lo <= d[from + 1]!;
  }

  /** Bytes held by the set's region (header and words). */
  get byteLength(): number {
    return regionBytes(this.words);
  }

  /**
   * The set's region as a view (what `toTransfer` copies): equal sets have equal bytes, so a
   * digest of them names the set (the provider's loader compares sets across threads so).
   */
  get bytes(): Uint8Array {
    return new Uint8Array(this.header.buffer, this.header.byteOffset + 4 * this.head, this.byteLength);
  }

  /** The buffer holding the set's region, shared by every set read from one transfer. */
  get buffer(): ArrayBufferLike {
    return this.header.buffer;
  }

  /** Whether both sets hold the same buckets (their regions are then equal). */
  equals(other: CompactBitset): boolean {
    const words = this.words;
    if (this.count !== other.count || words !== other.words) return false;
    for (let i = 0; i < HEADER; i++) if (this.header[this.head + i] !== other.header[other.head + i]) return false;
    const a = this.data;
    const b = other.data;
    for (let i = 0; i < words; i++) if (a[this.base + i] !== b[other.base + i]) return false;
    return true;
  }

  /**
   * The set as Confidence's bytes: bucket i at byte i >> 3, bit i & 7 (least significant
   * first), BITSET_BYTES long. Written into `into` when given (it is cleared first).
   */
  toBytes(into: Uint8Array = new Uint8Array(BITSET_BYTES)): Uint8Array {
    if (into.length < BITSET_BYTES) throw new RangeError(`toBytes needs ${BITSET_BYTES} bytes, got ${into.length}`);
    into.fill(0, 0, BITSET_BYTES);
    const d = this.data;
    for (let c = 0; c < CHUNKS; c++) {
      const entry = this.header[this.head + c]!;
      const form = entry & 7;
      const base = c << 16;
      const from = this.base + (entry >>> 3);
      const end = this.base + (this.header[this.head + c + 1]! >>> 3);
      if (form === FULL) {
        fillRange(into, base, base + chunkBits(c) - 1);
      } else if (form === ARRAY) {
        for (let i = from; i < end; i++) {
          const bucket = base + d[i]!;
          into[bucket >>> 3] = into[bucket >>> 3]! | (1 << (bucket & 7));
        }
      } else if (form === RUNS) {
        for (let i = from; i < end; i += 2) fillRange(into, base + d[i]!, base + d[i + 1]!);
      } else if (form === SPLIT) {
        const groups = c === CHUNKS - 1 ? LAST_GROUPS : 16;
        let i = 0;
        for (let h = 0; h < groups * 16; h++) {
          const count = (d[from + groups + (h >>> 2)]! >>> ((h & 3) << 2)) & 15;
          for (let k = 0; k < count; k++, i++) {
            const bucket = base + (h << 8) + ((d[from + 5 * groups + (i >>> 1)]! >>> ((i & 1) << 3)) & 0xff);
            into[bucket >>> 3] = into[bucket >>> 3]! | (1 << (bucket & 7));
          }
        }
      } else if (form === BITMAP) {
        const byteBase = base >>> 3;
        for (let w = 0; w < end - from; w++) {
          const word = d[from + w]!;
          into[byteBase + 2 * w] = word & 0xff;
          into[byteBase + 2 * w + 1] = word >>> 8;
        }
      }
    }
    return into;
  }

  /** The buckets of the set, ascending (for tests and tools, not for hot paths). */
  *buckets(): IterableIterator<number> {
    const bytes = this.toBytes();
    for (let i = 0; i < BITSET_BYTES; i++) {
      const byte = bytes[i]!;
      if (byte === 0) continue;
      for (let bit = 0; bit < 8; bit++) if ((byte & (1 << bit)) !== 0) yield i * 8 + bit;
    }
  }

  /**
   * The set of the first BITSET_BYTES bytes of `bytes` (Confidence's layout; missing bytes are
   * zero). `words` must view the same memory as 31,250 Uint32 (little-endian, as every
   * platform Node runs on): the caller's scratch buffer, reused for every set of a load.
   */
  static fromWords(words: Uint32Array): CompactBitset {
    if (words.length < WORDS32) throw new RangeError(`fromWords needs ${WORDS32} words, got ${words.length}`);
    const forms = new Int32Array(CHUNKS);
    const sizes = new Int32Array(CHUNKS);
    let total = 0;
    let count = 0;
    for (let c = 0; c < CHUNKS; c++) {
      const first = c * 2048;
      const last = Math.min(first + 2048, WORDS32);
      let n = 0;
      let runs = 0;
      let carry = 0;
      // The most members in a 256-bucket block (8 words): whether SPLIT can count them in a nibble.
      let blockMax = 0;
      let block = 0;
      for (let j = first; j < last; j++) {
        if (((j - first) & 7) === 0) {
          if (block > blockMax) blockMax = block;
          block = 0;
        }
        const w = words[j]! | 0;
        if (w === 0) {
          carry = 0;
          continue;
        }
        const ones = popcount32(w);
        n += ones;
        block += ones;
        runs += popcount32(w & ~((w << 1) | carry));
        carry = w >>> 31;
      }
      if (block > blockMax) blockMax = block;
      count += n;
      const bits = chunkBits(c);
      const bitmapWords = bits >>> 4;
      const groups = c === CHUNKS - 1 ? LAST_GROUPS : 16;
      const splitWords = blockMax <= 15 ? 5 * groups + ((n + 1) >>> 1) : Infinity;
      const listed = Math.min(n, splitWords);
      const form =
        n === 0 ? EMPTY
        : n === bits ? FULL
        : 2 * runs <= listed && 2 * runs <= bitmapWords ? RUNS
        : listed <= bitmapWords ? (splitWords < n ? SPLIT : ARRAY)
        : BITMAP;
      const size = form === RUNS ? 2 * runs : form === ARRAY ? n : form === SPLIT ? splitWords : form === BITMAP ? bitmapWords : 0;
      forms[c] = form;
      sizes[c] = size;
      total += size;
    }
    const buffer = new ArrayBuffer(regionBytes(total));
    const header = new Int32Array(buffer, 0, HEADER);
    const data = new Uint16Array(buffer, HEADER_BYTES, total);
    let at = 0;
    for (let c = 0; c < CHUNKS; c++) {
      header[c] = (at << 3) | forms[c]!;
      const first = c * 2048;
      const last = Math.min(first + 2048, WORDS32);
      if (forms[c] === ARRAY) writeMembers(words, first, last, data, at);
      else if (forms[c] === RUNS) writeRuns(words, first, last, data, at);
      else if (forms[c] === SPLIT) writeSplit(words, first, last, data, at, c === CHUNKS - 1 ? LAST_GROUPS : 16);
      else if (forms[c] === BITMAP) {
        for (let j = first; j < last; j++) {
          const w = words[j]!;
          data[at + 2 * (j - first)] = w & 0xffff;
          data[at + 2 * (j - first) + 1] = w >>> 16;
        }
      }
      at += sizes[c]!;
    }
    header[CHUNKS] = at << 3;
    header[CHUNKS + 1] = count;
    return new CompactBitset(new Int32Array(buffer), new Uint16Array(buffer), 0);
  }

  /** A set from sorted or unsorted bucket indices in [0, SEGMENT_BUCKETS) (tests, tools). */
  static fromBuckets(buckets: Iterable<number>, scratch: Uint32Array = new Uint32Array(WORDS32)): CompactBitset {
    scratch.fill(0);
    for (const b of buckets) scratch[b >>> 5] = scratch[b >>> 5]! | (1 << (b & 31));
    return CompactBitset.fromWords(scratch);
  }

  /**
   * Packs sets into one ArrayBuffer, to move them between threads: post `buffer` in the
   * transfer list (zero copy) with `offsets`, and rebuild with `readTransfer` on the other
   * side. `offsets[i]` is the byte offset of set i's region; a region's header says its length.
   */
  static toTransfer(sets: readonly CompactBitset[]): BitsetTransfer {
    const offsets = new Uint32Array(sets.length);
    let bytes = 0;
    for (let i = 0; i < sets.length; i++) {
      offsets[i] = bytes;
      bytes += sets[i]!.byteLength;
    }
    const buffer = new ArrayBuffer(bytes);
    const into = new Uint8Array(buffer);
    for (let i = 0; i < sets.length; i++) {
      const s = sets[i]!;
      into.set(s.bytes, offsets[i]);
    }
    return { buffer, offsets };
  }

  /**
   * The sets `toTransfer` packed, as views of `transfer.buffer` (no copy: the sets keep the
   * buffer alive). Checks every region's header, so a damaged buffer throws here, not later.
   */
  static fromTransfer(transfer: BitsetTransfer): CompactBitset[] {
    const read = CompactBitset.readTransfer(transfer);
    return Array.from(transfer.offsets, (_, i) => read(i));
  }

  /**
   * Reads the sets `toTransfer` packed one at a time, for a caller that yields between them:
   * `read(i)` is set i as a view of `transfer.buffer` (no copy), its region checked. The sets
   * share two views of the buffer, made here, rather than each holding two of its own.
   */
  static readTransfer(transfer: BitsetTransfer): (i: number) => CompactBitset {
    const { buffer, offsets } = transfer;
    const header = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    const data = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    return (i) => {
      const at = offsets[i];
      if (at === undefined) throw new RangeError(`bitset ${i}: the transfer holds ${offsets.length}`);
      if (at % 4 !== 0 || at + HEADER_BYTES > buffer.byteLength) throw new RangeError(`bitset ${i}: offset ${at} is outside the buffer`);
      checkRegion(header, at >>> 2, buffer.byteLength - at - HEADER_BYTES, i);
      return new CompactBitset(header, data, at);
    };
  }
}

/** Sets packed into one buffer (see `CompactBitset.toTransfer`). */
export interface BitsetTransfer {
  readonly buffer: ArrayBufferLike;
  /** Byte offset of each set's region in `buffer`. */
  readonly offsets: Uint32Array;
}

/** Bytes of a region of `words` chunk words, rounded to whole Int32 so regions pack aligned. */
function regionBytes(words: number): number {
  return HEADER_BYTES + ((2 * words + 3) & ~3);
}

/** Checks the header at `header[head]` of set `i`, with `available` bytes after it. */
function checkRegion(header: Int32Array, head: number, available: number, i: number): void {
  const end = header[head + CHUNKS]! >>> 3;
  if ((header[head + CHUNKS]! & 7) !== 0 || regionBytes(end) - HEADER_BYTES > available) throw new RangeError(`bitset ${i}: its region overruns the buffer`);
  let count = 0;
  for (let c = 0; c < CHUNKS; c++) {
    const form = header[head + c]! & 7;
    const size = (header[head + c + 1]! >>> 3) - (header[head + c]! >>> 3);
    const bits = chunkBits(c);
    const ok =
      form === EMPTY || form === FULL ? size === 0
      : form === ARRAY ? size > 0 && size <= bits >>> 4
      : form === RUNS ? size > 0 && size % 2 === 0
      : form === SPLIT ? size > 5 * (c === CHUNKS - 1 ? LAST_GROUPS : 16)
      : form === BITMAP && size === bits >>> 4;
    if (!ok) throw new RangeError(`bitset ${i}: chunk ${c} has form ${form} and ${size} words`);
    if (form === FULL) count += bits;
  }
  const total = header[head + CHUNKS + 1]!;
  if (total < count || total > SEGMENT_BUCKETS) throw new RangeError(`bitset ${i}: count ${total} is impossible`);
}

/** Blocks of 16 × 256 buckets in the last chunk (67 blocks of 256, rounded up to whole groups). */
const LAST_GROUPS = Math.ceil((SEGMENT_BUCKETS - (CHUNKS - 1) * 65_536) / 256 / 16);

/** Sum of the eight nibbles of a 32-bit word. */
function nibbleSum(x: number): number {
  const bytes = (x & 0x0f0f0f0f) + ((x >>> 4) & 0x0f0f0f0f);
  return Math.imul(bytes, 0x01010101) >>> 24;
}

/** `has` in a SPLIT chunk at `from` with `groups` groups of 16 blocks. */
function splitHas(d: Uint16Array, from: number, groups: number, lo: number): boolean {
  const h = lo >>> 8;
  const k = h & 15;
  const nibbles = from + groups + ((h >>> 4) << 2);
  const a = d[nibbles]! | (d[nibbles + 1]! << 16);
  const b = d[nibbles + 2]! | (d[nibbles + 3]! << 16);
  // Members before this block: the group's running count, then the nibbles before it.
  const before = k < 8 ? nibbleSum(a & ((1 << (k << 2)) - 1)) : nibbleSum(a) + nibbleSum(b & ((1 << ((k - 8) << 2)) - 1));
  let i = d[from + (h >>> 4)]! + before;
  const end = i + ((k < 8 ? a >>> (k << 2) : b >>> ((k - 8) << 2)) & 15);
  const low = lo & 0xff;
  const lows = from + 5 * groups;
  for (; i < end; i++) {
    const byte = (d[lows + (i >>> 1)]! >>> ((i & 1) << 3)) & 0xff;
    if (byte >= low) return byte === low;
  }
  return false;
}

/** Writes a SPLIT chunk (see SPLIT) at `data[at]`; `data` is zero there. */
function writeSplit(words: Uint32Array, first: number, last: number, data: Uint16Array, at: number, groups: number): void {
  let total = 0;
  const lows = at + 5 * groups;
  for (let h = 0; h * 8 < last - first; h++) {
    if ((h & 15) === 0) data[at + (h >>> 4)] = total;
    let count = 0;
    const end = Math.min(first + 8 * h + 8, last);
    for (let j = first + 8 * h; j < end; j++) {
      let w = words[j]! | 0;
      while (w !== 0) {
        const low = (((j - first) << 5) + lowestBit(w)) & 0xff;
        data[lows + (total >>> 1)] = data[lows + (total >>> 1)]! | (low << ((total & 1) << 3));
        total++;
        count++;
        w &= w - 1;
      }
    }
    data[at + groups + (h >>> 2)] = data[at + groups + (h >>> 2)]! | (count << ((h & 3) << 2));
  }
}

function fillRange(bytes: Uint8Array, first: number, last: number): void {
  for (let i = first; i <= last; i++) bytes[i >>> 3] = bytes[i >>> 3]! | (1 << (i & 7));
}

/** Writes the chunk's members (low 16 bits) ascending at `data[at]`. */
function writeMembers(words: Uint32Array, first: number, last: number, data: Uint16Array, at: number): void {
  for (let j = first; j < last; j++) {
    let w = words[j]! | 0;
    const base = (j - first) << 5;
    while (w !== 0) {
      data[at++] = base + lowestBit(w);
      w &= w - 1;
    }
  }
}

/** Writes the chunk's runs as (first, last) pairs of low 16 bits at `data[at]`. */
function writeRuns(words: Uint32Array, first: number, last: number, data: Uint16Array, at: number): void {
  let inRun = false;
  for (let j = first; j < last; j++) {
    let w = words[j]! | 0;
    const base = (j - first) << 5;
    for (;;) {
      if (inRun) {
        const zeros = ~w;
        if (zeros === 0) break; // the run goes on into the next word
        const end = lowestBit(zeros);
        data[at++] = base + end - 1;
        inRun = false;
        w &= -1 << end;
      }
      if (w === 0) break;
      const start = lowestBit(w);
      data[at++] = base + start;
      inRun = true;
      w |= (1 << start) - 1; // below the start counts as ones, so the run's end is the first zero above it
    }
  }
  if (inRun) data[at] = ((last - first) << 5) - 1;
}
