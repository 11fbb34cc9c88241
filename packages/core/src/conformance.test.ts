/**
 * Confidence's public resolver conformance suite, read from ../shared (beside the checkout).
 * The project's own tests (resolve/*.test.ts) cover the same rules in their own data.
 *
 * Core's README lists the suite's general expectations allot does not meet; this test holds
 * the list to the suite, both ways, so the README's claim cannot drift.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { runConformanceCase, type ConformanceCase } from './conformance.js';
import { loadState } from './state/load.js';
import { readShared, sharedDir, sharedMissing } from './testing/shared.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const UNMET_LINE = /General expectations allot does not meet: ([^.]*)\./;

/**
 * The case names core's README lists as general expectations allot does not meet, from the
 * line "General expectations allot does not meet: none." (or `name`, `name`, ...) in its
 * Compatibility section; null when the line is missing.
 */
function unmetInReadme(readme: string): string[] | null {
  const start = readme.indexOf('## Compatibility with Confidence');
  if (start < 0) return null;
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end).replace(/\s+/g, ' ');
  const line = UNMET_LINE.exec(section);
  if (line === null) return null;
  if (line[1]!.trim() === 'none') return [];
  return [...line[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

describe('the README line listing unmet general expectations', () => {
  it('reads "none" as no case and backticked names as cases, and is missing without the line', () => {
    const section = (line: string): string => `# x\n\n## Compatibility with Confidence\n\nText.\n${line}\n\n## Performance\n`;
    expect(unmetInReadme(section('General expectations allot does not meet: none.'))).toEqual([]);
    expect(unmetInReadme(section('General expectations allot does\nnot meet: `a_case`, `b_case`.'))).toEqual(['a_case', 'b_case']);
    expect(unmetInReadme(section('It meets them all.'))).toBeNull();
    expect(unmetInReadme('General expectations allot does not meet: none.')).toBeNull();
  });
});

describe('Confidence resolver conformance suite', () => {
  if (sharedDir === null) {
    it.skip(sharedMissing, () => undefined);
    return;
  }
  const raw = readShared('conformance/confidence-resolver-spec/state.json');
  const cases = readShared('conformance/confidence-resolver-spec/tests.json') as ConformanceCase[];
  const listed = unmetInReadme(readFileSync(README, 'utf8'));

  it('has the README line that lists the general expectations allot does not meet', () => {
    expect(listed, `${README}: the Compatibility section needs the line "General expectations allot does not meet: none." (or the case names, in backticks)`).not.toBeNull();
  });

  describe.each([
    ['the generic walk', 'none'],
    ['specialized flags', 'all'],
  ] as const)('%s', (_walk, specialize) => {
    const state = loadState(raw, { specialize });
    it('has every served flag on the walk named', () => {
      const written = [...state.flags.values()].filter((f) => !f.archived).map((f) => f.program !== null);
      expect(new Set(written)).toEqual(new Set([specialize === 'all']));
    });
    it('leaves unmet exactly the general expectations the README lists', () => {
      const unmet = cases.filter((c) => !runConformanceCase(state, c).passed).map((c) => c.name);
      expect({ unmet: unmet.sort() }).toEqual({ unmet: [...(listed ?? [])].sort() });
    });
    it.each(cases.map((c) => [c.name, c] as const))('%s', (name, c) => {
      const result = runConformanceCase(state, c);
      if (listed?.includes(name) === true) expect(result.differences, 'listed in the README as unmet, yet met').not.toEqual([]);
      else expect(result.differences).toEqual([]);
    });
  });
});
