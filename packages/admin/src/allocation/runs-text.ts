/**
 * The workspace's encoding of a bucket set (`buckets.runs`): its runs as a bit stream, then
 * base64 in lines of 76 characters. No general-purpose compression, so the same set gives
 * the same text on every machine, and close to the information either kind of set carries:
 * ~11 bits per aligned block (what the allocator places), ~10 bits per lone bucket of a
 * scattered set at 0.5% (what the uniform allocator of earlier versions placed; gzip of
 * its bitset took ~13).
 *
 * Stream (bits, most significant first): k1 and k2 (5 bits each), the number of runs + 1
 * (Elias gamma), then per run, with `gap` counted from the end of the previous run (or 0):
 * - `0`  a single bucket: Rice(gap, k1);
 * - `10` an aligned block of 16 (start a multiple of 16): Rice((start − previous end rounded
 *   up to a multiple of 16) / 16, k2);
 * - `11` any other run: Rice(gap, k1), then Elias gamma of its length − 1.
 * Rice(v, k): v >> k in unary (ones, then a zero), then the k low bits of v; a quotient of 32
 * or more is written as 32 ones followed by v in 21 bits. k1 and k2 are chosen per set as the
 * ones giving the shortest stream.
 */
import { SEGMENT_BUCKETS } from '@allot/core';

import { RunsBuilder, type Runs } from './runs.js';

const LINE = 76;
const BLOCK = 16;
const ESCAPE = 32;
const RAW_BITS = 21;

/** The text of `runs`: base64 lines joined by "\n". */
export function runsToText(runs: Runs): string {
  const singles: number[] = [];
  const blocks: number[] = [];
  forEachRun(runs, (kind, value) => (kind === 'block' ? blocks : singles).push(value));
  const k1 = bestK(singles);
  const k2 = bestK(blocks);
  const out = new BitWriter();
  out.bits(k1, 5);
  out.bits(k2, 5);
  out.gamma(runs.length / 2 + 1);
  forEachRun(runs, (kind, value, length) => {
    if (kind === 'single') {
      out.bits(0, 1);
      out.rice(value, k1);
    } else if (kind === 'block') {
      out.bits(2, 2);
      out.rice(value, k2);
    } else {
      out.bits(3, 2);
      out.rice(value, k1);
      out.gamma(length - 1);
    }
  });
  const base64 = Buffer.from(out.finish()).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += LINE) lines.push(base64.slice(i, i + LINE));
  return lines.join('\n');
}

/** The runs `text` encodes; throws an Error saying what is wrong. */
export function runsFromText(text: string): Runs {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw new Error('expected base64 of the bucket runs');
  const input = new BitReader(Buffer.from(compact, 'base64'));
  const k1 = input.bits(5);
  const k2 = input.bits(5);
  const count = input.gamma() - 1;
  const out = new RunsBuilder();
  let previous = 0;
  for (let r = 0; r < count; r++) {
    let start: number;
    let length: number;
    const single = input.bits(1) === 0;
    if (single) {
      start = previous + input.rice(k1);
      length = 1;
    } else if (input.bits(1) === 0) {
      start = alignUp(previous) + input.rice(k2) * BLOCK;
      length = BLOCK;
    } else {
      start = previous + input.rice(k1);
      length = input.gamma() + 1;
    }
    const end = start + length;
    if (end > SEGMENT_BUCKETS) throw new Error(`the bucket runs reach bucket ${end - 1}, past the last bucket (${SEGMENT_BUCKETS - 1})`);
    out.add(start, end);
    previous = end;
  }
  input.expectEnd();
  return out.build();
}

type Kind = 'single' | 'block' | 'run';

/** Each run's kind and the value its gap is written as. */
function forEachRun(runs: Runs, visit: (kind: Kind, value: number, length: number) => void): void {
  let previous = 0;
  for (let i = 0; i < runs.length; i += 2) {
    const start = runs[i]!;
    const length = runs[i + 1]! - start;
    if (length === 1) visit('single', start - previous, 1);
    else if (length === BLOCK && start % BLOCK === 0) visit('block', (start - alignUp(previous)) / BLOCK, BLOCK);
    else visit('run', start - previous, length);
    previous = start + length;
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function riceLength(v: number, k: number): number {
  const q = Math.floor(v / 2 ** k);
  return q >= ESCAPE ? ESCAPE + RAW_BITS : q + 1 + k;
}

/** The Rice parameter that writes `values` in the fewest bits. */
function bestK(values: readonly number[]): number {
  let best = 0;
  let bestBits = Infinity;
  for (let k = 0; k < 21; k++) {
    let bits = 0;
    for (const v of values) bits += riceLength(v, k);
    if (bits < bestBits) {
      bestBits = bits;
      best = k;
    }
  }
  return best;
}

class BitWriter {
  private bytes = new Uint8Array(256);
  private bitLength = 0;

  bits(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.bit(Math.floor(value / 2 ** i) % 2);
  }

  rice(v: number, k: number): void {
    const q = Math.floor(v / 2 ** k);
    if (q >= ESCAPE) {
      for (let i = 0; i < ESCAPE; i++) this.bit(1);
      this.bits(v, RAW_BITS);
      return;
    }
    for (let i = 0; i < q; i++) this.bit(1);
    this.bit(0);
    this.bits(v, k);
  }

  /** Elias gamma of n ≥ 1. */
  gamma(n: number): void {
    const width = Math.floor(Math.log2(n)) + 1;
    this.bits(0, width - 1);
    this.bits(n, width);
  }

  finish(): Uint8Array {
    return this.bytes.subarray(0, Math.ceil(this.bitLength / 8));
  }

  private bit(b: number): void {
    const byte = this.bitLength >>> 3;
    if (byte >= this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    if (b !== 0) this.bytes[byte]! |= 0x80 >>> (this.bitLength & 7);
    this.bitLength++;
  }
}

class BitReader {
  private position = 0;

  constructor(private readonly bytes: Uint8Array) {}

  bit(): number {
    if (this.position >= this.bytes.length * 8) throw new Error('the bucket runs end inside a run');
    const b = (this.bytes[this.position >>> 3]! >>> (7 - (this.position & 7))) & 1;
    this.position++;
    return b;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  rice(k: number): number {
    let q = 0;
    while (q < ESCAPE && this.bit() === 1) q++;
    if (q === ESCAPE) return this.bits(RAW_BITS);
    return q * 2 ** k + this.bits(k);
  }

  gamma(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 30) throw new Error('the bucket runs hold a number out of range');
    }
    return 2 ** zeros + this.bits(zeros);
  }

  /** The stream ends here, but for zero padding to a whole byte. */
  expectEnd(): void {
    const rest = this.bytes.length * 8 - this.position;
    if (rest >= 8) throw new Error(`the bucket runs go on past their last run (${rest >>> 3} bytes more)`);
    while (this.position < this.bytes.length * 8) if (this.bit() !== 0) throw new Error('the bucket runs go on past their last run');
  }
}
