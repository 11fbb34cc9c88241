/**
 * Confidence's targeting JSON (named `criteria` and an `expression` of `ref`/`and`/`or`/`not`
 * over them, as the seeds send it) to allot's targeting expression text, which admin parses
 * and stores. `{}` is everyone. A string is taken as an expression already. What allot's
 * language cannot express (`anyRule`/`allRule` over lists, an empty `setRule`) is refused
 * with the field named, rather than stored as something that means otherwise.
 *
 * The result is parsed right away, so an expression that is malformed or over one of admin's
 * `TARGETING_LIMITS` is a 400 before the request goes near the workspace. The conversion
 * itself stays within those limits as it goes (criteria, references, depth, and the text it
 * produces), so a hostile body cannot make it expensive either.
 */
import { isValidId, parseTargeting, TARGETING_LIMITS } from '@allot/admin';
import { parseTimestamp, parseVersion } from '@allot/core';

import { ApiError, invalid, translated } from '../http/api-error.js';
import { describe, isObject, join, readObject, type JsonObject } from './fields.js';

const ATTRIBUTE = /^[A-Za-z_$][A-Za-z0-9_$.-]*$/;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'segment', 'starts', 'ends', 'with', 'contains', 'true', 'false', 'version', 'timestamp']);
const { maxBytes, maxClauses, maxDepth, maxValues } = TARGETING_LIMITS;

/**
 * The expression text for a `targeting` field (`''` for everyone), checked: a 400 naming the
 * field (and, past a limit, `limit`) when admin would refuse it.
 */
export function targetingExpression(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value : fromJson(value, field);
  translated(() => parseTargeting(text, field));
  return text;
}

function fromJson(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  const targeting = readObject(value, field, ['criteria', 'expression']);
  const criteriaField = join(field, 'criteria');
  if (targeting.criteria !== undefined && !isObject(targeting.criteria)) throw invalid(criteriaField, `expected an object of named criteria, got ${describe(targeting.criteria)}`);
  const criteria = targeting.criteria ?? {};
  const count = Object.keys(criteria).length;
  if (count > maxClauses) throw overLimit(criteriaField, 'targeting.maxClauses', maxClauses, count, `${count} criteria, over the limit of ${maxClauses} (targeting.maxClauses)`);
  if (targeting.expression === undefined) {
    if (count > 0) throw invalid(join(field, 'expression'), 'required when criteria are given (e.g. {"ref": "c1"})');
    return '';
  }
  return new Converter(criteria, criteriaField, join(field, 'expression')).expression(targeting.expression, join(field, 'expression'), 0);
}

function overLimit(field: string, name: string, max: number, actual: number, message: string): ApiError {
  return new ApiError(400, 'INVALID_ARGUMENT', `${field}: ${message}`, { field, details: { limit: { name, max, actual } } });
}

class Converter {
  /** References converted so far: each becomes one condition of the expression. */
  private refs = 0;
  /** Characters of condition text produced so far (a lower bound of its bytes). */
  private chars = 0;

  constructor(
    private readonly criteria: JsonObject,
    private readonly criteriaField: string,
    private readonly expressionField: string,
  ) {}

  expression(node: unknown, field: string, depth: number): string {
    if (depth > maxDepth) throw overLimit(field, 'targeting.maxDepth', maxDepth, depth, `nested deeper than ${maxDepth} levels (targeting.maxDepth)`);
    if (!isObject(node)) throw invalid(field, `expected an expression object (ref, and, or, not), got ${describe(node)}`);
    const keys = Object.keys(node);
    if (keys.length !== 1) throw invalid(field, `expected exactly one of ref, and, or, not; got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
    const kind = keys[0]!;
    const inner = node[kind];
    const at = join(field, kind);
    switch (kind) {
      case 'ref': {
        if (typeof inner !== 'string') throw invalid(at, `expected a criterion name, got ${describe(inner)}`);
        if (!Object.hasOwn(this.criteria, inner)) {
          throw invalid(at, `no criterion ${JSON.stringify(inner)} in criteria (${Object.keys(this.criteria).join(', ') || 'none'})`);
        }
        if (++this.refs > maxClauses) {
          throw overLimit(this.expressionField, 'targeting.maxClauses', maxClauses, this.refs, `more than ${maxClauses} references to criteria (targeting.maxClauses)`);
        }
        const text = this.criterion(this.criteria[inner], join(this.criteriaField, inner));
        this.chars += text.length;
        if (this.chars > maxBytes) {
          throw overLimit(this.expressionField, 'targeting.maxBytes', maxBytes, this.chars, `the expression would be over ${maxBytes} bytes (targeting.maxBytes)`);
        }
        return text;
      }
      case 'not':
        return `not (${this.expression(inner, at, depth + 1)})`;
      case 'and':
      case 'or': {
        const operands = readObject(inner, at, ['operands']).operands;
        if (!Array.isArray(operands) || operands.length === 0) {
          throw invalid(join(at, 'operands'), `expected a non-empty list of expressions, got ${describe(operands)}`);
        }
        const parts = operands.map((o: unknown, i) => `(${this.expression(o, `${at}.operands[${i}]`, depth + 1)})`);
        return parts.join(` ${kind} `);
      }
      default:
        throw invalid(at, 'unknown expression; expected ref, and, or, not');
    }
  }

  private criterion(value: unknown, field: string): string {
    const c = readObject(value, field, ['attribute', 'segment']);
    if (c.segment !== undefined && c.attribute === undefined) {
      const ref = readObject(c.segment, join(field, 'segment'), ['segment']).segment;
      const at = join(field, 'segment.segment');
      if (typeof ref !== 'string') throw invalid(at, `expected a segment name such as "segments/beta", got ${describe(ref)}`);
      const id = ref.startsWith('segments/') ? ref.slice('segments/'.length) : ref;
      if (!isValidId(id)) throw invalid(at, `${JSON.stringify(ref)} is not a segment name such as "segments/beta"`);
      return `segment ${id}`;
    }
    if (c.attribute === undefined || c.segment !== undefined) throw invalid(field, 'expected exactly one of attribute, segment');
    return this.attribute(c.attribute, join(field, 'attribute'));
  }

  private attribute(value: unknown, field: string): string {
    const RULES = ['eqRule', 'setRule', 'rangeRule', 'startsWithRule', 'endsWithRule', 'containsRule', 'anyRule', 'allRule'];
    const a = readObject(value, field, ['attributeName', ...RULES]);
    const name = a.attributeName;
    const nameField = join(field, 'attributeName');
    if (typeof name !== 'string') throw invalid(nameField, `expected an attribute name, got ${describe(name)}`);
    if (!ATTRIBUTE.test(name) || KEYWORDS.has(name)) {
      throw invalid(nameField, `${JSON.stringify(name)} cannot be used as an attribute name: use letters, digits, _ $ . - (starting with a letter, _ or $), and no keyword`);
    }
    const rules = RULES.filter((r) => a[r] !== undefined);
    if (rules.length !== 1) throw invalid(field, `expected exactly one rule (${RULES.join(', ')}), got ${rules.length === 0 ? 'none' : rules.join(', ')}`);
    const kind = rules[0]!;
    const at = join(field, kind);
    switch (kind) {
      case 'eqRule': {
        const v = readObject(a[kind], at, ['value']).value;
        const literal = this.literal(v ?? {}, join(at, 'value'));
        return literal === null ? `${name} is null` : `${name} == ${literal}`;
      }
      case 'setRule': {
        const values = readObject(a[kind], at, ['values']).values;
        if (!Array.isArray(values) || values.length === 0) {
          throw invalid(join(at, 'values'), `expected a non-empty list of values, got ${describe(values)}`);
        }
        if (values.length > maxValues) {
          throw overLimit(
            join(at, 'values'),
            'targeting.maxValues',
            maxValues,
            values.length,
            `${values.length} values, over the limit of ${maxValues} in one list (targeting.maxValues); put a cohort this large in a segment of its own and refer to it`,
          );
        }
        const literals = values.map((v: unknown, i) => {
          const l = this.literal(v, `${at}.values[${i}]`);
          if (l === null) throw invalid(`${at}.values[${i}]`, 'null cannot be in a set; use eqRule with {} for "is null"');
          return l;
        });
        return `${name} in [${literals.join(', ')}]`;
      }
      case 'rangeRule': {
        const BOUNDS = { startInclusive: '>=', startExclusive: '>', endInclusive: '<=', endExclusive: '<' } as const;
        const r = readObject(a[kind], at, Object.keys(BOUNDS));
        if (r.startInclusive !== undefined && r.startExclusive !== undefined) throw invalid(at, 'give startInclusive or startExclusive, not both');
        if (r.endInclusive !== undefined && r.endExclusive !== undefined) throw invalid(at, 'give endInclusive or endExclusive, not both');
        const parts = (Object.keys(BOUNDS) as (keyof typeof BOUNDS)[])
          .filter((b) => r[b] !== undefined)
          .map((b) => {
            const l = this.literal(r[b], join(at, b));
            if (l === null) throw invalid(join(at, b), 'a range bound cannot be null');
            return `${name} ${BOUNDS[b]} ${l}`;
          });
        if (parts.length === 0) throw invalid(at, 'give at least one bound (startInclusive, startExclusive, endInclusive, endExclusive)');
        return parts.join(' and ');
      }
      case 'startsWithRule':
      case 'endsWithRule':
      case 'containsRule': {
        const v = readObject(a[kind], at, ['value']).value;
        const text = isObject(v) && typeof v.stringValue === 'string' && Object.keys(v).length === 1 ? v.stringValue : v;
        if (typeof text !== 'string') throw invalid(join(at, 'value'), `expected a string, got ${describe(v)}`);
        const op = kind === 'startsWithRule' ? 'starts with' : kind === 'endsWithRule' ? 'ends with' : 'contains';
        return `${name} ${op} ${quote(text)}`;
      }
      default:
        throw invalid(at, `${kind} (rules over list attributes) is not supported by allot's targeting language yet`);
    }
  }

  /** A proto `Value` as a literal of the language; null for `{}` / nullValue. */
  private literal(value: unknown, field: string): string | null {
    const keys = ['stringValue', 'numberValue', 'boolValue', 'timestampValue', 'versionValue', 'nullValue'];
    const v = readObject(value, field, keys);
    const present = keys.filter((k) => v[k] !== undefined);
    if (present.length === 0) return null;
    if (present.length > 1) throw invalid(field, `expected one of ${keys.join(', ')}; got ${present.join(', ')}`);
    const kind = present[0]!;
    const x = v[kind];
    const at = join(field, kind);
    switch (kind) {
      case 'stringValue':
        if (typeof x !== 'string') throw invalid(at, `expected a string, got ${describe(x)}`);
        return quote(x);
      case 'numberValue':
        if (typeof x !== 'number' || !Number.isFinite(x)) throw invalid(at, `expected a number, got ${describe(x)}`);
        return String(x);
      case 'boolValue':
        if (typeof x !== 'boolean') throw invalid(at, `expected true or false, got ${describe(x)}`);
        return String(x);
      case 'timestampValue':
        if (typeof x !== 'string' || Number.isNaN(parseTimestamp(x))) throw invalid(at, `expected an ISO 8601 timestamp such as "2026-01-01T00:00:00Z", got ${describe(x)}`);
        return `timestamp(${quote(x)})`;
      case 'versionValue': {
        const text = isObject(x) ? readObject(x, at, ['version']).version : x;
        if (typeof text !== 'string' || parseVersion(text) === null) throw invalid(at, `expected {"version": "MAJOR.MINOR.PATCH"}, got ${describe(text)}`);
        return `version(${quote(text)})`;
      }
      default:
        return null;
    }
  }
}

/** A string literal of the targeting language (backslash escapes the next character). */
function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}
