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

import type { ComparisonOperator, Expr, Literal, Targeting, TextOperator } from './ast.js';
import { tokenize, type Token } from './lexer.js';
import { targetingError } from './syntax-error.js';

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'segment', 'starts', 'ends', 'with', 'contains']);
const MAX_DEPTH = 48;

/**
 * Parses a targeting expression; throws an INVALID_ARGUMENT `AdminError` whose message names
 * `path` and points at the column. A blank text is "everyone" and returns null.
 */
export function parseTargeting(text: string, path: string): Targeting | null {
  const source = text.trim();
  if (source === '') return null;
  const parser = new Parser(source, path);
  return { source, expr: parser.parse() };
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private depth = 0;

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

  private error(t: Token, message: string): Error {
    return targetingError(this.path, this.text, t.column, message);
  }

  private or(): Expr {
    const operands = [this.and()];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      operands.push(this.and());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands: flatten('or', operands) };
  }

  private and(): Expr {
    const operands = [this.unary()];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      operands.push(this.unary());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands: flatten('and', operands) };
  }

  private unary(): Expr {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH) throw this.error(t, `expression nested deeper than ${MAX_DEPTH} levels`);
    try {
      if (this.isWord(t, 'not')) {
        this.next();
        return { kind: 'not', operand: this.unary() };
      }
      if (t.kind === '(') {
        this.next();
        const inner = this.or();
        this.expect(')', 'a closing ")"');
        return inner;
      }
      if (this.isWord(t, 'segment') && this.peek(1).kind === 'word') {
        this.next();
        const id = this.next();
        return { kind: 'segment', segment: id.text };
      }
      return this.condition();
    } finally {
      this.depth--;
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

function flatten(kind: 'and' | 'or', operands: Expr[]): Expr[] {
  return operands.flatMap((e) => (e.kind === kind ? e.operands : [e]));
}

function show(t: Token): string {
  if (t.kind === 'end') return 'the end of the expression';
  if (t.kind === 'string') return `the string ${JSON.stringify(t.text)}`;
  return JSON.stringify(t.text);
}
