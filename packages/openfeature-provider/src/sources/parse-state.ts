/**
 * Turning bytes from a file or a response into a compiled state: every source loads through
 * `parseState`, which hands large texts to the state loader's worker thread and assembles the
 * result in slices (loading/state-loader.ts), so the application's event loop never waits
 * for a whole parse. `compileState` loads JSON the application already holds, on its thread.
 */
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

/** Compiles resolver-state JSON on the calling thread; throws `SourceError` listing the problems with their paths. */
export function compileState(json: unknown, origin: string, options: ParseOptions = {}): LoadedState {
  return compileJson(json, origin, options);
}
