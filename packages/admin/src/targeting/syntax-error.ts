import { AdminError } from '../errors.js';

/** Characters of the expression shown either side of the column in a long expression. */
const EXCERPT = 60;

/**
 * An INVALID_ARGUMENT error pointing at a column of a targeting expression:
 *
 *     segments.beta.targeting: column 13: expected a value, got "]"
 *       country in [SE, ]
 *                       ^
 *
 * A long expression is shown cut to the part around the column (`…` marks the cuts), so
 * the message stays short whatever the input.
 */
export function targetingError(path: string, text: string, column: number, message: string): AdminError {
  const at = column - 1;
  const from = Math.max(0, at - EXCERPT);
  const to = Math.min(text.length, at + EXCERPT);
  const head = from > 0 ? '…' : '';
  const tail = to < text.length ? '…' : '';
  const line = `${head}${text.slice(from, to)}${tail}`.replace(/[\r\n\t]/g, ' ');
  return new AdminError(
    'INVALID_ARGUMENT',
    `column ${column}: ${message}\n  ${line}\n  ${' '.repeat(head.length + Math.max(0, at - from))}^`,
    { path },
  );
}
