/**
 * Confidence's public resolver conformance suite, read from ../shared (beside the checkout).
 * The project's own tests (resolve/*.test.ts) cover the same rules in their own data.
 */
import { describe, expect, it } from 'vitest';

import { runConformanceCase, type ConformanceCase } from './conformance.js';
import { loadState } from './state/load.js';
import { readShared, sharedDir, sharedMissing } from './testing/shared.js';

describe('Confidence resolver conformance suite', () => {
  if (sharedDir === null) {
    it.skip(sharedMissing, () => undefined);
    return;
  }
  const raw = readShared('conformance/confidence-resolver-spec/state.json');
  const cases = readShared('conformance/confidence-resolver-spec/tests.json') as ConformanceCase[];

  describe.each([
    ['the generic walk', 'none'],
    ['specialized flags', 'all'],
  ] as const)('%s', (_walk, specialize) => {
    const state = loadState(raw, { specialize });
    it('has every served flag on the walk named', () => {
      const written = [...state.flags.values()].filter((f) => !f.archived).map((f) => f.program !== null);
      expect(new Set(written)).toEqual(new Set([specialize === 'all']));
    });
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const result = runConformanceCase(state, c);
      expect(result.differences).toEqual([]);
    });
  });
});
