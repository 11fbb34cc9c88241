import { AdminError } from '../errors.js';

/**
 * An INVALID_ARGUMENT error pointing at a column of a targeting expression:
 *
 *     segments.beta.targeting: column 13: expected a value, got "]"
 *       country in [SE, ]
 *                       ^
 */
export function targetingError(path: string, text: string, column: number, message: string): AdminError {
  const line = text.replace(/[\r\n\t]/g, ' ');
  return new AdminError(
    'INVALID_ARGUMENT',
    `column ${column}: ${message}\n  ${line}\n  ${' '.repeat(Math.max(0, column - 1))}^`,
    { path },
  );
}
