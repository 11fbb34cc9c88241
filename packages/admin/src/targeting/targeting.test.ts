import { loadState, resolveFlags } from '@allot/core';
import { describe, expect, it } from 'vitest';

import { AdminError } from '../errors.js';
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
