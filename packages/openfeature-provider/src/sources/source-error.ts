import type { StateIssue } from '@allot/core';

export type SourceErrorCode =
  /** The content is not a valid resolver state (or workspace); `issues` says where. */
  | 'INVALID_STATE'
  /** The file could not be read. */
  | 'READ_FAILED'
  /** The HTTP request failed or answered with an unexpected status. */
  | 'FETCH_FAILED'
  /** A workspace file needs `@allot/admin`, which is not installed. */
  | 'ADMIN_MISSING'
  /** The worker thread loading the state stopped before it answered (it is replaced at the next load). */
  | 'LOADER_FAILED';

/** Why a source could not deliver a state. Messages name the source and what to do. */
export class SourceError extends Error {
  readonly code: SourceErrorCode;
  readonly issues: readonly StateIssue[];

  constructor(code: SourceErrorCode, message: string, issues: readonly StateIssue[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = 'SourceError';
    this.code = code;
    this.issues = issues;
  }
}

/**
 * A file whose content did not load, with the content's digest: the file source does not try
 * (or report) the same content again when another change event names it.
 */
export class RejectedContent extends SourceError {
  constructor(
    code: SourceErrorCode,
    message: string,
    issues: readonly StateIssue[],
    readonly digest: string,
    options?: ErrorOptions,
  ) {
    super(code, message, issues, options);
  }

  /** `error`, thrown while loading content of `digest`, as a `RejectedContent`. */
  static of(error: unknown, digest: string, origin: string): RejectedContent {
    if (error instanceof SourceError) return new RejectedContent(error.code, error.message, error.issues, digest, { cause: error.cause });
    return new RejectedContent('LOADER_FAILED', `${origin}: loading failed: ${(error as Error).message}`, [], digest, { cause: error });
  }
}
