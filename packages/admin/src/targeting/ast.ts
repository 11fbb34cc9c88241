/**
 * The targeting expression language's syntax tree. A `Targeting` keeps the text it was
 * parsed from: the workspace stores the text, the compiler reads the tree.
 */

/** A typed literal: the type decides how core compares context values with it. */
export type Literal =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  /** A semantic version, kept as written (`2.1.0`). */
  | { readonly type: 'version'; readonly value: string }
  /** An ISO 8601 timestamp, kept as written (`2026-01-01T00:00:00Z`). */
  | { readonly type: 'timestamp'; readonly value: string };

export type ComparisonOperator = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type TextOperator = 'starts with' | 'ends with' | 'contains';

export type Expr =
  | { readonly kind: 'and'; readonly operands: readonly Expr[] }
  | { readonly kind: 'or'; readonly operands: readonly Expr[] }
  | { readonly kind: 'not'; readonly operand: Expr }
  | { readonly kind: 'compare'; readonly attribute: string; readonly op: ComparisonOperator; readonly value: Literal }
  | { readonly kind: 'in'; readonly attribute: string; readonly negated: boolean; readonly values: readonly Literal[] }
  | { readonly kind: 'text'; readonly attribute: string; readonly op: TextOperator; readonly value: string }
  | { readonly kind: 'null'; readonly attribute: string; readonly negated: boolean }
  | { readonly kind: 'segment'; readonly segment: string };

export interface Targeting {
  /** The expression as written (trimmed). */
  readonly source: string;
  readonly expr: Expr;
}

/** Ids of the segments an expression refers to (`segment x`), in order of appearance. */
export function segmentReferences(expr: Expr, into: string[] = []): string[] {
  switch (expr.kind) {
    case 'and':
    case 'or':
      for (const e of expr.operands) segmentReferences(e, into);
      break;
    case 'not':
      segmentReferences(expr.operand, into);
      break;
    case 'segment':
      into.push(expr.segment);
      break;
    default:
      break;
  }
  return into;
}
