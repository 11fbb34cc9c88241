import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import { compareUtf8, wellFormed } from './values.js';

/** Code points at every UTF-8 length boundary, around the surrogates, whole pairs and lone halves. */
const piece = fc.constantFrom('a', '\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\ufffd', '\uffff', '\u{10000}', '😀', '\u{10ffff}', '\ud800', '\udbff', '\udc00', '\udfff');
const text = fc.oneof(fc.array(piece, { maxLength: 6 }).map((p) => p.join('')), fc.string({ unit: 'binary', maxLength: 8 }));

describe('compareUtf8', () => {
  // Node's UTF-8 encoder writes a lone surrogate as U+FFFD (EF BF BD), as every encoder on the
  // way to Confidence does: comparing its bytes is the order text has there.
  test.prop([text, text], { numRuns: 20_000 })('orders text as its UTF-8 bytes compare', (a, b) => {
    expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
  });

  it('ranks a lone surrogate as U+FFFD: below U+FFFF and astral code points, equal to U+FFFD', () => {
    expect(compareUtf8('\ud800', '\uffff')).toBeLessThan(0);
    expect(compareUtf8('\udfff', '\u{10000}')).toBeLessThan(0);
    expect(compareUtf8('\ud800', '\ufffd')).toBe(0);
    expect(compareUtf8('a\udc00b', 'a\ufffdb')).toBe(0);
    expect(compareUtf8('\ue000', '😀')).toBeLessThan(0); // UTF-16 order would say otherwise
  });
});

describe('wellFormed', () => {
  test.prop([text])('writes each lone surrogate as U+FFFD, as UTF-8 round-trips it', (s) => {
    expect(wellFormed(s)).toBe(Buffer.from(s, 'utf8').toString('utf8'));
  });

  it('returns a well-formed string itself', () => {
    const s = 'plain 😀 text';
    expect(wellFormed(s)).toBe(s);
  });
});
