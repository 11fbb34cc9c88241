import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';

import { FingerprintsReader, fingerprintsData, type StateFingerprints } from './fingerprints.js';

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
