/**
 * A body received in pieces (a response, a pushed event), copied as each piece arrives into
 * blocks this thread owns, so that the whole can be handed to the loader's worker by
 * transferring the blocks: no turn of the application's thread copies or decodes all of it.
 * (A stream's own pieces may share their memory with others: they cannot be transferred.)
 */
const BLOCK_BYTES = 1 << 20;

export class ByteBlocks {
  private readonly full: Uint8Array[] = [];
  private block: Uint8Array | null = null;
  private used = 0;
  private total = 0;

  push(piece: Uint8Array): void {
    let at = 0;
    while (at < piece.length) {
      if (this.block === null || this.used === this.block.length) {
        if (this.block !== null) this.full.push(this.block);
        this.block = new Uint8Array(Math.max(BLOCK_BYTES, piece.length - at));
        this.used = 0;
      }
      const n = Math.min(piece.length - at, this.block.length - this.used);
      this.block.set(piece.subarray(at, at + n), this.used);
      this.used += n;
      this.total += n;
      at += n;
    }
  }

  get byteLength(): number {
    return this.total;
  }

  /** The blocks, the last one cut to the bytes it holds; each views the whole of a buffer of its own but the last. */
  blocks(): Uint8Array[] {
    return this.block === null ? [...this.full] : [...this.full, this.block.subarray(0, this.used)];
  }
}

/** One Uint8Array of `blocks` one after another (for this thread's own use: small bodies, tests). */
export function joined(blocks: readonly Uint8Array[]): Uint8Array {
  if (blocks.length === 1) return blocks[0]!;
  return Buffer.concat(blocks);
}
