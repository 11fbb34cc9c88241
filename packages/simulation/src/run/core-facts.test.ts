import type { ResolvedFlag } from '@allot/core';
import { describe, expect, it } from 'vitest';

import { CoreFacts, Names } from './core-facts.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function result(fields: Partial<ResolvedFlag>): Mutable<ResolvedFlag> {
  return { reason: 'RESOLVE_REASON_MATCH', rule: 'flags/f/rules/b', variant: 'on', segment: 'segments/s', fallthroughs: [], ...fields } as unknown as Mutable<ResolvedFlag>;
}

const facts = (names = new Names()): CoreFacts => new CoreFacts(new Map([['flags/f/rules/a', 0], ['flags/f/rules/b', 1]]), names);

describe('CoreFacts', () => {
  it('reads the rule, the variant and the segment of a result as integers, and again from memory', () => {
    const names = new Names();
    const f = facts(names);
    const on = Object.freeze(result({}));
    const none = Object.freeze(result({ reason: 'RESOLVE_REASON_NO_SEGMENT_MATCH', rule: '', variant: '', segment: '' }));
    for (let round = 0; round < 2; round++) {
      f.read(on);
      expect([f.served, f.rule, f.variant, f.segment]).toEqual([true, 1, names.id('on'), names.id('segments/s')]);
      f.read(none);
      expect([f.served, f.rule, f.variant, f.segment]).toEqual([false, -1, Names.EMPTY, Names.EMPTY]);
    }
    // A rule name the plan does not know is served by no known rule.
    f.read(Object.freeze(result({ rule: 'flags/f/rules/z' })));
    expect([f.served, f.rule]).toEqual([true, -1]);
  });

  it('reads a result that is not frozen afresh every time (a core reusing one object)', () => {
    const names = new Names();
    const f = facts(names);
    const reused = result({});
    f.read(reused);
    expect([f.rule, f.variant]).toEqual([1, names.id('on')]);
    reused.rule = 'flags/f/rules/a';
    reused.variant = 'off';
    f.read(reused);
    expect([f.rule, f.variant]).toEqual([0, names.id('off')]);
    reused.reason = 'RESOLVE_REASON_NO_SEGMENT_MATCH';
    f.read(reused);
    expect([f.served, f.rule]).toEqual([false, -1]);
  });

  it('gives one name one id across flags and steps', () => {
    const names = new Names();
    const a = facts(names);
    const b = facts(names);
    a.read(Object.freeze(result({ variant: 'treatment' })));
    b.read(Object.freeze(result({ variant: 'treatment', segment: 'segments/t' })));
    expect(a.variant).toBe(b.variant);
    expect(a.segment).not.toBe(b.segment);
  });
});
