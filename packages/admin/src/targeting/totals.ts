/**
 * The workspace-wide targeting totals that WORKSPACE_TARGETING_LIMITS bound.
 */
import { AdminError } from '../errors.js';
import type { Workspace } from '../workspace/model.js';
import type { Expr, Targeting } from './ast.js';
import { WORKSPACE_TARGETING_LIMITS } from './limits.js';

export interface TargetingTotals {
  /** Conditions over every expression. */
  readonly clauses: number;
  /** UTF-8 bytes of every expression's text. */
  readonly bytes: number;
}

/** The targeting totals of `workspace` (segments and inline rule audiences). */
export function targetingTotals(workspace: Workspace): TargetingTotals {
  let clauses = 0;
  let bytes = 0;
  const add = (t: Targeting | null): void => {
    if (t === null) return;
    clauses += countClauses(t.expr);
    bytes += Buffer.byteLength(t.source, 'utf8');
  };
  for (const s of workspace.segments) add(s.targeting);
  for (const f of workspace.flags) {
    for (const r of f.rules) if (r.kind !== 'individual' && r.audience.kind === 'inline') add(r.audience.targeting);
  }
  return { clauses, bytes };
}

function countClauses(expr: Expr): number {
  switch (expr.kind) {
    case 'and':
    case 'or': {
      let n = 0;
      for (const e of expr.operands) n += countClauses(e);
      return n;
    }
    case 'not':
      return countClauses(expr.operand);
    default:
      return 1;
  }
}

/**
 * Refuses (INVALID_ARGUMENT, with `limit`) a change from `before` to `after` that takes the
 * workspace's targeting past WORKSPACE_TARGETING_LIMITS, or further past them (a file edited
 * by hand beyond them can still be made smaller).
 */
export function checkTargetingTotals(before: Workspace, after: Workspace): void {
  const a = targetingTotals(after);
  const { maxClauses, maxBytes } = WORKSPACE_TARGETING_LIMITS;
  if (a.clauses <= maxClauses && a.bytes <= maxBytes) return;
  const b = targetingTotals(before);
  const advice = 'archive segments you no longer need, or combine audiences by referring to segments ("segment ID") instead of repeating conditions';
  if (a.clauses > maxClauses && a.clauses > b.clauses) {
    throw new AdminError(
      'INVALID_ARGUMENT',
      `the workspace's targeting would hold ${a.clauses} conditions in all, over the limit of ${maxClauses} (workspace.maxClauses); ${advice}`,
      { path: 'targeting', limit: { name: 'workspace.maxClauses', max: maxClauses, actual: a.clauses } },
    );
  }
  if (a.bytes > maxBytes && a.bytes > b.bytes) {
    throw new AdminError(
      'INVALID_ARGUMENT',
      `the workspace's targeting expressions would be ${a.bytes} bytes in all, over the limit of ${maxBytes} (workspace.maxBytes); ${advice}`,
      { path: 'targeting', limit: { name: 'workspace.maxBytes', max: maxBytes, actual: a.bytes } },
    );
  }
}
