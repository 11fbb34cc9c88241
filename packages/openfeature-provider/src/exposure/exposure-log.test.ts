import { loadState, type ResolvedFlag } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { SECRET, testState } from '../testing/states.js';
import type { Exposure } from '../types.js';
import { ExposureLog } from './exposure-log.js';

const state = loadState(testState());
const rule = state.flags.get('flags/checkout')!.rules[0]!;
/** What a resolve of the flag returns when its split serves `variant`. */
const served = (variant: string): ResolvedFlag => ({
  flag: 'flags/checkout',
  reason: 'RESOLVE_REASON_MATCH',
  variant,
  value: null,
  shouldApply: true,
  rule: rule.name,
  segment: rule.segmentName,
  assignmentId: `ab-${variant}`,
  assignmentKind: 'split',
  fallthroughs: [],
});

describe('ExposureLog', () => {
  it('delivers a (unit, flag, variant) again only after the window', () => {
    let now = 0;
    const seen: Exposure[] = [];
    const log = new ExposureLog({ windowMs: 100, maxEntries: 10, now: () => now }, (e) => seen.push(e));
    log.expose(served('treatment'), rule, { targeting_key: 'a' });
    log.expose(served('treatment'), rule, { targeting_key: 'a' });
    log.expose(served('control'), rule, { targeting_key: 'a' });
    now = 99;
    log.expose(served('treatment'), rule, { targeting_key: 'a' });
    now = 100;
    log.expose(served('treatment'), rule, { targeting_key: 'a' });
    expect(seen.map((e) => [e.unit, e.variant, e.time])).toEqual([
      ['a', 'treatment', 0],
      ['a', 'control', 0],
      ['a', 'treatment', 100],
    ]);
    expect(state.client(SECRET)).toBeDefined();
  });

  it('remembers at most maxEntries keys', () => {
    const seen: Exposure[] = [];
    const log = new ExposureLog({ windowMs: 1e9, maxEntries: 100 }, (e) => seen.push(e));
    for (let i = 0; i < 1_000; i++) log.expose(served('treatment'), rule, { targeting_key: `u${i}` });
    expect(log.size).toBe(100);
    log.expose(served('treatment'), rule, { targeting_key: 'u0' }); // forgotten: delivered again
    log.expose(served('treatment'), rule, { targeting_key: 'u999' }); // remembered
    expect(seen).toHaveLength(1_001);
  });
});
