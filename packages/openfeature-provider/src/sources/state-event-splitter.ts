/**
 * Takes whole states pushed over Server-Sent Events out of the stream as bytes, so that a
 * 10 MB `state` or `reset` event goes to the loader's worker without being decoded, split
 * into lines and joined into a string on the application's thread. Only events written as
 * `allot serve` writes them (first line `event: state` or `event: reset`, lines ended by LF)
 * are taken; every other byte goes on, in order, to the SSE parser as text.
 */
import { ByteBlocks } from '../loading/byte-blocks.js';

const LF = 0x0a;
const encoder = new TextEncoder();
const PREFIXES: readonly { readonly event: 'state' | 'reset'; readonly bytes: Uint8Array }[] = [
  { event: 'state', bytes: encoder.encode('event: state\n') },
  { event: 'reset', bytes: encoder.encode('event: reset\n') },
];
const BLANK_LINE = encoder.encode('\n\n');

/** A whole state as it came: the event's bytes, up to and including the blank line that ends it. */
export interface StateEventBytes {
  readonly event: 'state' | 'reset';
  /** The event's `id` field ('' when it has none). */
  readonly id: string;
  /** The bytes in blocks of their own, to transfer to the loader's worker. */
  readonly blocks: Uint8Array[];
}

export class StateEventSplitter {
  /** The chunks of the state event being received, or null while passing bytes on. */
  private event: { readonly kind: 'state' | 'reset'; readonly bytes: ByteBlocks } | null = null;
  /** Whether the next byte starts an event. */
  private atEventStart = true;
  /** Whether the last byte seen was LF (a blank line can straddle two chunks). */
  private afterLf = false;
  /** The start of a chunk's last event, too short to tell whether it is a state. */
  private held: Uint8Array | null = null;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly text: (text: string) => void,
    private readonly state: (event: StateEventBytes) => void,
  ) {}

  feed(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.held !== null) {
      buf = new Uint8Array(this.held.length + chunk.length);
      buf.set(this.held);
      buf.set(chunk, this.held.length);
      this.held = null;
    }
    let at = 0;
    while (at < buf.length) {
      if (this.event === null && this.atEventStart) {
        const rest = buf.subarray(at);
        const prefix = PREFIXES.find((p) => startsWith(rest, p.bytes) || startsWith(p.bytes, rest));
        if (prefix !== undefined && rest.length < prefix.bytes.length) {
          this.held = rest.slice();
          return;
        }
        if (prefix !== undefined) this.event = { kind: prefix.event, bytes: new ByteBlocks() };
        this.atEventStart = false;
      }
      const end = this.eventEnd(buf, at);
      const piece = buf.subarray(at, end < 0 ? buf.length : end);
      if (this.event !== null) this.event.bytes.push(piece);
      else this.text(this.decoder.decode(piece, { stream: true }));
      if (end < 0) {
        this.afterLf = buf[buf.length - 1] === LF;
        return;
      }
      this.afterLf = false;
      this.atEventStart = true;
      if (this.event !== null) this.finishEvent();
      at = end;
    }
  }

  /** Where the event under way ends in `buf` (after its blank line), or -1 past the end. */
  private eventEnd(buf: Uint8Array, from: number): number {
    if (this.afterLf && buf[from] === LF) return from + 1;
    const i = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf(BLANK_LINE, from);
    return i < 0 ? -1 : i + 2;
  }

  private finishEvent(): void {
    const { kind, bytes } = this.event!;
    this.event = null;
    const blocks = bytes.blocks();
    this.state({ event: kind, id: idOf(blocks[0]!), blocks });
  }
}

/** The `id` field among the lines before the first `data` line. */
function idOf(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).toString('utf8');
  let id = '';
  for (const line of head.split('\n')) {
    if (line.startsWith('data')) break;
    if (line === 'id' || line.startsWith('id:')) id = line.slice(3).replace(/^ /, '');
  }
  return id;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
