/**
 * Issue 18 item 6: an accepted change never leaves the workspace invalid. Random sequences
 * of segment, flag, rule and exclusion-group operations go through `applyOperation`; after
 * each accepted one the workspace's document (JSON, which the file store writes for a .json file) parses and
 * passes every consistency check, compiles to a state core loads, and no two conflicting
 * allocated segments share a bucket. A refused one changes nothing.
 */
import { loadState } from '@allot/core';
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';

import { conflictsWith } from '../allocation/allocator.js';
import { WORDS } from '../allocation/bucket-set.js';
import { compile } from '../compile/compile.js';
import { AdminError } from '../errors.js';
import { newWorkspace } from '../workspace/create.js';
import type { Workspace } from '../workspace/model.js';
import { parseWorkspace } from '../workspace/parse.js';
import { serializeWorkspace } from '../workspace/serialize.js';
import { applyOperation } from './apply.js';
import { addRule, archiveFlag, archiveRule, createFlag, moveRule, setRuleEnabled, updateRule } from './flags.js';
import { addGroupMember, archiveGroup, createGroup, removeGroupMember, unarchiveGroup } from './groups.js';
import type { Outcome } from './outcome.js';
import { allocateSegment, archiveSegment, createSegment, updateSegment } from './segments.js';

const SEGMENTS = ['s-a', 's-b', 's-c', 's-d'] as const;
const FLAGS = ['f-1', 'f-2', 'f-3'] as const;
const RULES = ['r-1', 'r-2', 'r-3'] as const;
const GROUPS = ['g-1', 'g-2'] as const;
const TAGS = ['x', 'y'] as const;

const segment = fc.constantFrom(...SEGMENTS);
const flag = fc.constantFrom(...FLAGS);
const rule = fc.constantFrom(...RULES);
const group = fc.constantFrom(...GROUPS);
const tags = fc.subarray([...TAGS]);
const proportion = fc.constantFrom(0.1, 0.25, 0.4, 0.6);
const targeting = fc.constantFrom('', 'country == SE', 'segment s-a', 'segment s-b or age >= 18');

type Op = { readonly label: string; readonly run: (ws: Workspace) => Outcome<unknown> };
const op = <T,>(arb: fc.Arbitrary<T>, label: (v: T) => string, run: (v: T) => (ws: Workspace) => Outcome<unknown>): fc.Arbitrary<Op> =>
  arb.map((v) => {
    const l = label(v);
    return { label: l, run: run(v), [fc.toStringMethod]: () => l };
  });

const operation: fc.Arbitrary<Op> = fc.oneof(
  op(fc.record({ id: segment, proportion, tags, to: tags, targeting }), (v) => `create segment ${JSON.stringify(v)}`, (v) => (ws) =>
    createSegment(ws, { id: v.id, proportion: v.proportion, exclusivityTags: v.tags, exclusiveTo: v.to, targeting: v.targeting })),
  { arbitrary: op(segment, (s) => `allocate ${s}`, (s) => (ws) => allocateSegment(ws, s)), weight: 3 },
  { arbitrary: op(segment, (s) => `archive segment ${s}`, (s) => (ws) => archiveSegment(ws, s)), weight: 3 },
  op(fc.tuple(segment, proportion, fc.boolean()), ([s, p, force]) => `proportion ${s} ${p}${force ? ' --force' : ''}`, ([s, p, force]) => (ws) =>
    updateSegment(ws, s, { proportion: p }, ['allocation.proportion'], { force })),
  op(fc.tuple(segment, tags, tags), ([s, t, to]) => `retag ${s} ${t.join(',')} / ${to.join(',')}`, ([s, t, to]) => (ws) =>
    updateSegment(ws, s, { exclusivityTags: t, exclusiveTo: to }, ['allocation.exclusivityTags', 'allocation.exclusiveTo'])),
  op(fc.tuple(segment, targeting), ([s, t]) => `target ${s} ${t}`, ([s, t]) => (ws) => updateSegment(ws, s, { targeting: t }, ['targeting'])),
  op(flag, (f) => `create flag ${f}`, (f) => (ws) => createFlag(ws, { id: f, variants: [{ name: 'on', value: true }, { name: 'off', value: false }] })),
  { arbitrary: op(flag, (f) => `archive flag ${f}`, (f) => (ws) => archiveFlag(ws, f)), weight: 2 },
  { arbitrary: op(fc.tuple(flag, rule, segment, fc.boolean()), ([f, r, s, on]) => `add rule ${f}/${r} on ${s}${on ? ' enabled' : ''}`, ([f, r, s, on]) => (ws) =>
    addRule(ws, f, { kind: 'ab-test', id: r, segment: s, weights: [{ variant: 'on', weight: 1 }, { variant: 'off', weight: 1 }], enabled: on })), weight: 2 },
  { arbitrary: op(fc.tuple(flag, rule, fc.boolean()), ([f, r, on]) => `${on ? 'enable' : 'disable'} ${f}/${r}`, ([f, r, on]) => (ws) => setRuleEnabled(ws, f, r, on)), weight: 2 },
  op(fc.tuple(flag, rule, segment), ([f, r, s]) => `move ${f}/${r} to ${s}`, ([f, r, s]) => (ws) => updateRule(ws, f, r, { segment: s })),
  op(fc.tuple(flag, rule, fc.nat(2)), ([f, r, i]) => `reorder ${f}/${r} to ${i}`, ([f, r, i]) => (ws) => moveRule(ws, f, r, i)),
  op(fc.tuple(flag, rule), ([f, r]) => `archive rule ${f}/${r}`, ([f, r]) => (ws) => archiveRule(ws, f, r)),
  op(fc.tuple(group, fc.subarray([...SEGMENTS], { maxLength: 2 })), ([g, m]) => `create group ${g} [${m.join(',')}]`, ([g, m]) => (ws) => createGroup(ws, { id: g, members: m })),
  op(fc.tuple(group, segment, fc.option(proportion, { nil: undefined })), ([g, s, p]) => `add ${s} to ${g}${p === undefined ? '' : ` at ${p}`}`, ([g, s, p]) => (ws) =>
    addGroupMember(ws, g, s, p === undefined ? {} : { proportion: p })),
  op(fc.tuple(group, segment), ([g, s]) => `remove ${s} from ${g}`, ([g, s]) => (ws) => removeGroupMember(ws, g, s)),
  op(group, (g) => `archive group ${g}`, (g) => (ws) => archiveGroup(ws, g)),
  op(group, (g) => `unarchive group ${g}`, (g) => (ws) => unarchiveGroup(ws, g)),
);

/** The invariant, checked from the outside: what a store would write loads again, and coordination holds. */
function assertLoadable(ws: Workspace, history: readonly string[]): void {
  const why = `after: ${history.join(' → ')}`;
  const text = serializeWorkspace(ws, 'json');
  let parsed: Workspace;
  try {
    parsed = parseWorkspace(text, { retainBitsets: true });
  } catch (error) {
    expect.fail(`${why}\n${(error as Error).message}`);
  }
  expect(() => loadState(compile(parsed)), why).not.toThrow();
  const allocated = parsed.segments.filter((s) => s.state === 'ALLOCATED');
  for (let i = 0; i < allocated.length; i++) {
    for (let j = i + 1; j < allocated.length; j++) {
      const a = allocated[i]!;
      const b = allocated[j]!;
      if (!conflictsWith(a, b)) continue;
      const x = a.buckets!.words();
      const y = b.buckets!.words();
      let k = 0;
      while (k < WORDS && (x[k]! & y[k]!) === 0) k++;
      expect(k, `${a.id} and ${b.id} conflict but share buckets, ${why}`).toBe(WORDS);
    }
  }
  for (const s of parsed.segments) s.buckets?.release();
}

/** What the random operations (after the setup) exercised, so a generator that never reaches the interesting states fails the suite. */
const seen = { accepted: 0, enabledRules: 0, groupChanges: 0 };
afterAll(() => {
  if (seen.accepted === 0) return; // the property did not run (filtered out with -t)
  // Floors well below what runs reach (accepted 76–87, enabled rules 4–8, group changes 6–9
  // over five runs), so the gate catches a generator that stopped reaching these states
  // without failing by chance.
  expect(seen.accepted).toBeGreaterThan(40);
  expect(seen.enabledRules).toBeGreaterThan(1);
  expect(seen.groupChanges).toBeGreaterThan(2);
});

function note(o: Op): void {
  seen.accepted++;
  if (/^enable |enabled$/.test(o.label)) seen.enabledRules++;
  if (/group|to g-|from g-/.test(o.label)) seen.groupChanges++;
}

describe('applyOperation', () => {
  it('archiving a flag lets its segment be archived, and the workspace still loads (the sequence the property found)', () => {
    let ws = newWorkspace({ account: 'a', seed: 'archive', clientSecret: 'secret' });
    const steps: ((w: Workspace) => Outcome<unknown>)[] = [
      (w: Workspace) => createSegment(w, { id: 'seg', proportion: 0.1 }),
      (w: Workspace) => allocateSegment(w, 'seg'),
      (w: Workspace) => createFlag(w, { id: 'f', variants: [{ name: 'on', value: true }] }),
      (w: Workspace) => addRule(w, 'f', { kind: 'rollout', id: 'r', segment: 'seg', variant: 'on', reach: 1, enabled: true }),
      (w: Workspace) => archiveFlag(w, 'f'),
      (w: Workspace) => archiveSegment(w, 'seg'),
    ];
    for (const run of steps) {
      ws = applyOperation(ws, run).workspace;
    }
    expect(ws.segments[0]!.state).toBe('ARCHIVED');
    assertLoadable(ws, ['archive flag f', 'archive segment seg']);
  });

  it('refuses a result that would not load, with the problems, changing nothing', () => {
    const ws = newWorkspace({ account: 'a', seed: 'refuse', clientSecret: 'secret' });
    const broken = (w: Workspace): Outcome<null> => ({ workspace: { ...w, environments: ['production', 'production'] }, result: null, warnings: [] });
    let error: unknown;
    try {
      applyOperation(ws, broken);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AdminError);
    expect((error as AdminError).code).toBe('FAILED_PRECONDITION');
    expect((error as AdminError).issues).toEqual([{ path: 'environments', message: 'lists an environment twice' }]);
    expect((error as AdminError).message).toContain('this change would leave the workspace invalid, so nothing was changed');
  });

  // Every sequence starts with the segments and flags in place, so that later operations find them.
  const setup = fc.tuple(
    ...SEGMENTS.map((id) => op(fc.record({ proportion, tags, to: tags }), (v) => `create segment ${id} ${JSON.stringify(v)}`, (v) => (ws) =>
      createSegment(ws, { id, proportion: v.proportion, exclusivityTags: v.tags, exclusiveTo: v.to }))),
    ...SEGMENTS.map((id) => op(fc.constant(id), () => `allocate ${id}`, () => (ws) => allocateSegment(ws, id))),
    ...FLAGS.map((f) => op(fc.constant(f), () => `create flag ${f}`, () => (ws) => createFlag(ws, { id: f, variants: [{ name: 'on', value: true }, { name: 'off', value: false }] }))),
    ...FLAGS.map((f) => op(segment, (s) => `add rule ${f}/r-1 on ${s} enabled`, (s) => (ws) =>
      addRule(ws, f, { kind: 'ab-test', id: 'r-1', segment: s, weights: [{ variant: 'on', weight: 1 }, { variant: 'off', weight: 1 }], enabled: true }))),
  );

  test.prop([setup, fc.array(operation, { minLength: 10, maxLength: 25 }), fc.string({ minLength: 1, maxLength: 6 })], { numRuns: 15 })(
    'every accepted operation leaves a workspace that parses, validates and compiles, with no bucket shared by conflicting segments; a refused one changes nothing',
    (created, ops, seed) => {
      let ws = newWorkspace({ account: 'prop', seed, clientSecret: 'secret' });
      const history: string[] = [];
      for (const o of [...created, ...ops]) {
        const before = serializeWorkspace(ws, 'json');
        let next: Workspace;
        try {
          next = applyOperation(ws, o.run).workspace;
        } catch (error) {
          if (!(error instanceof AdminError)) throw error;
          expect(serializeWorkspace(ws, 'json'), `${o.label} was refused but changed the workspace`).toBe(before);
          continue;
        }
        history.push(o.label);
        assertLoadable(next, history);
        if (!created.includes(o)) note(o);
        ws = next;
      }
    },
    // ≈ 10 s of CPU; minutes of wall time on a 2-core machine shared with other work.
    400_000,
  );
});
