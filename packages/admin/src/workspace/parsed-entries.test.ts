/**
 * Reading a workspace file again entry by entry (`ParseOptions.entries`): whatever the
 * document and whatever changed since the last read, the outcome is the whole document's
 * parse (the same workspace, or the same error), and the entries whose text did not change are
 * the last read's objects.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';

import type { JsonValue } from '@allot/core';

import { BucketSet } from '../allocation/bucket-set.js';
import { AdminError } from '../errors.js';
import { newWorkspace } from './create.js';
import type { Flag, Segment, Workspace } from './model.js';
import { parseWorkspace } from './parse.js';
import { cutDocument, ParsedEntries } from './parsed-entries.js';
import { serializeWorkspace } from './serialize.js';

/** A read's outcome, comparable: the workspace as the tool writes it, or the error. */
function outcome(read: () => Workspace): { text: string } | { code: string; message: string; issues: unknown } {
  try {
    return { text: serializeWorkspace(read()) };
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    return { code: error.code, message: error.message, issues: error.issues };
  }
}

function segment(id: string, displayName = id): Segment {
  return {
    id,
    displayName,
    targeting: null,
    proportion: 0.000_016,
    exclusivityTags: ['t'],
    exclusiveTo: [],
    state: 'ALLOCATED',
    buckets: BucketSet.fromIndices(Array.from({ length: 16 }, (_, i) => 32 * id.length + i)),
  };
}

/** A flag with one variant and an A/B test on `segmentId`. */
function flag(id: string, value: JsonValue, segmentId: string): Flag {
  return {
    id,
    displayName: id,
    state: 'ACTIVE',
    clients: [],
    variants: [{ name: 'on', value }],
    rules: [
      {
        id: 'ab',
        kind: 'ab-test',
        state: 'ENABLED',
        environments: [],
        sticky: { enabled: false, pausedIntake: false, ignoreTargetingForAssigned: false },
        audience: { kind: 'segment', segment: segmentId },
        randomizationField: 'targeting_key',
        weights: [{ variant: 'on', weight: 1 }],
      },
    ],
  };
}

function base(): Workspace {
  return newWorkspace({ account: 'acme', seed: 'seed', clientSecret: 'secret' });
}

function document(segments: Segment[]): string {
  return serializeWorkspace({ ...base(), segments, groups: [{ id: 'g', displayName: 'G', state: 'ACTIVE', members: [] }] });
}

describe('cutDocument', () => {
  it('cuts a document as the tool writes it into its entries and the rest', () => {
    const text = document([segment('s1'), segment('s22')]);
    const cut = cutDocument(text)!;
    expect([...cut.sections.keys()]).toEqual(['segments', 'groups']);
    expect(cut.sections.get('segments')!.map((e) => e.split('\n')[0])).toEqual(['  s1:', '  s22:']);
    expect(cut.rest).toContain('\nsegments:\n');
    expect(cut.rest).not.toContain('s22');
  });

  it.each([
    ['CRLF line ends', (t: string) => t.replaceAll('\n', '\r\n')],
    ['a tab', (t: string) => t.replace('displayName: s1', 'displayName:\ts1')],
    ['a directive', (t: string) => `%YAML 1.2\n---\n${t}`],
    ['a document marker', (t: string) => `---\n${t}`],
    ['entries indented by four', (t: string) => t.replaceAll(/^( {2,})/gm, '$1$1')],
    ['a section repeated', (t: string) => `${t}groups:\n  h:\n    members: []\n`],
  ])('leaves a document with %s to the whole parse', (_, edit) => {
    expect(cutDocument(edit(document([segment('s1')])))).toBeNull();
  });
});

describe('parseWorkspace with entries', () => {
  it('parses only the entries whose text changed, and shares the others with the last read', () => {
    const entries = new ParsedEntries();
    const first = parseWorkspace(document([segment('s1'), segment('s22'), segment('s333')]), { entries });
    expect(entries.size).toBe(4); // three segments and the group
    const edited = document([segment('s1'), segment('s22', 'renamed'), segment('s333')]);
    const second = parseWorkspace(edited, { entries });
    expect(second.segments[0]).toBe(first.segments[0]);
    expect(second.segments[1]).not.toBe(first.segments[1]);
    expect(second.segments[1]!.displayName).toBe('renamed');
    expect(second.segments[2]).toBe(first.segments[2]);
    expect(second.groups[0]).toBe(first.groups[0]);
    expect(serializeWorkspace(second)).toBe(serializeWorkspace(parseWorkspace(edited)));
  });

  it('follows the document: entries moved or removed, and the same body under another key', () => {
    const entries = new ParsedEntries();
    const first = parseWorkspace(document([segment('s1'), segment('s22'), segment('s333')]), { entries });
    const moved = parseWorkspace(document([segment('s333'), segment('s1')]), { entries });
    expect(moved.segments.map((s) => s.id)).toEqual(['s333', 's1']);
    expect(moved.segments[0]).toBe(first.segments[2]);
    expect(moved.groups[0]).toBe(first.groups[0]);
    // The same body under another key is another entry.
    const text = document([segment('s1'), segment('s22')]);
    parseWorkspace(text, { entries });
    const renamed = parseWorkspace(text.replace('  s22:', '  t22:'), { entries });
    expect(renamed.segments.map((s) => s.id)).toEqual(['s1', 't22']);
  });

  it('reports a problem an edit makes exactly as the whole parse does, and keeps reading after it', () => {
    const entries = new ParsedEntries();
    const text = document([segment('s1'), segment('s22')]);
    parseWorkspace(text, { entries });
    const broken = text.replace('      proportion: 0.000016', '      proportion: 2');
    const cached = outcome(() => parseWorkspace(broken, { entries }));
    expect(cached).toEqual(outcome(() => parseWorkspace(broken)));
    expect(cached).toMatchObject({ code: 'INVALID_WORKSPACE' });
    const repeated = text.replace('  s22:', '  s1:');
    expect(outcome(() => parseWorkspace(repeated, { entries }))).toEqual(outcome(() => parseWorkspace(repeated)));
    expect(outcome(() => parseWorkspace(text, { entries }))).toEqual(outcome(() => parseWorkspace(text)));
  });

  it('reads an alias of an anchor in another entry as the whole document does', () => {
    const entries = new ParsedEntries();
    const text = document([segment('s1'), segment('s22')])
      .replace('  s1:\n    displayName: s1', '  s1:\n    displayName: &name shared')
      .replace('  s22:\n    displayName: s22', '  s22:\n    displayName: *name');
    const read = parseWorkspace(text, { entries });
    expect(read.segments.map((s) => s.displayName)).toEqual(['shared', 'shared']);
    expect(entries.size).toBe(0); // not cut: nothing kept for the next read
  });

  // Found by a review of the first version: each read entry by entry gave another outcome than the whole parse.
  const head = 'allot: 1\naccount: acc\nseed: cfbca8220621ad530e274e07089889f4\nenvironments: [production]\n';
  it.each([
    ['a block scalar keeping its line breaks at the end of an entry', `${head}segments:\n  s1:\n    allocation: {proportion: 0.5}\n    displayName: |+\n      foo\n\n  s2:\n    allocation: {proportion: 0.5}\n`],
    ['a flag value keeping its line breaks, last in the document', `${head}flags:\n  f:\n    variants:\n      on: |+\n        v\n\n`],
    ['an entry whose id is __proto__', `${head}segments:\n  s1:\n    allocation: {proportion: 0.5}\n  __proto__:\n    allocation: {proportion: 0.5}\n`],
    ['a flow map after a comment', '# c\n{allot: 1, account: acc, seed: cfbca8220621ad530e274e07089889f4, environments: [production],\nsegments:\n  s1: {allocation: {proportion: 0.5}}\n}\n'],
    ['a flow map whose quoted value runs over a section key', '# c\n{allot: 1, account: "acc\nsegments:\n  s1: {allocation: {proportion: 0.5}}\n", seed: cfbca8220621ad530e274e07089889f4, environments: [production], segments: null}\n'],
    // Found by a second review.
    ['an alias in the rest of an anchor an entry redefines', 'allot: 1\naccount: &x acme\nenvironments: [production]\nsegments:\n  s1:\n    displayName: &x other\n    allocation: {proportion: 0.5}\nseed: *x\n'],
    ['an entry opened by an anchor alone', `${head}segments:\n  s1:\n    allocation: {proportion: 0.5}\n  &y\n    s2:\n      allocation:\n        proportion: 0.5\n`],
    ['a complex key whose unterminated quote swallows the rest', `${head}segments:\n  s1:\n    allocation: {proportion: 0.5}\nflags:\n  f1:\n    variants:\n      on: true\n      ? k\n       # c\n        "q\ngroups:\n  g:\n    members: []\n`],
    ['a comment at column 0 between a tag and its value', `${head}segments:\n  s2:\n    allocation:\n      proportion: 0.5\n    displayName: !!str\n#c\n      two\n`],
    ['a comment at column 0 between a key and its value', `${head}segments:\n  s2:\n    allocation:\n      proportion: 0.5\n    displayName:\n#c\n      two\n`],
    ['a flow map as an entry', `${head}segments:\n  s1:\n    allocation: {proportion: 0.5}\n  {s2: {allocation: {proportion: 0.5}}}\n`],
    // Found by a third review: anchors right after `:` in flow maps.
    ['an anchor after a quoted key, redefined in an entry and aliased after it', 'allot: 1\naccount: acme\nseed: seed\nenvironments: [production]\nclients: {"default":{"displayName":&x Default client}}\nsegments:\n  s1: {"displayName":&x other, "allocation": {"proportion": 0.5}}\ngroups: {"g":{"displayName":*x, "members": []}}\n'],
    ['an anchor on a map in an entry, aliased as a name after it', 'allot: 1\naccount: acme\nseed: seed\nenvironments: [production]\nclients: {"default":{"displayName":&x D}}\nsegments:\n  s1: {"allocation":&x {"proportion": 0.5}}\ngroups: {"g":{"displayName":*x, "members": []}}\n'],
  ])('reads %s as the whole document does', (_, text) => {
    const entries = new ParsedEntries();
    expect(outcome(() => parseWorkspace(text, { entries }))).toEqual(outcome(() => parseWorkspace(text)));
    // And with an entry of it already kept from a block document.
    const primed = new ParsedEntries();
    parseWorkspace(`${head}segments:\n  s1: {allocation: {proportion: 0.5}}\n`, { entries: primed });
    expect(outcome(() => parseWorkspace(text, { entries: primed }))).toEqual(outcome(() => parseWorkspace(text)));
  });

  it('keeps its entries weakly: a workspace no longer held leaves nothing behind', () => {
    // What `WeakRef` promises is only checked where a collection can be forced.
    const gc = (globalThis as { gc?: () => void }).gc;
    const entries = new ParsedEntries();
    parseWorkspace(document([segment('s1')]), { entries });
    expect(entries.size).toBe(2);
    if (gc === undefined) return;
    gc();
    expect(outcome(() => parseWorkspace(document([segment('s1')]), { entries }))).toEqual(outcome(() => parseWorkspace(document([segment('s1')]))));
  });

  const name = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', ' lead', 'a\n\nb', 'kept\n\n', 'x: y', '- a', '#c', "it's", '"q"', 'trailing  \n', '  two\n    four', '&a', '*a', '|', '>-'));
  const id = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
  const value = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>;
  const workspace = fc
    .record({
      segments: fc.uniqueArray(fc.record({ id, name }), { selector: (s) => s.id, maxLength: 5 }),
      flags: fc.uniqueArray(fc.record({ id, value }), { selector: (f) => f.id, maxLength: 3 }),
    })
    .map(({ segments, flags }): Workspace => {
      const segs = segments.map((s) => segment(s.id, s.name));
      return { ...base(), segments: segs, flags: segs.length === 0 ? [] : flags.map((f) => flag(f.id, f.value, segs[0]!.id)) };
    });

  /** A hand edit of one line: removed, repeated, indented, dedented, swapped with the next, or a comment, blank line or key put before it. */
  const lineEdit = fc.record({ at: fc.nat(), kind: fc.constantFrom('remove', 'repeat', 'indent', 'dedent', 'comment', 'blank', 'key', 'swap') });
  function edited(text: string, { at, kind }: { at: number; kind: string }): string {
    const lines = text.split('\n');
    const i = at % lines.length;
    const line = lines[i]!;
    if (kind === 'swap') {
      // With the next line: keys reordered (a scalar last in its entry), or lines moved across entries.
      if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, line];
      return lines.join('\n');
    }
    const replacement =
      kind === 'remove' ? [] : kind === 'repeat' ? [line, line] : kind === 'indent' ? [` ${line}`] : kind === 'dedent' ? [line.replace(/^ /, '')] : kind === 'comment' ? ['  # a note', line] : kind === 'blank' ? ['', line] : ['  extra: 1', line];
    lines.splice(i, 1, ...replacement);
    return lines.join('\n');
  }

  test.prop([workspace, workspace, fc.array(lineEdit, { maxLength: 3 })], { numRuns: 150 })(
    'gives the whole parse’s outcome for a document, then for another, then for it edited by hand',
    (before, after, edits) => {
      const entries = new ParsedEntries();
      const texts = [serializeWorkspace(before), serializeWorkspace(after)];
      texts.push(edits.reduce(edited, texts[1]!));
      for (const text of texts) expect(outcome(() => parseWorkspace(text, { entries }))).toEqual(outcome(() => parseWorkspace(text)));
    },
  );
});
