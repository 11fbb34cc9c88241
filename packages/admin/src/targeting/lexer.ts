/**
 * Tokens of the targeting language, each with the 1-based column it starts at, so that
 * parse errors can point at the exact place.
 */
import { targetingError } from './syntax-error.js';

export type TokenKind =
  | 'word'
  | 'string'
  | 'number'
  | 'version'
  | 'timestamp'
  | 'op'
  | '('
  | ')'
  | '['
  | ']'
  | ','
  | 'end';

export interface Token {
  readonly kind: TokenKind;
  /** The token's text; for strings, the unescaped value. */
  readonly text: string;
  readonly column: number;
}

const TIMESTAMP =
  /^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?(?![\w.:-])/;
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?(?![\w.])/;
const NUMBER = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])/;
const WORD = /^[A-Za-z_$][A-Za-z0-9_$.-]*/;
const OPERATOR = /^(?:==|!=|<=|>=|<|>|=)/;

export function tokenize(text: string, path: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const column = i + 1;
    const rest = text.slice(i);
    if (c === '"' || c === "'") {
      const { value, end } = readString(text, i, path);
      tokens.push({ kind: 'string', text: value, column });
      i = end;
      continue;
    }
    if ('()[],'.includes(c)) {
      tokens.push({ kind: c as '(' | ')' | '[' | ']' | ',', text: c, column });
      i++;
      continue;
    }
    const m =
      match(TIMESTAMP, rest, 'timestamp') ??
      match(VERSION, rest, 'version') ??
      match(NUMBER, rest, 'number') ??
      match(WORD, rest, 'word') ??
      match(OPERATOR, rest, 'op');
    if (m === undefined) {
      throw targetingError(path, text, column, `unexpected character ${JSON.stringify(c)}`);
    }
    tokens.push({ kind: m.kind, text: m.text === '=' ? '==' : m.text, column });
    i += m.text.length;
  }
  tokens.push({ kind: 'end', text: '', column: text.length + 1 });
  return tokens;
}

function match(re: RegExp, rest: string, kind: TokenKind): { kind: TokenKind; text: string } | undefined {
  const m = re.exec(rest);
  return m === null ? undefined : { kind, text: m[0] };
}

function readString(text: string, start: number, path: string): { value: string; end: number } {
  const quote = text[start]!;
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === quote) return { value, end: i + 1 };
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) break;
      value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  throw targetingError(path, text, start + 1, `unterminated string: add the closing ${quote}`);
}
