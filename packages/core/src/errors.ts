import type { StateIssue } from './types.js';

/** A state was rejected at load. `issues` lists every problem found, each with its path. */
export class StateError extends Error {
  readonly code = 'INVALID_STATE' as const;
  readonly issues: readonly StateIssue[];

  constructor(issues: readonly StateIssue[]) {
    const shown = issues.slice(0, 20).map((i) => `  ${i.path}: ${i.message}`);
    const more = issues.length > 20 ? [`  … and ${issues.length - 20} more`] : [];
    super(
      `invalid resolver state (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        [...shown, ...more].join('\n'),
    );
    this.name = 'StateError';
    this.issues = issues;
  }
}

export type ResolveErrorCode = 'CLIENT_NOT_FOUND' | 'INVALID_REQUEST';

/** A resolve request that cannot be served at all (as opposed to one flag's error reason). */
export class ResolveError extends Error {
  readonly code: ResolveErrorCode;

  constructor(code: ResolveErrorCode, message: string) {
    super(message);
    this.name = 'ResolveError';
    this.code = code;
  }
}
