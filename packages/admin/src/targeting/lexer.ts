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

// Sticky (`y`) patterns matched at an offset, so tokenizing never copies the rest of the
// text: linear in the expression's length.
const TIMESTAMP =
  /\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?(?![\w.:-])/y;
const VERSION = /\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?(?![\w.])/y;
const NUMBER = /-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])/y;
const WORD = /[A-Za-z_$][A-Za-z0-9_$.-]*/y;
const OPERATOR = /==|!=|<=|>=|<|>|=/y;

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
      match(TIMESTAMP, text, i, 'timestamp') ??
      match(VERSION, text, i, 'version') ??
      match(NUMBER, text, i, 'number') ??
      match(WORD, text, i, 'word') ??
      match(OPERATOR, text, i, 'op');
    if (m === undefined) {
      throw targetingError(path, text, column, `unexpected character ${JSON.stringify(c)}`);
    }
    tokens.push({ kind: m.kind, text: m.text === '=' ? '==' : m.text, column });
    i += m.text.length;
  }
  tokens.push({ kind: 'end', text: '', column: text.length + 1 });
  return tokens;
}

function match(re: RegExp, text: string, at: number, kind: TokenKind): { kind: TokenKind; text: string } | undefined {
  re.lastIndex = at;
  const m = re.exec(text);
  return m === null ? undefined : { kind, text: m[0] };
}

function readString(text: string, start: number, path: string): { value: string; end: number } {
  const quote = text[start]!;
  const parts: string[] = [];
  let run = start + 1;
  let i = run;
  while (i < text.length) {
    const c = text[i]!;
    if (c === quote) {
      parts.push(text.slice(run, i));
      return { value: parts.join(''), end: i + 1 };
    }
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) break;
      parts.push(text.slice(run, i), next === 'n' ? '\n' : next === 't' ? '\t' : next);
      i += 2;
      run = i;
      continue;
    }
    i++;
  }
  throw targetingError(path, text, start + 1, `unterminated string: add the closing ${quote}`);
}
