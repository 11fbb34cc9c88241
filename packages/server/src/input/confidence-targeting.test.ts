import { parseTargeting, toConfidenceTargeting } from '@allot/admin';
import { describe, expect, it } from 'vitest';

import { ApiError } from '../http/api-error.js';
import { targetingExpression } from './confidence-targeting.js';

const attr = (attributeName: string, rule: Record<string, unknown>): Record<string, unknown> => ({ attribute: { attributeName, ...rule } });

describe('targetingExpression', () => {
  it('reads {} and null as everyone, and a string as an expression', () => {
    expect(targetingExpression({}, 'targeting')).toBe('');
    expect(targetingExpression(null, 'targeting')).toBe('');
    expect(targetingExpression('country == SE', 'targeting')).toBe('country == SE');
  });

  it('writes each criterion kind as the expression that compiles back to it', () => {
    const targeting = {
      criteria: {
        se: attr('country', { setRule: { values: [{ stringValue: 'SE' }, { stringValue: 'NO' }] } }),
        app: attr('app.version', { rangeRule: { startInclusive: { versionValue: { version: '2.1.0' } }, endExclusive: { versionValue: { version: '3.0.0' } } } }),
        pro: attr('pro', { eqRule: { value: { boolValue: true } } }),
        age: attr('age', { rangeRule: { startExclusive: { numberValue: 17.5 } } }),
        since: attr('signup', { rangeRule: { endInclusive: { timestampValue: '2026-01-01T00:00:00Z' } } }),
        mail: attr('email', { endsWithRule: { value: '@example.com' } }),
        quote: attr('nick', { eqRule: { value: { stringValue: 'say "hi" \\ bye' } } }),
        none: attr('team', { eqRule: { value: {} } }),
        beta: { segment: { segment: 'segments/beta' } },
      },
      expression: {
        and: {
          operands: [
            { ref: 'se' },
            { ref: 'app' },
            { or: { operands: [{ ref: 'pro' }, { not: { ref: 'age' } }, { ref: 'since' }] } },
            { ref: 'mail' },
            { ref: 'quote' },
            { not: { ref: 'none' } },
            { ref: 'beta' },
          ],
        },
      },
    };
    const text = targetingExpression(targeting, 'targeting');
    // Admin compiles the text back to Confidence's JSON: the same criteria, renamed c1, c2, ...
    const back = toConfidenceTargeting(parseTargeting(text, 'targeting'));
    const criteria = Object.values(back.criteria as Record<string, unknown>);
    expect(criteria).toEqual([
      targeting.criteria.se,
      attr('app.version', { rangeRule: { startInclusive: { versionValue: { version: '2.1.0' } } } }),
      attr('app.version', { rangeRule: { endExclusive: { versionValue: { version: '3.0.0' } } } }),
      targeting.criteria.pro,
      targeting.criteria.age,
      targeting.criteria.since,
      targeting.criteria.mail,
      targeting.criteria.quote,
      targeting.criteria.none,
      targeting.criteria.beta,
    ]);
    expect(back.expression).toEqual({
      and: {
        operands: [
          { ref: 'c1' },
          { ref: 'c2' },
          { ref: 'c3' },
          { or: { operands: [{ ref: 'c4' }, { not: { ref: 'c5' } }, { ref: 'c6' }] } },
          { ref: 'c7' },
          { ref: 'c8' },
          { not: { ref: 'c9' } },
          { ref: 'c10' },
        ],
      },
    });
  });

  it.each([
    ['an anyRule', { criteria: { c: attr('tags', { anyRule: { rule: { eqRule: { value: { stringValue: 'x' } } } } }) }, expression: { ref: 'c' } }, 'targeting.criteria.c.attribute.anyRule', /not supported/],
    ['an empty set', { criteria: { c: attr('country', { setRule: { values: [] } }) }, expression: { ref: 'c' } }, 'targeting.criteria.c.attribute.setRule.values', /non-empty/],
    ['two rules in one criterion', { criteria: { c: attr('x', { eqRule: { value: { numberValue: 1 } }, setRule: { values: [] } }) }, expression: { ref: 'c' } }, 'targeting.criteria.c.attribute', /exactly one rule/],
    ['a keyword as attribute', { criteria: { c: attr('and', { eqRule: { value: { numberValue: 1 } } }) }, expression: { ref: 'c' } }, 'targeting.criteria.c.attribute.attributeName', /cannot be used/],
    ['a bad version', { criteria: { c: attr('v', { eqRule: { value: { versionValue: { version: 'two' } } } }) }, expression: { ref: 'c' } }, 'targeting.criteria.c.attribute.eqRule.value.versionValue', /MAJOR/],
    ['criteria without an expression', { criteria: { c: attr('v', { eqRule: { value: { numberValue: 1 } } }) } }, 'targeting.expression', /required/],
    ['an empty and', { criteria: {}, expression: { and: { operands: [] } } }, 'targeting.expression.and.operands', /non-empty/],
    ['an unknown expression', { criteria: {}, expression: { xor: {} } }, 'targeting.expression.xor', /unknown/],
    ['an unknown top-level field', { criteria: {}, expression: { ref: 'c' }, name: 'x' }, 'targeting.name', /unknown field/],
  ])('refuses %s, naming the field', (_name, value, field, message) => {
    let error: unknown;
    try {
      targetingExpression(value, 'targeting');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).field).toBe(field);
    expect((error as ApiError).message).toMatch(message);
  });
});
