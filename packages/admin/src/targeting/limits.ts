import { AdminError } from '../errors.js';

/**
 * How large a targeting expression may be. Parsing and compiling are linear in the
 * expression's size, and these bounds keep that size small enough that one expression is
 * parsed and compiled in milliseconds: a server never spends seconds on one request, and a
 * workspace file holding many expressions still loads quickly. An expression over a limit
 * is refused (INVALID_ARGUMENT, with `limit` naming it) before anything is written; a
 * workspace file holding one is invalid.
 *
 * Real audiences are a few conditions; a long list of user ids belongs in an
 * individual-targeting rule, and a long list of conditions in segments referred to with
 * `segment ID`.
 */
export const TARGETING_LIMITS = {
  /** UTF-8 bytes of the expression's text (64 KiB). */
  maxBytes: 65_536,
  /** Conditions (`country == SE`, `x in [...]`, `segment beta`, ...): each compiles to one criterion. */
  maxClauses: 1_000,
  /**
   * Levels of `and` / `or` / `not` in the compiled expression (a negated condition such as
   * `!=` or `not in` counts as a `not`), and of parentheses as written.
   */
  maxDepth: 32,
  /**
   * Values in one list: an `in [...]` / `not in [...]` list (a Confidence `setRule`'s
   * `values`), or an individual-targeting rule's `values`. Each list compiles to one set
   * lookup, but parsing, checking and compiling it are linear in its length; past ten
   * thousand ids, a list is a cohort, and belongs in a segment (or a materialized one).
   */
  maxValues: 10_000,
} as const;

export type TargetingLimit = keyof typeof TARGETING_LIMITS;

/**
 * How much targeting a whole workspace may hold, summed over its segments and the inline
 * audiences of its rules (archived ones included: they stay in the file). Every write
 * parses the whole file and every change recompiles the whole state, so this bounds what
 * one request costs however many expressions it took to get there: at the limit, about a
 * tenth of a second to parse and a few tenths to compile and load (bench/targeting.bench.ts).
 * 10,000 allocated segments of one condition each fit exactly. Doubling it was measured
 * (issue 21): the slowest write to a workspace of 1,000-condition segments went from 0.7 s
 * at 10,000 conditions to 3.5 s at 20,000 on this 2-core machine under a load average of
 * 15, the file's and every expression's parse, core's load and the garbage collector all
 * growing with it; a raise waits until a write stops re-reading everything.
 * Checked by `WorkspaceFile.update` (so by the CLI and the server); an operation that
 * would take the workspace past it, or further past it, is refused.
 */
export const WORKSPACE_TARGETING_LIMITS = {
  /** Conditions of all expressions together. */
  maxClauses: 10_000,
  /** UTF-8 bytes of all expressions' text together (1 MiB). */
  maxBytes: 1_048_576,
} as const;

/**
 * How many segments a workspace may hold, not counting archived ones. Every write checks
 * and compiles the whole workspace, and every allocated segment holds a bitset, so this
 * bounds one request's cost and the file's size; 20,000 is twice the 10,000 allocated
 * segments allot is built to serve (DESIGN.md, "Performance"). Archived segments do not
 * count: they hold no buckets, their targeting counts in WORKSPACE_TARGETING_LIMITS, and
 * they stay in the file as a record that cannot be removed, so counting them would refuse
 * new segments for good once an account had made 20,000 over its life. Checked with the
 * targeting totals; an operation that would take the workspace past it, or further past
 * it, is refused.
 */
export const WORKSPACE_LIMITS = {
  /** Segments that are UNALLOCATED or ALLOCATED. */
  maxSegments: 20_000,
} as const;

/**
 * The refusal of an individual-targeting rule whose `values` (at `path`) are more than
 * TARGETING_LIMITS.maxValues.
 */
export function tooManyValues(actual: number, path: string): AdminError {
  const { maxValues } = TARGETING_LIMITS;
  return new AdminError(
    'INVALID_ARGUMENT',
    `${actual} values, over the limit of ${maxValues} in one individual-targeting rule (targeting.maxValues); ` +
      'put a cohort this large in a segment of its own (targeting it, or materialized) and serve it with a rule on that segment',
    { path, limit: { name: 'targeting.maxValues', max: maxValues, actual } },
  );
}
