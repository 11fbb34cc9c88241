/**
 * The one exception type of @allot/admin. Every refusal carries a stable `code` a caller
 * (the CLI, the HTTP server) can branch on, and a message that names the field path.
 */

export type AdminErrorCode =
  /** A segment, flag, rule, group, client or variant that does not exist. */
  | 'NOT_FOUND'
  /** A value the caller gave is malformed or out of range. */
  | 'INVALID_ARGUMENT'
  /** Something with that id exists already. */
  | 'ALREADY_EXISTS'
  /** The operation is valid but not in the current state (e.g. enabling a rule on an unallocated segment). */
  | 'FAILED_PRECONDITION'
  /** Allocation does not fit: see `details` for the conflicting segments, needed and free buckets. */
  | 'INSUFFICIENT_SPACE'
  /** A workspace document that does not parse or is inconsistent: see `issues`. */
  | 'INVALID_WORKSPACE'
  /** Optimistic concurrency: the file's etag is not the one the caller expected (HTTP 412). */
  | 'ETAG_MISMATCH'
  /** The workspace lock could not be taken in time. */
  | 'LOCK_TIMEOUT';

/** One problem in a workspace document, at a path such as `segments.exp-1.allocation.proportion`. */
export interface WorkspaceIssue {
  readonly path: string;
  readonly message: string;
}

/** What an `INSUFFICIENT_SPACE` error carries. */
export interface InsufficientSpaceDetails {
  readonly segment: string;
  /** Ids of the allocated segments that conflict with it, sorted. */
  readonly conflicting: readonly string[];
  /** Buckets needed (of 1,000,000). */
  readonly needed: number;
  /** Buckets free for it (of 1,000,000). */
  readonly free: number;
}

/** What an input over a documented size limit carries (e.g. a targeting expression's bytes). */
export interface LimitDetails {
  /** The limit's name, as documented (`targeting.maxBytes`, `targeting.maxClauses`, `targeting.maxDepth`). */
  readonly name: string;
  readonly max: number;
  /** What the input had (at least this much: counting stops past the limit). */
  readonly actual: number;
}

export interface AdminErrorOptions {
  readonly path?: string;
  readonly issues?: readonly WorkspaceIssue[];
  readonly space?: InsufficientSpaceDetails;
  readonly limit?: LimitDetails;
}

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  /** The field path the error is about, when there is one. */
  readonly path: string | undefined;
  /** Every problem found, for `INVALID_WORKSPACE`. */
  readonly issues: readonly WorkspaceIssue[];
  /** Set for `INSUFFICIENT_SPACE`. */
  readonly space: InsufficientSpaceDetails | undefined;
  /** Set when an input is over a documented size limit. */
  readonly limit: LimitDetails | undefined;

  constructor(code: AdminErrorCode, message: string, options: AdminErrorOptions = {}) {
    super(options.path === undefined ? message : `${options.path}: ${message}`);
    this.name = 'AdminError';
    this.code = code;
    this.path = options.path;
    this.issues = options.issues ?? [];
    this.space = options.space;
    this.limit = options.limit;
  }
}

/** An `INVALID_WORKSPACE` error listing `issues` (at most 20 in the message). */
export function invalidWorkspace(issues: readonly WorkspaceIssue[], source?: string): AdminError {
  const shown = issues.slice(0, 20).map((i) => `  ${i.path}: ${i.message.replaceAll('\n', '\n    ')}`);
  const more = issues.length > 20 ? [`  … and ${issues.length - 20} more`] : [];
  const where = source === undefined ? 'invalid workspace' : `invalid workspace ${source}`;
  return new AdminError(
    'INVALID_WORKSPACE',
    `${where} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${[...shown, ...more].join('\n')}`,
    { issues },
  );
}

/**
 * What a write meets when the stored workspace is invalid (edited by hand, or a bad merge):
 * FAILED_PRECONDITION with the problems of `invalid` (an INVALID_WORKSPACE error) and how to
 * repair them. Nothing the write asks for can be applied until the document is repaired.
 */
export function workspaceNeedsRepair(invalid: AdminError, where: string): AdminError {
  return new AdminError(
    'FAILED_PRECONDITION',
    `no change can be applied until the stored workspace is repaired, so nothing was written: ${invalid.message}\n` +
      `repair: fix what is listed above in ${where} (or restore its last good version from version control, e.g. "git checkout -- ${where}"), then retry`,
    { issues: invalid.issues },
  );
}
