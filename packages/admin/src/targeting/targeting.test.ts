import { loadState, resolveFlags } from '@allot/core';
import { describe, expect, it } from 'vitest';

import { AdminError } from '../errors.js';
import { TARGETING_LIMITS } from './limits.js';
import { parseTargeting } from './parser.js';
import { toConfidenceTargeting } from './to-confidence.js';

const compileText = (text: string): unknown => toConfidenceTargeting(parseTargeting(text, 't'));

describe('targeting language → Confidence targeting', () => {
  it('compiles conditions to criteria in order of appearance', () => {
    expect(compileText('country in [SE, NO] and app_version >= 2.1.0')).toEqual({
      criteria: {
        c1: { attribute: { attributeName: 'country', setRule: { values: [{ stringValue: 'SE' }, { stringValue: 'NO' }] } } },
        c2: { attribute: { attributeName: 'app_version', rangeRule: { startInclusive: { versionValue: { version: '2.1.0' } } } } },
      },
      expression: { and: { operands: [{ ref: 'c1' }, { ref: 'c2' }] } },
    });
  });

  it.each([
    ['created_at < 2026-01-01T00:00:00Z', { rangeRule: { endExclusive: { timestampValue: '2026-01-01T00:00:00Z' } } }],
    ['age > 17', { rangeRule: { startExclusive: { numberValue: 17 } } }],
    ['age <= 64.5', { rangeRule: { endInclusive: { numberValue: 64.5 } } }],
    ['premium == true', { eqRule: { value: { boolValue: true } } }],
    ['name = "Ada Lovelace"', { eqRule: { value: { stringValue: 'Ada Lovelace' } } }],
    ['v >= version("2.1")', { rangeRule: { startInclusive: { versionValue: { version: '2.1' } } } }],
    ['t > timestamp("2025-06-01")', { rangeRule: { startExclusive: { timestampValue: '2025-06-01' } } }],
    ['email ends with "@allot.dev"', { endsWithRule: { value: '@allot.dev' } }],
    ['email starts with admin', { startsWithRule: { value: 'admin' } }],
    ['path contains "/beta/"', { containsRule: { value: '/beta/' } }],
    ['user.plan in ["pro", 3]', { setRule: { values: [{ stringValue: 'pro' }, { numberValue: 3 }] } }],
  ])('%s', (text, rule) => {
    const attributeName = text.split(' ')[0];
    expect(compileText(text)).toEqual({ criteria: { c1: { attribute: { attributeName, ...rule } } }, expression: { ref: 'c1' } });
  });

  it('negations, null checks, precedence and segment references', () => {
    expect(compileText('not (a == 1 or b != 2) and c not in [x] and d is null or e is not null and segment beta')).toEqual({
      criteria: {
        c1: { attribute: { attributeName: 'a', eqRule: { value: { numberValue: 1 } } } },
        c2: { attribute: { attributeName: 'b', eqRule: { value: { numberValue: 2 } } } },
        c3: { attribute: { attributeName: 'c', setRule: { values: [{ stringValue: 'x' }] } } },
        c4: { attribute: { attributeName: 'd', eqRule: { value: {} } } },
        c5: { attribute: { attributeName: 'e', eqRule: { value: {} } } },
        c6: { segment: { segment: 'segments/beta' } },
      },
      expression: {
        or: {
          operands: [
            { and: { operands: [{ not: { or: { operands: [{ ref: 'c1' }, { not: { ref: 'c2' } }] } } }, { not: { ref: 'c3' } }, { ref: 'c4' }] } },
            { and: { operands: [{ not: { ref: 'c5' } }, { ref: 'c6' }] } },
          ],
        },
      },
    });
  });

  it('blank text is everyone', () => {
    expect(parseTargeting('   ', 't')).toBeNull();
    expect(toConfidenceTargeting(null)).toEqual({});
  });

  it.each([
    ['country in [SE, ]', 17, 'expected a value after "in", got "]"'],
    ['country in [SE', 15, 'expected "," or "]" in the list, got the end of the expression'],
    ['age >= 18 and', 14, 'expected an attribute name, "not", "segment" or "(", got the end of the expression'],
    ['(a == 1', 8, 'expected a closing ")"'],
    ['a == 1 b == 2', 8, 'expected "and", "or" or the end of the expression, got "b"'],
    ['a ~ 1', 3, 'unexpected character "~"'],
    ['name == "open', 9, 'unterminated string'],
    ['flag > true', 8, '">" compares numbers, versions, timestamps or strings, not booleans'],
    ['x == in', 6, 'expected a value after "==", got the keyword "in" (quote it to use it as a string)'],
    ['v >= version("two")', 14, 'not a semantic version: "two"'],
    ['t < 2026-13-01', 5, 'not a valid timestamp'],
    ['a starts b', 10, 'expected "with" after "starts"'],
    ['a is nul', 6, 'expected "null" after "is"'],
  ])('%s → column %i', (text, column, message) => {
    let error: unknown;
    try {
      parseTargeting(text, 'segments.s.targeting');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AdminError);
    const e = error as AdminError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.path).toBe('segments.s.targeting');
    expect(e.message).toContain(`segments.s.targeting: column ${column}: ${message}`);
    // The caret sits under the column.
    const lines = e.message.split('\n');
    expect(lines[2]!.indexOf('^')).toBe(column + 1);
  });
});

describe('compiled targeting resolves in core as written', () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    ['country in [SE, NO] and app_version >= 2.1.0', { country: 'SE', app_version: '2.10.0' }, true],
    ['country in [SE, NO] and app_version >= 2.1.0', { country: 'SE', app_version: '2.0.9' }, false],
    ['country in [SE, NO] and app_version >= 2.1.0', { country: 'DK', app_version: '3.0.0' }, false],
    ['created_at < 2026-01-01T00:00:00Z', { created_at: '2025-12-31T23:59:59Z' }, true],
    ['created_at < 2026-01-01T00:00:00Z', { created_at: '2026-01-01T00:00:00Z' }, false],
    ['not (plan == free) and age >= 18', { plan: 'pro', age: 30 }, true],
    ['not (plan == free) and age >= 18', { plan: 'free', age: 30 }, false],
    ['email ends with "@allot.dev" or beta == true', { email: 'x@else.com', beta: true }, true],
    ['country not in [US]', { country: 'SE' }, true],
    ['nickname is null', {}, true],
    ['nickname is not null', { nickname: 'a' }, true],
  ];
  it.each(cases)('%s with %j → %s', (text, context, matches) => {
    const state = loadState({
      account: { name: 'accounts/t' },
      segments: { 'segments/s': { name: 'segments/s', targeting: compileText(text) } },
      flags: {
        'flags/f': {
          name: 'flags/f',
          state: 'ACTIVE',
          variants: [{ name: 'on', value: true }],
          rules: [
            {
              name: 'flags/f/rules/r',
              segment: 'segments/s',
              enabled: true,
              assignmentSpec: { bucketCount: 1, assignments: [{ variant: { variant: 'on' }, bucketRanges: [{ upper: 1 }] }] },
            },
          ],
          clients: ['clients/c'],
        },
      },
      clients: { secret: { client: { name: 'clients/c' }, clientCredential: {} } },
    });
    const r = resolveFlags(state, { evaluationContext: { targeting_key: 'u', ...context }, clientSecret: 'secret' }).resolvedFlags[0]!;
    expect(r.variant === 'on').toBe(matches);
  });
});

describe('limits (TARGETING_LIMITS): refused with the limit named, before any parsing', () => {
  const refusal = (text: string): AdminError => {
    try {
      parseTargeting(text, 'segments.s.targeting');
    } catch (e) {
      if (e instanceof AdminError) return e;
      throw e;
    }
    throw new Error('accepted');
  };
  const clauses = (n: number): string => Array.from({ length: n }, (_, i) => `country == "C${i}"`).join(' or ');

  it('bytes: a 900 KB expression of 60,000 clauses', () => {
    const text = clauses(60_000);
    const e = refusal(text);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.limit).toEqual({ name: 'targeting.maxBytes', max: TARGETING_LIMITS.maxBytes, actual: Buffer.byteLength(text) });
    expect(e.message).toMatch(/^segments\.s\.targeting: the expression is \d+ bytes, over the limit of 65536 bytes \(targeting\.maxBytes\)/);
    // The message does not echo the input.
    expect(e.message.length).toBeLessThan(400);
  });

  it('bytes are UTF-8 bytes, not characters', () => {
    const name = `"${'日'.repeat(Math.ceil(TARGETING_LIMITS.maxBytes / 3))}"`;
    expect(name.length).toBeLessThan(TARGETING_LIMITS.maxBytes);
    expect(refusal(`x == ${name}`).limit?.name).toBe('targeting.maxBytes');
  });

  it('clauses: the limit is accepted, one more is refused at its column', () => {
    expect(parseTargeting(clauses(TARGETING_LIMITS.maxClauses), 't')).not.toBeNull();
    const e = refusal(`${clauses(TARGETING_LIMITS.maxClauses)} or segment beta`);
    expect(e.limit).toEqual({ name: 'targeting.maxClauses', max: 1000, actual: 1001 });
    expect(e.message).toContain('more than 1000 conditions (targeting.maxClauses)');
    expect(e.message.split('\n')[1]).toContain('segment beta');
  });

  it('values: a list of the limit is accepted, one more is refused at the value past it', () => {
    const list = (n: number): string => `id in [${Array.from({ length: n }, (_, i) => i).join(',')}]`;
    const t = parseTargeting(list(TARGETING_LIMITS.maxValues), 't');
    expect(t?.expr).toMatchObject({ kind: 'in' });
    expect(t?.expr.kind === 'in' ? t.expr.values.length : 0).toBe(10_000);
    const text = list(TARGETING_LIMITS.maxValues + 1);
    expect(Buffer.byteLength(text)).toBeLessThan(TARGETING_LIMITS.maxBytes);
    const e = refusal(text.replace('id in', 'id not in'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.limit).toEqual({ name: 'targeting.maxValues', max: 10_000, actual: 10_001 });
    expect(e.message).toMatch(/^segments\.s\.targeting: .*more than 10000 values in one list \(targeting\.maxValues\); put a cohort this large in a segment/s);
  });

  it('depth: levels of and/or/not as compiled (negated conditions count), not redundant parentheses', () => {
    const nots = (n: number, inner: string): string => `${'not ('.repeat(n)}${inner}${')'.repeat(n)}`;
    expect(parseTargeting(nots(32, 'a == 1'), 't')).not.toBeNull();
    expect(refusal(nots(33, 'a == 1')).limit).toEqual({ name: 'targeting.maxDepth', max: 32, actual: 33 });
    expect(refusal(nots(32, 'a != 1')).limit?.name).toBe('targeting.maxDepth');
    // Alternating and/or: each parenthesis level adds one.
    let alternating = 'a == 0';
    for (let i = 1; i <= 33; i++) alternating = `x${i} == 1 ${i % 2 === 0 ? 'and' : 'or'} (${alternating})`;
    expect(refusal(alternating).message).toContain('nested deeper than 32 levels of and, or and not');
    // Same-kind nesting is flattened: 100 levels of `or` parentheses are one level.
    let flat = 'a == 0';
    for (let i = 1; i <= 100; i++) flat = `x${i} == 1 or (${flat})`;
    expect(parseTargeting(flat, 't')).not.toBeNull();
    // The parser's own recursion is bounded too.
    expect(refusal(`${'('.repeat(10_000)}a == 1${')'.repeat(10_000)}`).limit?.name).toBe('targeting.maxDepth');
  });

  it('what admin accepts, core loads (its own depth limit is 64)', () => {
    let deepest = 'a != 0';
    for (let i = 1; i < 16; i++) deepest = `x${i} == 1 ${i % 2 === 0 ? 'and' : 'or'} not (${deepest})`;
    const targeting = parseTargeting(deepest, 't');
    expect(() => parseTargeting(`not (${deepest}) and b == 1`, 't')).toThrow('targeting.maxDepth');
    expect(() =>
      loadState({
        account: { name: 'accounts/t' },
        segments: { 'segments/s': { name: 'segments/s', targeting: toConfidenceTargeting(targeting) } },
        flags: {},
        clients: {},
      }),
    ).not.toThrow();
  });
});

describe('range comparisons need a value that orders', () => {
  it('a bare word after >= is refused, with what to write instead', () => {
    expect(() => parseTargeting('app_version >= banana', 'segments.s.targeting')).toThrow(
      'segments.s.targeting: column 16: ">=" needs a number, a version (2.1.0 or version("2.1.0")), a timestamp or a quoted string, got the word "banana"; quote it ("banana") to compare text in alphabetical order',
    );
  });

  it.each(['app_version >= 2.1.0', 'app_version >= version("2")'.replace('"2"', '"2.0.0"'), 'name < "m"', 'age > 18', 'plan == pro', 'plan != pro'])('%s is accepted', (text) => {
    expect(parseTargeting(text, 't')).not.toBeNull();
  });
});

describe('compiling is linear in the expression', () => {
  it('criteria are named in order however many there are', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `c == ${i}`).join(' or ');
    const compiled = toConfidenceTargeting(parseTargeting(text, 't')) as { criteria: Record<string, unknown> };
    expect(Object.keys(compiled.criteria)).toEqual(Array.from({ length: 1000 }, (_, i) => `c${i + 1}`));
  });

  it('a long expression in an error is shown cut around the column', () => {
    const text = `${Array.from({ length: 500 }, (_, i) => `c == ${i}`).join(' or ')} or ~`;
    const e = (() => {
      try {
        parseTargeting(text, 't');
      } catch (error) {
        return error as AdminError;
      }
      throw new Error('accepted');
    })();
    const [, excerpt, caret] = e.message.split('\n');
    expect(excerpt!.length).toBeLessThan(140);
    expect(excerpt![caret!.indexOf('^')]).toBe('~');
  });
});
