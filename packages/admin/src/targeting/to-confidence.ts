/**
 * Targeting expressions to Confidence's `targeting` JSON: one named criterion (`c1`, `c2`,
 * ...) per condition, in order of appearance, and an expression of `ref`/`and`/`or`/`not`
 * over them. Negated operators (`!=`, `not in`, `is not null`) become `not` of a criterion.
 */
import type { JsonValue } from '@allot/core';

import type { Expr, Literal, Targeting } from './ast.js';

type JsonObject = { [key: string]: JsonValue };

const RANGE_BOUND = {
  '<': 'endExclusive',
  '<=': 'endInclusive',
  '>': 'startExclusive',
  '>=': 'startInclusive',
} as const;

/** The Confidence targeting object for `targeting`; `{}` (no criteria) for everyone. */
export function toConfidenceTargeting(targeting: Targeting | null): JsonObject {
  if (targeting === null) return {};
  const criteria: JsonObject = {};
  const expression = compile(targeting.expr, { criteria, count: 0 });
  return { criteria, expression };
}

/** The criteria named so far; `count` is kept alongside so naming one stays O(1). */
interface Criteria {
  readonly criteria: JsonObject;
  count: number;
}

function compile(expr: Expr, into: Criteria): JsonObject {
  const criterion = (body: JsonObject): JsonObject => {
    const name = `c${++into.count}`;
    into.criteria[name] = body;
    return { ref: name };
  };
  const attribute = (name: string, rule: JsonObject): JsonObject => criterion({ attribute: { attributeName: name, ...rule } });
  switch (expr.kind) {
    case 'and':
    case 'or':
      return { [expr.kind]: { operands: expr.operands.map((e) => compile(e, into)) } };
    case 'not':
      return { not: compile(expr.operand, into) };
    case 'segment':
      return criterion({ segment: { segment: `segments/${expr.segment}` } });
    case 'null': {
      const ref = attribute(expr.attribute, { eqRule: { value: {} } });
      return expr.negated ? { not: ref } : ref;
    }
    case 'in': {
      const ref = attribute(expr.attribute, { setRule: { values: expr.values.map(literalValue) } });
      return expr.negated ? { not: ref } : ref;
    }
    case 'text': {
      const kind = expr.op === 'starts with' ? 'startsWithRule' : expr.op === 'ends with' ? 'endsWithRule' : 'containsRule';
      return attribute(expr.attribute, { [kind]: { value: expr.value } });
    }
    case 'compare': {
      if (expr.op === '==' || expr.op === '!=') {
        const ref = attribute(expr.attribute, { eqRule: { value: literalValue(expr.value) } });
        return expr.op === '!=' ? { not: ref } : ref;
      }
      return attribute(expr.attribute, { rangeRule: { [RANGE_BOUND[expr.op]]: literalValue(expr.value) } });
    }
  }
}

/** A literal as Confidence's proto `Value`. */
export function literalValue(literal: Literal): JsonObject {
  switch (literal.type) {
    case 'string':
      return { stringValue: literal.value };
    case 'number':
      return { numberValue: literal.value };
    case 'bool':
      return { boolValue: literal.value };
    case 'version':
      return { versionValue: { version: literal.value } };
    case 'timestamp':
      return { timestampValue: literal.value };
  }
}
