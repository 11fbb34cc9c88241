/**
 * Audiences as the preview sees them: a segment's targeting split into conditions whose
 * match the population decides (maximal sub-expressions with no segment reference) and
 * references to other segments, whose match depends on their buckets as well (core checks a
 * referenced segment's allocation and targeting for the same unit).
 */
import type { Expr, Literal, Targeting } from '../targeting/ast.js';
import type { AudienceCondition } from './types.js';

export type AudienceNode =
  | { readonly kind: 'and' | 'or'; readonly operands: readonly AudienceNode[] }
  | { readonly kind: 'not'; readonly operand: AudienceNode }
  /** Index into the registry's conditions. */
  | { readonly kind: 'condition'; readonly index: number }
  | { readonly kind: 'segment'; readonly segment: string };

/** The conditions met in both workspaces, numbered once: the same text is the same condition. */
export class ConditionRegistry {
  readonly conditions: AudienceCondition[] = [];
  private readonly byText = new Map<string, number>();

  /** The audience tree of `targeting` (null: everyone). */
  audienceOf(targeting: Targeting | null): AudienceNode | null {
    return targeting === null ? null : this.node(targeting.expr);
  }

  private node(e: Expr): AudienceNode {
    if (!refersToSegments(e)) return { kind: 'condition', index: this.indexOf(e) };
    switch (e.kind) {
      case 'and':
      case 'or':
        return { kind: e.kind, operands: e.operands.map((o) => this.node(o)) };
      case 'not':
        return { kind: 'not', operand: this.node(e.operand) };
      case 'segment':
        return { kind: 'segment', segment: e.segment };
      default:
        throw new Error(`unreachable: ${e.kind} refers to no segment`);
    }
  }

  private indexOf(e: Expr): number {
    const text = printExpr(e);
    let index = this.byText.get(text);
    if (index === undefined) {
      index = this.conditions.length;
      this.conditions.push({ label: conditionLabel(index), text, targeting: { source: text, expr: e } });
      this.byText.set(text, index);
    }
    return index;
  }
}

/** `A` … `Z`, `AA`, `AB`, …: spreadsheet-style column names. */
export function conditionLabel(index: number): string {
  let label = '';
  let n = index + 1;
  while (n > 0) {
    const r = (n - 1) % 26;
    label = String.fromCharCode(65 + r) + label;
    n = Math.floor((n - 1) / 26);
  }
  return label;
}

function refersToSegments(e: Expr): boolean {
  switch (e.kind) {
    case 'and':
    case 'or':
      return e.operands.some(refersToSegments);
    case 'not':
      return refersToSegments(e.operand);
    case 'segment':
      return true;
    default:
      return false;
  }
}

/** Canonical text of an expression: one spelling per meaning of the syntax tree. */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return e.operands.map((o) => (o.kind === 'and' || o.kind === 'or' ? `(${printExpr(o)})` : printExpr(o))).join(` ${e.kind} `);
    case 'not':
      return `not ${e.operand.kind === 'and' || e.operand.kind === 'or' ? `(${printExpr(e.operand)})` : printExpr(e.operand)}`;
    case 'compare':
      return `${e.attribute} ${e.op} ${printLiteral(e.value)}`;
    case 'in':
      return `${e.attribute} ${e.negated ? 'not in' : 'in'} [${e.values.map(printLiteral).join(', ')}]`;
    case 'text':
      return `${e.attribute} ${e.op} ${JSON.stringify(e.value)}`;
    case 'null':
      return `${e.attribute} is ${e.negated ? 'not ' : ''}null`;
    case 'segment':
      return `segment ${e.segment}`;
  }
}

function printLiteral(l: Literal): string {
  switch (l.type) {
    case 'string':
      return JSON.stringify(l.value);
    case 'number':
    case 'bool':
      return String(l.value);
    case 'version':
      return `version(${JSON.stringify(l.value)})`;
    case 'timestamp':
      return `timestamp(${JSON.stringify(l.value)})`;
  }
}
