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
} as const;

export type TargetingLimit = keyof typeof TARGETING_LIMITS;

/**
 * How much targeting a whole workspace may hold, summed over its segments and the inline
 * audiences of its rules (archived ones included: they stay in the file). Every write
 * parses the whole file and every change recompiles the whole state, so this bounds what
 * one request costs however many expressions it took to get there: at the limit, about a
 * tenth of a second to parse and a few tenths to compile and load (bench/targeting.bench.ts).
 * Checked by `WorkspaceFile.update` (so by the CLI and the server); an operation that
 * would take the workspace past it, or further past it, is refused.
 */
export const WORKSPACE_TARGETING_LIMITS = {
  /** Conditions of all expressions together. */
  maxClauses: 10_000,
  /** UTF-8 bytes of all expressions' text together (1 MiB). */
  maxBytes: 1_048_576,
} as const;
