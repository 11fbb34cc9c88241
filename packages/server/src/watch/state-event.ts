/**
 * The bytes of the state watch's events (Server-Sent Events): `event: KIND`, `id: ID`, one
 * `data: ` line per line of the data, and a blank line.
 *
 * A whole state (`state`, `reset`) is not kept encoded: a prefixed copy of a 20 MB state
 * would be 22 MB more held for as long as the state is current. Its pieces are made from the
 * compiled text, which the server holds anyway, as the first watcher to need each one writes
 * it, and shared with every watcher writing the event at the same time. They are kept for
 * `keepMs` after a watcher last started the event (a burst of reconnections shares one set:
 * making them again inside a burst held the event loop up to 150 ms where sending made ones
 * held it 35–55 ms), then held weakly, and made again by the next watcher that needs them.
 */

/** An event whose `data` lines are given (`data: …` lines, without the final newline). */
export function eventBytes(kind: 'state' | 'reset' | 'delta' | 'fetch', id: string, data: string): Buffer {
  return Buffer.from(`event: ${kind}\nid: ${id}\n${data}\n\n`, 'utf8');
}

const NEWLINE = 0x0a;
/** `data: ` */
const DATA = Buffer.from('data: ', 'latin1');

/** Where a piece of text is encoded before it is prefixed (one for all: pieces are made one at a time). */
let scratch = Buffer.alloc(0);

/** The pieces made so far (views of one buffer of the event's size), where in the text the next one starts, and in the buffer. */
interface Pieces {
  readonly list: Buffer[];
  readonly bytes: Buffer;
  next: number;
  filled: number;
}

/** A whole state as an event: the bytes of `eventBytes` with a `data: ` line per line of the text. */
export class WholeState {
  /** Bytes on the wire. */
  readonly bytes: number;
  /** The text without its final newline: what the data lines carry. */
  private readonly data: string;
  private pieces: WeakRef<Pieces> | null = null;
  /** The pieces, held strongly until `keepMs` after a watcher last started the event. */
  private kept: Pieces | null = null;
  private release: NodeJS.Timeout | null = null;

  constructor(
    readonly kind: 'state' | 'reset',
    readonly id: string,
    text: string,
    /** Characters of the text per piece; a piece never ends inside a surrogate pair. */
    private readonly chunk: number,
    private readonly keepMs = 10_000,
  ) {
    this.data = text.endsWith('\n') ? text.slice(0, -1) : text;
    let lines = 1;
    for (let at = this.data.indexOf('\n'); at >= 0; at = this.data.indexOf('\n', at + 1)) lines++;
    this.bytes = Buffer.byteLength(`event: ${kind}\nid: ${id}\n\n\n`) + Buffer.byteLength(this.data) + lines * DATA.length;
  }

  /** The event's bytes in order, piece by piece; the pieces stay shared while a caller holds this generator. */
  *write(): Generator<Buffer> {
    let pieces = this.kept ?? this.pieces?.deref();
    if (pieces === undefined) {
      pieces = { list: [], bytes: Buffer.allocUnsafe(this.bytes), next: 0, filled: 0 };
      this.pieces = new WeakRef(pieces);
    }
    this.keep(pieces);
    for (let i = 0; ; i++) {
      if (i === pieces.list.length) {
        if (i > 0 && pieces.next >= this.data.length) return;
        pieces.list.push(this.piece(pieces, i === 0));
      }
      yield pieces.list[i]!;
    }
  }

  private keep(pieces: Pieces): void {
    if (this.release !== null) clearTimeout(this.release);
    this.release = null;
    if (this.keepMs <= 0) return;
    this.kept = pieces;
    this.release = setTimeout(() => {
      this.kept = null;
      this.release = null;
    }, this.keepMs);
    this.release.unref();
  }

  /** The next piece: the text from `pieces.next`, encoded and prefixed byte by byte (no string is made). */
  private piece(pieces: Pieces, first: boolean): Buffer {
    const data = this.data;
    const at = pieces.next;
    let end = Math.min(data.length, at + this.chunk);
    const last = data.charCodeAt(end - 1);
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end++;
    pieces.next = end;
    if (scratch.length < 3 * (end - at)) scratch = Buffer.allocUnsafe(3 * (end - at));
    const raw = scratch;
    const n = raw.write(data.slice(at, end), 0, 'utf8');
    let lines = 0;
    for (let i = 0; i < n; i++) if (raw[i] === NEWLINE) lines++;
    const head = first ? Buffer.from(`event: ${this.kind}\nid: ${this.id}\ndata: `, 'utf8') : null;
    const tail = end === data.length ? 2 : 0;
    const start = pieces.filled;
    pieces.filled += (head?.length ?? 0) + n + lines * DATA.length + tail;
    const out = pieces.bytes.subarray(start, pieces.filled);
    let o = head === null ? 0 : head.copy(out, 0);
    for (let i = 0; i < n; i++) {
      const byte = raw[i]!;
      out[o++] = byte;
      if (byte === NEWLINE) o += DATA.copy(out, o);
    }
    if (tail > 0) out.fill(NEWLINE, o);
    return out;
  }
}
