/**
 * Turning bytes from a file or a response into a compiled state: every source loads through
 * `parseState`, which hands large texts to the state loader's worker thread and assembles the
 * result in slices (loading/state-loader.ts), so the application's event loop never waits
 * for a whole parse. `compileState` loads JSON the application already holds, on its thread.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import { ByteBlocks } from '../loading/byte-blocks.js';
import { stateLoader } from '../loading/state-loader.js';
import { compileJson } from '../loading/state-text.js';
import type { LoadedState } from '../types.js';

export interface ParseOptions {
  /** Account id for proto-shaped states, which carry none. */
  readonly accountId?: string;
  /** The file the text came from: a workspace's client secrets are read from the secrets file beside it. */
  readonly workspacePath?: string;
  /**
   * Whether to parse and compile on the loader's worker thread: `true` always, `false` on the
   * calling thread (blocking it for the whole parse), unset: a worker for files and for texts
   * of 64 KiB or more. Hosts where a worker cannot start load on the calling thread.
   */
  readonly offThread?: boolean;
}

/** Parses and compiles `text` from `origin`; rejects with `SourceError` naming every problem. */
export function parseState(text: string, origin: string, options: ParseOptions = {}): Promise<LoadedState> {
  return stateLoader.loadText(text, origin, options);
}

/**
 * Parses and compiles a body received as UTF-8 bytes in `blocks` (`ByteBlocks`; with `sse`,
 * one Server-Sent Event whose data is the state): large ones go to the worker as bytes, so
 * the calling thread never decodes them. The blocks are handed over: do not use them after.
 */
export function parseStateBytes(blocks: readonly Uint8Array[], sse: boolean, origin: string, options: ParseOptions = {}): Promise<LoadedState> {
  return stateLoader.loadBytes(blocks, sse, origin, options);
}

/** A response's body, read piece by piece into `ByteBlocks` (no turn copies all of it). */
export async function bodyBlocks(response: Response): Promise<{ blocks: Uint8Array[] }> {
  const bytes = new ByteBlocks();
  if (response.body !== null) await readBody(response.body as ReadableStream<Uint8Array>, (chunk) => { bytes.push(chunk); });
  return { blocks: bytes.blocks() };
}

/** Bytes a body reader takes in one turn of the event loop before it lets the loop run. */
export const READ_TURN_BYTES: number = 256 * 1024;

/**
 * Reads `body` to its end, handing each chunk to `take`, and lets the event loop run
 * (`setImmediate`) once READ_TURN_BYTES have been taken in a turn. Reading with
 * `await reader.read()` in a loop is a chain of microtasks: while the socket has data buffered,
 * it drains all of it without the event loop turning (turns of 40–70 ms, several per reload,
 * while a server on the same machine streamed a 26 MB state).
 */
export async function readBody(body: ReadableStream<Uint8Array>, take: (chunk: Uint8Array) => void): Promise<void> {
  const reader = body.getReader();
  let inTurn = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    take(value);
    inTurn += value.byteLength;
    if (inTurn >= READ_TURN_BYTES) {
      inTurn = 0;
      await nextTurn();
    }
  }
}

/** Compiles resolver-state JSON on the calling thread; throws `SourceError` listing the problems with their paths. */
export function compileState(json: unknown, origin: string, options: ParseOptions = {}): LoadedState {
  return compileJson(json, origin, options);
}
