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
 * A workspace document that failed with the secrets file beside it read too: whether the same
 * bytes load another time depends on that file as well.
 */
export class WithSecretsError extends SourceError {}

/**
 * Whether `error`, thrown loading some bytes, is decided by those bytes alone: invalid
 * content. Not a workspace read with its secrets file, a missing `@allot/admin`, nor a bug.
 */
export function decidedByContent(error: unknown): error is SourceError {
  return error instanceof SourceError && error.code === 'INVALID_STATE' && !(error instanceof WithSecretsError);
}

/**
 * A file whose content did not load, for a reason the content alone decides
 * (`decidedByContent`), with the content's digest: the file source does not try (or report)
 * the same content again when another change event names it.
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
}
