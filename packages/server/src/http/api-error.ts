/**
 * The one error type every handler throws. It becomes the JSON body
 * `{"error": {"code", "message", "field", ...details}}` with `status`; `code` is stable
 * (clients branch on it), `message` says what was wrong and what to do, `field` names the
 * request field, query parameter or header at fault.
 */
import { AdminError, type AdminErrorCode } from '@allot/admin';

export type ApiErrorCode =
  | AdminErrorCode
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'CLIENT_NOT_FOUND'
  | 'UNAVAILABLE'
  /** A caller's share of the server's time is spent (429, with Retry-After). */
  | 'RESOURCE_EXHAUSTED'
  | 'INTERNAL';

export interface ApiErrorOptions {
  readonly field?: string | undefined;
  /** Extra members of the error object (e.g. the conflicting segments of INSUFFICIENT_SPACE). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Extra response headers (e.g. `www-authenticate`, `allow`, `retry-after`). */
  readonly headers?: Readonly<Record<string, string>>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly field: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: ApiErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = options.field;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }

  /** The response body. */
  body(): { error: Record<string, unknown> } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field === undefined ? {} : { field: this.field }),
        ...this.details,
      },
    };
  }
}

/** A 400 INVALID_ARGUMENT about `field`. */
export function invalid(field: string, message: string): ApiError {
  return new ApiError(400, 'INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

const STATUS: Readonly<Record<AdminErrorCode, number>> = {
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  INSUFFICIENT_SPACE: 409,
  ETAG_MISMATCH: 412,
  LOCK_TIMEOUT: 503,
  // The file on disk is broken (edited by hand?): nothing the request can fix.
  INVALID_WORKSPACE: 500,
};

/**
 * The HTTP form of an `AdminError`. Admin paths are workspace paths
 * (`segments.exp-1.allocation.proportion`); `prefix` (`segments.exp-1.`, or a pattern) is cut off so the
 * field names the request's field (`allocation.proportion`).
 */
export function fromAdminError(error: AdminError, prefix: string | RegExp = ''): ApiError {
  const path = error.path;
  const field = path === undefined ? undefined : typeof prefix === 'string' ? (prefix !== '' && path.startsWith(prefix) ? path.slice(prefix.length) : path) : path.replace(prefix, '');
  const details: Record<string, unknown> = {};
  if (error.space !== undefined) {
    details.space = {
      segment: `segments/${error.space.segment}`,
      conflictingSegments: error.space.conflicting.map((s) => `segments/${s}`),
      neededBuckets: error.space.needed,
      freeBuckets: error.space.free,
      needed: { value: String(error.space.needed / 1_000_000) },
      free: { value: String(error.space.free / 1_000_000) },
    };
  }
  if (error.issues.length > 0) details.issues = error.issues;
  if (error.limit !== undefined) details.limit = error.limit;
  const headers = error.code === 'LOCK_TIMEOUT' ? { 'retry-after': '1' } : {};
  return new ApiError(STATUS[error.code], error.code, error.message, { field, details, headers });
}

/** Runs `fn`, turning an AdminError into an ApiError (see `fromAdminError`). */
export function translated<T>(fn: () => T, prefix: string | RegExp = ''): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof AdminError) throw fromAdminError(error, prefix);
    throw error;
  }
}
