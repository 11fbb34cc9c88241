import { describe, expect, it } from 'vitest';

import { AdminError } from '../errors.js';
import { addRule, archiveFlag, createFlag, moveRule, setRuleEnabled, updateRule } from '../operations/flags.js';
import { allocateSegment, createSegment, updateSegment } from '../operations/segments.js';
import { newWorkspace } from '../workspace/create.js';
import type { Workspace } from '../workspace/model.js';
import { estimateImpact } from './estimate.js';
import { previewImpact } from './impact.js';
import { NOT_SERVED, type FlagImpact } from './types.js';

function base(): Workspace {
  return newWorkspace({ account: 'acct', seed: 'impact', clientSecret: 's' });
}

/** A flag `f` with variants a, b over segment `s` allocated at `proportion`, rules from `rules`. */
function withFlag(proportion: number, targeting = ''): Workspace {
  let ws = createSegment(base(), { id: 's', proportion, targeting }).workspace;
  ws = allocateSegment(ws, 's').workspace;
  return createFlag(ws, { id: 'f', variants: [{ name: 'a', value: 'a' }, { name: 'b', value: 'b' }] }).workspace;
}

function cell(f: FlagImpact, from: string, to: string): number | null {
  return f.matrix[f.outcomes.indexOf(from)]![f.outcomes.indexOf(to)]!.exact;
}

describe('previewImpact, exact cases', () => {
  it('a raised proportion starts serving exactly the added buckets, and the segment gains them', () => {
    const before = addRule(withFlag(0.1), 'f', { kind: 'rollout', id: 'r', segment: 's', reach: 1, variant: 'a', enabled: true }).workspace;
    const after = updateSegment(before, 's', { proportion: 0.25 }, ['allocation.proportion']).workspace;
    const p = previewImpact(before, after);
    const f = p.flags[0]!;
    expect(f.conditions).toEqual([]);
    expect(f.start.exact).toBe(0.15);
    expect(f.stop.exact).toBe(0);
    expect(cell(f, NOT_SERVED, 'a')).toBe(0.15);
    expect(cell(f, 'a', 'a')).toBe(0.1);
    expect(cell(f, NOT_SERVED, NOT_SERVED)).toBe(0.75);
    expect(p.segments[0]).toMatchObject({ segment: 's', buckets: { before: 100_000, after: 250_000, kept: 100_000, added: 150_000, removed: 0 } });
    expect(p.segments[0]!.enter.exact).toBe(0.15);
  });

  it('new weights move exactly the share of the variant buckets that changes hands', () => {
    const before = addRule(withFlag(0.4), 'f', { kind: 'ab-test', id: 'r', segment: 's', weights: [{ variant: 'a', weight: 1 }, { variant: 'b', weight: 1 }], enabled: true }).workspace;
    const after = updateRule(before, 'f', 'r', { weights: [{ variant: 'a', weight: 1 }, { variant: 'b', weight: 3 }] }).workspace;
    const f = previewImpact(before, after).flags[0]!;
    expect(cell(f, 'a', 'b')).toBeCloseTo(0.4 * 0.25, 12);
    expect(cell(f, 'b', 'a')).toBe(0);
    expect(f.change.exact).toBeCloseTo(0.1, 12);
    expect(f.start.exact).toBe(0);
  });

  it('rules on one segment share its variant hash (the second sees the bucket the first did)', () => {
    // r1 serves a on the lower half of the variant buckets; r2 would serve b on the same half:
    // a unit r1 passes over has its bucket in the upper half, so r2 never serves it.
    let ws = addRule(withFlag(1), 'f', { kind: 'conditional', id: 'r1', segment: 's', percentage: 0.5, split: [{ variant: 'a', weight: 1 }], enabled: true }).workspace;
    ws = addRule(ws, 'f', { kind: 'conditional', id: 'r2', segment: 's', percentage: 0.5, split: [{ variant: 'b', weight: 1 }], enabled: false }).workspace;
    const after = setRuleEnabled(ws, 'f', 'r2', true).workspace;
    const f = previewImpact(ws, after).flags[0]!;
    expect(f.changed).toBe(false);
    expect(cell(f, 'a', 'a')).toBe(0.5);
    expect(cell(f, NOT_SERVED, 'b')).toBe(0);
    // Moved first, r2 takes the lower half from r1; the upper half stays unserved.
    const moved = previewImpact(after, moveRule(after, 'f', 'r2', 0).workspace).flags[0]!;
    expect(cell(moved, 'a', 'b')).toBe(0.5);
    expect(cell(moved, NOT_SERVED, NOT_SERVED)).toBe(0.5);
  });

  it('rules on different segments hash independently: a reorder moves the product of their shares', () => {
    let ws = withFlag(1);
    ws = createSegment(ws, { id: 't' }).workspace;
    ws = allocateSegment(ws, 't').workspace;
    ws = addRule(ws, 'f', { kind: 'rollout', id: 'r1', segment: 's', reach: 0.3, variant: 'a', enabled: true }).workspace;
    ws = addRule(ws, 'f', { kind: 'rollout', id: 'r2', segment: 't', reach: 0.6, variant: 'b', enabled: true }).workspace;
    const f = previewImpact(ws, moveRule(ws, 'f', 'r2', 0).workspace).flags[0]!;
    // a → b: r1 served (0.3) and r2 now reaches first (0.6).
    expect(cell(f, 'a', 'b')).toBeCloseTo(0.18, 12);
    expect(cell(f, 'b', 'a')).toBe(0);
    expect(cell(f, 'a', 'a')).toBeCloseTo(0.12, 12);
    expect(cell(f, 'b', 'b')).toBeCloseTo(0.42, 12);
  });

  it('an archived flag stops serving everyone it served', () => {
    const before = addRule(withFlag(0.2), 'f', { kind: 'rollout', id: 'r', segment: 's', reach: 1, variant: 'b', enabled: true }).workspace;
    const f = previewImpact(before, archiveFlag(before, 'f').workspace).flags[0]!;
    expect(f).toMatchObject({ before: 'ACTIVE', after: 'ARCHIVED' });
    expect(f.stop.exact).toBe(0.2);
  });

  it('follows segment references through the referenced allocation', () => {
    let ws = createSegment(base(), { id: 'x', proportion: 0.3 }).workspace;
    ws = allocateSegment(ws, 'x').workspace;
    ws = createSegment(ws, { id: 'y', targeting: 'segment x' }).workspace;
    ws = allocateSegment(ws, 'y').workspace;
    const after = updateSegment(ws, 'x', { proportion: 0.5 }, ['allocation.proportion']).workspace;
    const y = previewImpact(ws, after).segments.find((s) => s.segment === 'y')!;
    expect(y.conditions).toEqual([]);
    expect(y.enter.exact).toBe(0.2);
    expect(y.buckets.added).toBe(0);
  });
});

describe('previewImpact, targeting', () => {
  it('a retarget is exact per case: matches both, only before, only after', () => {
    const before = withFlag(0.2, 'country == "SE"');
    const after = updateSegment(before, 's', { targeting: 'country in ["SE", "NO"]' }, ['targeting']).workspace;
    const p = previewImpact(before, after);
    const s = p.segments[0]!;
    expect(s.targetingChanged).toBe(true);
    expect(s.conditions.map((c) => p.conditions[c]!.text)).toEqual(['country == "SE"', 'country in ["SE", "NO"]']);
    const byCase = Object.fromEntries(s.cases.map((c) => [c.matches.map((m) => (m ? 1 : 0)).join(''), [c.enter, c.leave]]));
    // Every Swedish unit is in [SE, NO]: none matches only the targeting before.
    expect(byCase).toEqual({ '00': [0, 0], '01': [0.2, 0], '11': [0, 0] });
    expect(s.enter).toMatchObject({ exact: null, low: 0, high: 0.2, estimate: null });
    expect(s.leave).toMatchObject({ exact: 0, low: 0, high: 0 });
  });

  it('lists only cases some context can be in: a retarget to a wider audience stops serving no one', () => {
    const before = addRule(withFlag(0.05, 'country in [SE, NO] and app_version >= 2.1.0'), 'f', {
      kind: 'ab-test',
      id: 'r',
      segment: 's',
      weights: [{ variant: 'a', weight: 1 }, { variant: 'b', weight: 1 }],
      enabled: true,
    }).workspace;
    const after = updateSegment(before, 's', { targeting: 'country in [SE, NO, GB]' }, ['targeting']).workspace;
    const p = previewImpact(before, after);
    const f = p.flags[0]!;
    expect(f.conditions.map((c) => p.conditions[c]!.label)).toEqual(['A', 'B']);
    expect(f.cases.map((c) => c.matches)).toEqual([[false, false], [false, true], [true, true]]);
    expect(f.stop).toMatchObject({ exact: 0, low: 0, high: 0 });
    expect(f.start).toMatchObject({ exact: null, low: 0, high: 0.05 });
    const est = estimateImpact(p, { units: 10, source: 'test', groups: [{ matches: [false, true], units: 2 }, { matches: [false, false], units: 8 }] });
    expect(est.flags[0]!.start.estimate).toBeCloseTo(0.01, 12);
    expect(() => estimateImpact(p, { units: 1, source: 'test', groups: [{ matches: [true, false], units: 1 }] })).toThrow(
      /profile\.groups\[0\]\.matches|1 units match A, not B, which no context can/,
    );
  });

  it('prunes by each kind of value: ranges, versions, sets against equality, text, booleans, presence, timestamps', () => {
    const cases = (a: string, b: string): string[] => {
      const before = withFlag(0.5, a);
      const after = updateSegment(before, 's', { targeting: b }, ['targeting']).workspace;
      return previewImpact(before, after).segments[0]!.cases.map((c) => c.matches.map((m) => (m ? 1 : 0)).join(''));
    };
    // A before, B after; '10' is "A, not B".
    expect(cases('age >= 21', 'age >= 18')).toEqual(['00', '01', '11']);
    expect(cases('age >= 18 and age < 30', 'age > 10')).toEqual(['00', '01', '11']);
    expect(cases('app_version >= 2.1.0', 'app_version >= 2.0.0')).toEqual(['00', '01', '11']);
    expect(cases('app_version >= 2.1.0', 'app_version > 2.0.9')).toEqual(['00', '01', '11']);
    expect(cases('country == "SE"', 'country in [SE, NO]')).toEqual(['00', '01', '11']);
    expect(cases('email ends with "@spotify.com"', 'email ends with ".com"')).toEqual(['00', '01', '11']);
    expect(cases('email starts with "ab" and email == "abc"', 'email starts with "a"')).toEqual(['00', '01', '11']);
    expect(cases('name >= "m"', 'name >= "a"')).toEqual(['00', '01', '11']);
    expect(cases('beta == true', 'beta in [true, false]')).toEqual(['00', '01', '11']);
    expect(cases('age is null', 'age > 3 or age is null')).toEqual(['00', '01', '11']);
    expect(cases('age > 3', 'age is not null')).toEqual(['00', '10', '01', '11']); // [null, 5]
    expect(cases('signup >= timestamp("2026-03-01")', 'signup > timestamp("2026-01-01T00:00:00Z")')).toEqual(['00', '01', '11']);
    // Sound where core's reading differs: "18" meets >= 18; a list can hold two countries.
    expect(cases('country == "SE" and country == "NO"', 'country == "GB"')).toEqual(['00', '10', '01', '11']);
    // Criteria of different kinds on one attribute are not reasoned about: every case is kept.
    expect(cases('age == "18"', 'age >= 18')).toEqual(['00', '10', '01', '11']);
    expect(cases('beta == true', 'beta != false')).toEqual(['00', '10', '01', '11']);
  });

  it('estimates from a profile of the population', () => {
    const before = addRule(withFlag(0.2, 'country == "SE"'), 'f', { kind: 'rollout', id: 'r', segment: 's', reach: 1, variant: 'a', enabled: true }).workspace;
    const after = updateSegment(before, 's', { proportion: 0.5 }, ['allocation.proportion']).workspace;
    const p = previewImpact(before, after);
    const f = p.flags[0]!;
    expect(f.conditions).toHaveLength(1);
    expect(f.start).toMatchObject({ exact: null, low: 0, high: 0.3 });
    const est = estimateImpact(p, { units: 100, source: 'test', groups: [{ matches: [true], units: 25 }, { matches: [false], units: 75 }] });
    expect(est.flags[0]!.start.estimate).toBeCloseTo(0.075, 12);
    expect(est.population).toEqual({ units: 100, source: 'test' });
  });
});

describe('previewImpact, notes', () => {
  it('previews environment-restricted rules for the client environments given, and says what it assumed', () => {
    let ws = newWorkspace({ account: 'acct', seed: 'env', clientSecret: 's', environments: ['production', 'staging'] });
    ws = createSegment(ws, { id: 's', proportion: 0.5 }).workspace;
    ws = allocateSegment(ws, 's').workspace;
    ws = createFlag(ws, { id: 'f', variants: [{ name: 'a', value: 'a' }] }).workspace;
    const before = addRule(ws, 'f', { kind: 'rollout', id: 'r', segment: 's', reach: 1, variant: 'a', environments: ['staging'] }).workspace;
    const after = setRuleEnabled(before, 'f', 'r', true).workspace;
    const everywhere = previewImpact(before, after).flags[0]!;
    expect(everywhere.start.exact).toBe(0.5);
    expect(everywhere.notes.join('\n')).toMatch(/restricted to environments \(r\).*every environment/);
    expect(previewImpact(before, after, { environments: ['production'] }).flags[0]!.changed).toBe(false);
    expect(previewImpact(before, after, { environments: ['staging'] }).flags[0]!.start.exact).toBe(0.5);
  });

  it('previews sticky rules for units with no stored assignment, and says so', () => {
    const before = addRule(withFlag(0.3), 'f', { kind: 'rollout', id: 'r', segment: 's', reach: 1, variant: 'a', enabled: true, sticky: { enabled: true } }).workspace;
    const paused = updateRule(before, 'f', 'r', { sticky: { enabled: true, pausedIntake: true } }).workspace;
    const f = previewImpact(before, paused).flags[0]!;
    expect(f.stop.exact).toBe(0.3);
    expect(f.notes.join('\n')).toMatch(/sticky rules \(r\): units with a stored assignment keep it.*paused intake, r, admit none/);
  });
});

describe('previewImpact, errors', () => {
  it('refuses workspaces of different accounts, and unknown flags, naming them', () => {
    const a = withFlag(0.1);
    const other = { ...a, account: 'other' };
    expect(() => previewImpact(a, other)).toThrow(/different accounts \(acct and other\)/);
    try {
      previewImpact(a, a, { flags: ['nope'] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AdminError);
      expect((error as AdminError).code).toBe('NOT_FOUND');
      expect((error as AdminError).message).toMatch(/no flag "nope" in either workspace \(flags: f\)/);
    }
  });
});

describe('previewImpact with affectedOnly', () => {
  /** Segments s1–s4 (s3 refers to s1; s4 to s3), flags f1–f4 each on its segment, and g on s2 by inline reference. */
  function account(): Workspace {
    let ws = base();
    for (const [id, targeting] of [['s1', 'country == SE'], ['s2', ''], ['s3', 'segment s1 and age >= 18'], ['s4', 'segment s3']] as const) {
      ws = createSegment(ws, { id, proportion: 0.2, targeting }).workspace;
      ws = allocateSegment(ws, id).workspace;
    }
    for (const n of [1, 2, 3, 4]) {
      ws = createFlag(ws, { id: `f${n}`, variants: [{ name: 'a', value: 'a' }, { name: 'b', value: 'b' }] }).workspace;
      ws = addRule(ws, `f${n}`, { kind: 'ab-test', id: 'r', segment: `s${n}`, weights: [{ variant: 'a', weight: 1 }, { variant: 'b', weight: 1 }], enabled: true }).workspace;
    }
    ws = createFlag(ws, { id: 'g', variants: [{ name: 'on', value: true }] }).workspace;
    return addRule(ws, 'g', { kind: 'rollout', id: 'r', targeting: 'segment s2', reach: 1, variant: 'on', enabled: true }).workspace;
  }
  const strip = (p: ReturnType<typeof previewImpact>) => ({
    flags: new Map(p.flags.map((f) => [f.flag, { changed: f.changed, start: f.start.exact, stop: f.stop.exact, change: f.change.exact, low: f.start.low, high: f.start.high }])),
    segments: new Map(p.segments.map((s) => [s.segment, { changed: s.changed, buckets: s.buckets, enter: [s.enter.low, s.enter.high], leave: [s.leave.low, s.leave.high] }])),
  });

  it('lists what a change can affect, with the numbers of the whole preview; everything left out is unchanged', () => {
    const before = account();
    for (const after of [
      updateSegment(before, 's1', { proportion: 0.3 }, ['allocation.proportion']).workspace,
      updateSegment(before, 's2', { targeting: 'plan == pro' }, ['targeting']).workspace,
      updateRule(before, 'f4', 'r', { weights: [{ variant: 'a', weight: 1 }, { variant: 'b', weight: 3 }] }).workspace,
    ]) {
      const whole = strip(previewImpact(before, after));
      const part = strip(previewImpact(before, after, { affectedOnly: true }));
      for (const [id, f] of part.flags) expect(f).toEqual(whole.flags.get(id));
      for (const [id, s] of part.segments) expect(s).toEqual(whole.segments.get(id));
      for (const [id, f] of whole.flags) if (!part.flags.has(id)) expect(f.changed, id).toBe(false);
      for (const [id, s] of whole.segments) if (!part.segments.has(id)) expect(s.changed, id).toBe(false);
    }
    const s1 = strip(previewImpact(before, updateSegment(before, 's1', { proportion: 0.3 }, ['allocation.proportion']).workspace, { affectedOnly: true }));
    // s1 changed; s3 refers to s1, s4 to s3: their flags too; s2 and its readers are left out.
    expect([...s1.flags.keys()].sort()).toEqual(['f1', 'f3', 'f4']);
    expect([...s1.segments.keys()].sort()).toEqual(['s1', 's3', 's4']);
    const s2 = strip(previewImpact(before, updateSegment(before, 's2', { targeting: 'plan == pro' }, ['targeting']).workspace, { affectedOnly: true }));
    expect([...s2.flags.keys()].sort()).toEqual(['f2', 'g']);
  });

  it('a flag named in `flags` is found in the whole workspaces even when the change does not affect it', () => {
    const before = account();
    const after = updateSegment(before, 's2', { proportion: 0.3 }, ['allocation.proportion']).workspace;
    expect(previewImpact(before, after, { affectedOnly: true, flags: ['f1'] }).flags).toEqual([]);
    expect(() => previewImpact(before, after, { affectedOnly: true, flags: ['nope'] })).toThrow(AdminError);
  });
});
