import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';

import { applyDelta, type StateDelta } from '../sources/state-delta.js';
import { compileState } from '../sources/parse-state.js';
import { testState, type Json } from '../testing/states.js';
import {
  changesSince,
  FingerprintsAfterDelta,
  fingerprintsData,
  fingerprintsOf,
  FingerprintsReader,
  type StateFingerprints,
} from './fingerprints.js';
import { compileDelta } from './state-text.js';

const name = fc.string({ unit: 'grapheme', maxLength: 12 });
const digest = fc.string({ minLength: 0, maxLength: 28 });
const entries = fc.uniqueArray(fc.tuple(name, digest), { selector: ([n]) => n, maxLength: 600 });

describe('fingerprints across the worker boundary', () => {
  test.prop([entries, entries, fc.string(), fc.constantFrom(0, 4)])(
    'FingerprintsReader gives back the maps fingerprintsData was given, in order, whatever the slice budget',
    (segments, flags, global, budgetMs) => {
      const fingerprints: StateFingerprints = { global, segments: new Map(segments), flags: new Map(flags) };
      const { data, transfer } = fingerprintsData(fingerprints);
      const sent = structuredClone(data, { transfer });
      const reader = new FingerprintsReader(sent);
      let steps = 1;
      while (!reader.step(budgetMs)) steps++;
      const read = reader.result();
      expect(read.global).toBe(global);
      expect([...read.segments]).toEqual(segments);
      expect([...read.flags]).toEqual(flags);
      // A budget of 0 stops after every 256 entries: the reading is sliced.
      if (budgetMs === 0) expect(steps).toBe(Math.max(1, Math.ceil((segments.length + flags.length) / 256)));
    },
  );
});

/** Segments and flags enough that every pass over them pauses more than once (1,024 a chunk). */
const SEGMENTS = 2500;
const FLAGS = 1100;

/** A flag serving `on` to everyone its rule's segment holds. */
function wideFlag(name: string, segment: number, value: number): Json {
  return {
    name,
    state: 'ACTIVE',
    clients: ['clients/web'],
    variants: [{ name: 'on', value: { v: value } }],
    rules: [
      {
        name: `${name}/rules/r`,
        segment: `segments/s${segment}`,
        enabled: true,
        targetingKeySelector: '',
        assignmentSpec: {
          bucketCount: 1000,
          assignments: [{ assignmentId: 'a', variant: { variant: 'on' }, bucketRanges: [{ lower: 0, upper: 1000 }] }],
        },
      },
    ],
  };
}

/** Segment i's JSON; every third refers to the one before it, so that flags reach segments through others. */
function wideSegment(i: number, country: string): Json {
  const criteria: Record<string, Json> = {
    country: { attribute: { attributeName: 'country', eqRule: { value: { stringValue: country } } } },
  };
  if (i % 3 === 1) criteria.before = { segment: { segment: `segments/s${i - 1}` } };
  return { name: `segments/s${i}`, targeting: { criteria, expression: { ref: 'country' } } };
}

/** The test state with SEGMENTS segments and FLAGS flags, each flag on segment j % SEGMENTS. */
function wideState(): Record<string, Json> {
  const segments: Record<string, Json> = {};
  const bitsets: Record<string, Json> = {};
  for (let i = 0; i < SEGMENTS; i++) {
    segments[`segments/s${i}`] = wideSegment(i, 'SE');
    bitsets[`segments/s${i}`] = 'ALL';
  }
  const flags: Record<string, Json> = {};
  for (let j = 0; j < FLAGS; j++) flags[`flags/f${j}`] = wideFlag(`flags/f${j}`, (j * 7) % SEGMENTS, 0);
  return { ...testState(), segments, bitsets, flags };
}

type SegmentEdit = 'retarget' | 'reallocate' | 'both' | 'drop';
type FlagEdit = 'change' | 'drop' | 'add';

/** A delta as the state watch sends it: segments retargeted, reallocated or dropped, flags changed, dropped or added, clients replaced. */
const arbDelta: fc.Arbitrary<StateDelta> = fc
  .tuple(
    fc.array(fc.tuple(fc.nat(SEGMENTS - 1), fc.constantFrom<SegmentEdit>('retarget', 'reallocate', 'both', 'drop')), { maxLength: 6 }),
    fc.array(fc.tuple(fc.nat(FLAGS - 1), fc.constantFrom<FlagEdit>('change', 'drop', 'add')), { maxLength: 6 }),
    fc.boolean(),
  )
  .map(([segmentEdits, flagEdits, clients]) => {
    const set: Record<string, Record<string, Json>> = {};
    const remove: Record<string, string[]> = {};
    const put = (member: string, name: string, value: Json): void => void ((set[member] ??= {})[name] = value);
    const drop = (member: string, name: string): void => void (remove[member] ??= []).push(name);
    for (const [i, edit] of new Map(segmentEdits)) {
      const name = `segments/s${i}`;
      if (edit === 'drop') {
        drop('segments', name);
        drop('bitsets', name);
        continue;
      }
      if (edit !== 'reallocate') put('segments', name, wideSegment(i, 'NO'));
      if (edit !== 'retarget') put('bitsets', name, [i % 1000]);
    }
    for (const [j, edit] of new Map(flagEdits)) {
      if (edit === 'drop') drop('flags', `flags/f${j}`);
      else if (edit === 'change') put('flags', `flags/f${j}`, wideFlag(`flags/f${j}`, (j * 7) % SEGMENTS, 1));
      else put('flags', `flags/new${j}`, wideFlag(`flags/new${j}`, j % SEGMENTS, 2));
    }
    const replace = clients ? { clients: {} } : {};
    return { base: 'b', set, remove, replace };
  });

describe('fingerprints after a delta', () => {
  const base = wideState();
  const before = compileState(base, 'test');

  test.prop([arbDelta], { numRuns: 60 })(
    'FingerprintsAfterDelta, one item per step, makes what fingerprintsAfter makes (what digesting the whole state makes), in the same order',
    (delta) => {
      const { json } = applyDelta(base, delta, 'test');
      const after = compileDelta(json, 'test', {}, before, delta);
      const sync = after.fingerprints;
      expect(sync).toEqual(fingerprintsOf(json, after.state));
      const sliced = new FingerprintsAfterDelta(before.fingerprints, delta, json, after.state, before.state);
      let steps = 1;
      while (!sliced.step(0)) steps++;
      const stepped = sliced.result();
      expect(stepped.global).toBe(sync.global);
      expect([...stepped.segments]).toEqual([...sync.segments]);
      expect([...stepped.flags]).toEqual([...sync.flags]);
      expect(changesSince(before.fingerprints, stepped)).toEqual(changesSince(before.fingerprints, sync));
      // Copying the flags' digests pauses every 1,024 entries, and so does copying the
      // segments' when the delta touches one.
      const touchesSegments = delta.set?.segments ?? delta.set?.bitsets ?? delta.remove?.segments;
      const copies = Math.floor(FLAGS / 1024) + (touchesSegments === undefined ? 0 : Math.floor(SEGMENTS / 1024));
      expect(steps).toBeGreaterThan(copies);
    },
  );
});
