/**
 * A recursive-descent parser for targeting expressions (grammar in the package README):
 *
 *     expr       := or
 *     or         := and ("or" and)*
 *     and        := unary ("and" unary)*
 *     unary      := "not" unary | "(" expr ")" | "segment" ID | condition
 *     condition  := ATTR ("==" | "!=" | "<" | "<=" | ">" | ">=") literal
 *                 | ATTR ["not"] "in" "[" literal ("," literal)* "]"
 *                 | ATTR ("starts" "with" | "ends" "with" | "contains") STRING
 *                 | ATTR "is" ["not"] "null"
 *     literal    := STRING | NUMBER | VERSION | TIMESTAMP | "true" | "false" | WORD
 *                 | "version" "(" STRING ")" | "timestamp" "(" STRING ")"
 */
import { parseTimestamp, parseVersion } from '@allot/core';

import { AdminError } from '../errors.js';
import type { ComparisonOperator, Expr, Literal, Targeting, TextOperator } from './ast.js';
import { tokenize, type Token } from './lexer.js';
import { TARGETING_LIMITS } from './limits.js';
import { targetingError } from './syntax-error.js';

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'segment', 'starts', 'ends', 'with', 'contains']);
const { maxBytes, maxClauses, maxDepth, maxValues } = TARGETING_LIMITS;
/**
 * Parentheses and `not`s nested as written, a guard for the parser's own recursion: far
 * more than any expression within `maxDepth` needs (`((x))` adds nothing to the compiled
 * depth), far less than would overflow the stack.
 */
const MAX_NESTING = 4 * maxDepth;

/**
 * Parses a targeting expression; throws an INVALID_ARGUMENT `AdminError` whose message names
 * `path` and points at the column. A blank text is "everyone" and returns null. Linear in
 * the text's length; an expression over one of `TARGETING_LIMITS` is refused (the error's
 * `limit` names it), its size checked before any parsing.
 */
export function parseTargeting(text: string, path: string): Targeting | null {
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    throw new AdminError(
      'INVALID_ARGUMENT',
      `the expression is ${bytes} bytes, over the limit of ${maxBytes} bytes (targeting.maxBytes); ` +
        'put long lists of ids in an individual-targeting rule, or split the audience into segments and combine them with "segment ID"',
      { path, limit: { name: 'targeting.maxBytes', max: maxBytes, actual: bytes } },
    );
  }
  const source = text.trim();
  if (source === '') return null;
  const parser = new Parser(source, path);
  return { source, expr: parser.parse() };
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  /** Parentheses and `not`s open at this point (see MAX_NESTING). */
  private nesting = 0;
  private clauses = 0;
  /** Levels of and/or/not of each node that has any (absent: 0). */
  private readonly levels = new Map<Expr, number>();

  constructor(
    private readonly text: string,
    private readonly path: string,
  ) {
    this.tokens = tokenize(text, path);
  }

  parse(): Expr {
    const expr = this.or();
    const t = this.peek();
    if (t.kind !== 'end') {
      throw this.error(t, `expected "and", "or" or the end of the expression, got ${show(t)}`);
    }
    return expr;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.pos++;
    return t;
  }

  private isWord(t: Token, word: string): boolean {
    return t.kind === 'word' && t.text === word;
  }

  private expectWord(word: string, context: string): void {
    const t = this.next();
    if (!this.isWord(t, word)) throw this.error(t, `expected "${word}" ${context}, got ${show(t)}`);
  }

  private expect(kind: Token['kind'], what: string): Token {
    const t = this.next();
    if (t.kind !== kind) throw this.error(t, `expected ${what}, got ${show(t)}`);
    return t;
  }

  private error(t: Token, message: string): AdminError {
    return targetingError(this.path, this.text, t.column, message);
  }

  private or(): Expr {
    const start = this.peek();
    const operands = [this.and()];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      operands.push(this.and());
    }
    return operands.length === 1 ? operands[0]! : this.group('or', operands, start);
  }

  private and(): Expr {
    const start = this.peek();
    const operands = [this.unary()];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      operands.push(this.unary());
    }
    return operands.length === 1 ? operands[0]! : this.group('and', operands, start);
  }

  /** An and/or node; operands of the same kind (from parentheses) are merged into it. */
  private group(kind: 'and' | 'or', operands: Expr[], start: Token): Expr {
    const flat = operands.flatMap((e) => (e.kind === kind ? e.operands : [e]));
    let deepest = 0;
    for (const e of flat) deepest = Math.max(deepest, this.level(e));
    return this.leveled({ kind, operands: flat }, deepest + 1, start);
  }

  private level(e: Expr): number {
    return this.levels.get(e) ?? 0;
  }

  /** Records `e`'s level of and/or/not, refusing it past `maxDepth`. */
  private leveled(e: Expr, level: number, at: Token): Expr {
    if (level > maxDepth) {
      throw this.limit(at, 'targeting.maxDepth', maxDepth, level, `nested deeper than ${maxDepth} levels of and, or and not (targeting.maxDepth)`);
    }
    this.levels.set(e, level);
    return e;
  }

  private limit(at: Token, name: string, max: number, actual: number, message: string): AdminError {
    const e = this.error(at, message);
    return new AdminError(e.code, e.message.slice(this.path.length + 2), { path: this.path, limit: { name, max, actual } });
  }

  /** Counts one condition, refusing the expression past `maxClauses`. */
  private clause(at: Token): void {
    if (++this.clauses > maxClauses) {
      throw this.limit(at, 'targeting.maxClauses', maxClauses, this.clauses, `more than ${maxClauses} conditions (targeting.maxClauses); split the audience into segments and combine them with "segment ID"`);
    }
  }

  private unary(): Expr {
    const t = this.peek();
    if (++this.nesting > MAX_NESTING) {
      throw this.limit(t, 'targeting.maxDepth', maxDepth, this.nesting, `parentheses and "not" nested more than ${MAX_NESTING} deep (the limit is ${maxDepth} levels of and, or and not: targeting.maxDepth)`);
    }
    try {
      if (this.isWord(t, 'not')) {
        this.next();
        const operand = this.unary();
        return this.leveled({ kind: 'not', operand }, this.level(operand) + 1, t);
      }
      if (t.kind === '(') {
        this.next();
        const inner = this.or();
        this.expect(')', 'a closing ")"');
        return inner;
      }
      if (this.isWord(t, 'segment') && this.peek(1).kind === 'word') {
        this.clause(t);
        this.next();
        const id = this.next();
        return { kind: 'segment', segment: id.text };
      }
      this.clause(t);
      const condition = this.condition();
      // A negated condition compiles to `not` of a criterion: one level.
      return negated(condition) ? this.leveled(condition, 1, t) : condition;
    } finally {
      this.nesting--;
    }
  }

  private condition(): Expr {
    const attr = this.next();
    if (attr.kind !== 'word' || KEYWORDS.has(attr.text)) {
      throw this.error(attr, `expected an attribute name, "not", "segment" or "(", got ${show(attr)}`);
    }
    const attribute = attr.text;
    const t = this.next();
    if (t.kind === 'op') {
      const op = t.text as ComparisonOperator;
      const valueToken = this.peek();
      const value = this.literal(op);
      if (value.type === 'bool' && op !== '==' && op !== '!=') {
        throw this.error(valueToken, `"${op}" compares numbers, versions, timestamps or strings, not booleans`);
      }
      if (op !== '==' && op !== '!=' && valueToken.kind === 'word' && value.type === 'string') {
        throw this.error(
          valueToken,
          `"${op}" needs a number, a version (2.1.0 or version("2.1.0")), a timestamp or a quoted string, got the word ${show(valueToken)}; ` +
            `quote it ("${valueToken.text}") to compare text in alphabetical order`,
        );
      }
      return { kind: 'compare', attribute, op, value };
    }
    if (this.isWord(t, 'in')) return { kind: 'in', attribute, negated: false, values: this.list() };
    if (this.isWord(t, 'not')) {
      this.expectWord('in', 'after "not" in a condition (as in "country not in [SE]")');
      return { kind: 'in', attribute, negated: true, values: this.list() };
    }
    if (this.isWord(t, 'starts') || this.isWord(t, 'ends')) {
      this.expectWord('with', `after "${t.text}"`);
      return { kind: 'text', attribute, op: `${t.text} with` as TextOperator, value: this.textOperand() };
    }
    if (this.isWord(t, 'contains')) return { kind: 'text', attribute, op: 'contains', value: this.textOperand() };
    if (this.isWord(t, 'is')) {
      const negated = this.isWord(this.peek(), 'not');
      if (negated) this.next();
      this.expectWord('null', `after "is${negated ? ' not' : ''}"`);
      return { kind: 'null', attribute, negated };
    }
    throw this.error(
      t,
      `expected an operator after attribute ${JSON.stringify(attribute)} (==, !=, <, <=, >, >=, in, not in, starts with, ends with, contains, is null), got ${show(t)}`,
    );
  }

  private textOperand(): string {
    const t = this.next();
    if (t.kind === 'string' || (t.kind === 'word' && !KEYWORDS.has(t.text))) return t.text;
    if (t.kind === 'number' || t.kind === 'version' || t.kind === 'timestamp') return t.text;
    throw this.error(t, `expected a string, got ${show(t)}`);
  }

  private list(): Literal[] {
    this.expect('[', 'a list such as [SE, NO]');
    const values: Literal[] = [];
    if (this.peek().kind === ']') throw this.error(this.peek(), 'expected at least one value in the list');
    for (;;) {
      const at = this.peek();
      if (values.length === maxValues) {
        throw this.limit(at, 'targeting.maxValues', maxValues, values.length + 1, `more than ${maxValues} values in one list (targeting.maxValues); put a cohort this large in a segment of its own and refer to it with "segment ID"`);
      }
      values.push(this.literal('in'));
      const t = this.next();
      if (t.kind === ']') return values;
      if (t.kind !== ',') throw this.error(t, `expected "," or "]" in the list, got ${show(t)}`);
    }
  }

  private literal(after: string): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { type: 'string', value: t.text };
      case 'number':
        return { type: 'number', value: Number(t.text) };
      case 'version':
        return { type: 'version', value: t.text };
      case 'timestamp':
        if (Number.isNaN(parseTimestamp(t.text))) throw this.error(t, `not a valid timestamp: ${t.text}`);
        return { type: 'timestamp', value: t.text };
      case 'word': {
        if (t.text === 'true' || t.text === 'false') return { type: 'bool', value: t.text === 'true' };
        if ((t.text === 'version' || t.text === 'timestamp') && this.peek().kind === '(') {
          return this.typed(t.text);
        }
        if (KEYWORDS.has(t.text)) {
          throw this.error(t, `expected a value after "${after}", got the keyword "${t.text}" (quote it to use it as a string)`);
        }
        return { type: 'string', value: t.text };
      }
      default:
        throw this.error(t, `expected a value after "${after}", got ${show(t)}`);
    }
  }

  private typed(type: 'version' | 'timestamp'): Literal {
    this.next(); // (
    const arg = this.next();
    if (arg.kind === 'end' || arg.kind === ')' ) throw this.error(arg, `expected a quoted ${type}, got ${show(arg)}`);
    const text = arg.text;
    if (type === 'version' ? parseVersion(text) === null : Number.isNaN(parseTimestamp(text))) {
      throw this.error(arg, type === 'version' ? `not a semantic version: ${JSON.stringify(text)}` : `not an ISO 8601 timestamp: ${JSON.stringify(text)}`);
    }
    this.expect(')', 'a closing ")"');
    return { type, value: text };
  }
}

function negated(e: Expr): boolean {
  return (e.kind === 'compare' && e.op === '!=') || ((e.kind === 'in' || e.kind === 'null') && e.negated);
}

function show(t: Token): string {
  if (t.kind === 'end') return 'the end of the expression';
  if (t.kind === 'string') return `the string ${JSON.stringify(t.text)}`;
  return JSON.stringify(t.text);
}
