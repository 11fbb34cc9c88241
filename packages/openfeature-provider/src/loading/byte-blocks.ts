import { setImmediate as nextTurn } from 'node:timers/promises';

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

/** A response's body, read piece by piece into `ByteBlocks` (no turn copies all of it). */
export async function bodyBlocks(response: Response): Promise<{ blocks: Uint8Array[] }>;
/** …or null, the rest not read, once it is over `limit` bytes. */
export async function bodyBlocks(response: Response, limit: number): Promise<{ blocks: Uint8Array[] } | null>;
export async function bodyBlocks(response: Response, limit = Infinity): Promise<{ blocks: Uint8Array[] } | null> {
  const bytes = new ByteBlocks();
  if (response.body !== null)
    await readBody(response.body as ReadableStream<Uint8Array>, (chunk) => {
      bytes.push(chunk);
      return bytes.byteLength <= limit;
    });
  return bytes.byteLength <= limit ? { blocks: bytes.blocks() } : null;
}

/** Bytes a body reader takes in one turn of the event loop before it lets the loop run. */
export const READ_TURN_BYTES: number = 256 * 1024;

/**
 * Reads `body` to its end (or until `take` answers false), handing each chunk to `take`, and lets the event loop run
 * (`setImmediate`) once READ_TURN_BYTES have been taken in a turn. Reading with
 * `await reader.read()` in a loop is a chain of microtasks: while the socket has data buffered,
 * it drains all of it without the event loop turning (turns of 40–70 ms, several per reload,
 * while a server on the same machine streamed a 26 MB state).
 */
export async function readBody(body: ReadableStream<Uint8Array>, take: (chunk: Uint8Array) => unknown): Promise<void> {
  const reader = body.getReader();
  let inTurn = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    if (take(value) === false) {
      // The reader wants no more: the rest is not read.
      await reader.cancel();
      return;
    }
    inTurn += value.byteLength;
    if (inTurn >= READ_TURN_BYTES) {
      inTurn = 0;
      await nextTurn();
    }
  }
}
