import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { fitsUnit, unitOf } from './unit.js';

/** Characters of every UTF-8 length, surrogate pairs and lone surrogates. */
const piece = fc.constantFrom('a', '-', 'é', 'ߟ', 'ࠀ', '日', '\uffff', '😀', '\ud800', '\udfff');
/** Strings around the 100-byte limit: 30 to 110 UTF-16 units of mixed widths. */
const nearLimit = fc
  .tuple(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 0, max: 110 }))
  .map(([pieces, pad]) => `${'x'.repeat(pad)}${pieces.join('')}`.slice(0, 110));

describe('fitsUnit', () => {
  test.prop([fc.oneof(nearLimit, fc.string({ unit: 'binary', maxLength: 120 }))], { numRuns: 5_000 })(
    'is "at most 100 bytes of UTF-8", a lone surrogate counting as U+FFFD',
    (unit) => {
      expect(fitsUnit(unit)).toBe(Buffer.byteLength(unit, 'utf8') <= 100);
    },
  );

  it('takes UUIDs and 50 two-byte characters, refuses 34 three-byte ones', () => {
    expect(fitsUnit('0d4c7b9e-3f1a-4c2b-9e8d-7a6b5c4d3e2f')).toBe(true);
    expect(fitsUnit('é'.repeat(50))).toBe(true);
    expect(fitsUnit('é'.repeat(51))).toBe(false);
    expect(fitsUnit('日'.repeat(33) + 'a')).toBe(true);
    expect(fitsUnit('日'.repeat(34))).toBe(false);
    expect(fitsUnit('😀'.repeat(25))).toBe(true);
    expect(fitsUnit('😀'.repeat(25) + 'a')).toBe(false);
    expect(unitOf('x'.repeat(101))).toBeUndefined();
  });
});
