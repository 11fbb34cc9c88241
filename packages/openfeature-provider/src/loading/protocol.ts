/** The messages between the state loader (the application's thread) and its worker. */
import type { StateIssue } from '@allot/core';
import type { SourceErrorCode } from '../sources/source-error.js';
import type { PreparedLoad } from './state-text.js';

/** The parse options a worker needs (plain data: they are structured-cloned). */
export interface WorkerParseOptions {
  readonly accountId?: string;
  readonly workspacePath?: string;
}

export type LoadRequest =
  | { readonly id: number; readonly kind: 'text'; readonly text: string; readonly origin: string; readonly options: WorkerParseOptions }
  /** Read by the worker, so that neither reading nor decoding a large file runs on the application's thread. */
  | {
      readonly id: number;
      readonly kind: 'file';
      readonly path: string;
      /** The digest of the content loaded last: the same content answers `unchanged`. */
      readonly unlessDigest: string | null;
      readonly origin: string;
      readonly options: WorkerParseOptions;
    };

export type LoadReply =
  /** Posted once the worker's script has loaded: from then on a worker that exits has crashed. */
  | { readonly id: 0; readonly kind: 'ready' }
  | { readonly id: number; readonly kind: 'prepared'; readonly load: Omit<PreparedLoad, 'transfer'>; readonly digest: string | null }
  | { readonly id: number; readonly kind: 'unchanged'; readonly digest: string }
  | {
      readonly id: number;
      readonly kind: 'failed';
      readonly error: { readonly code: SourceErrorCode; readonly message: string; readonly issues: readonly StateIssue[] };
    };
