import { loadState } from '@allot/core';
import { parse as parseYaml, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';

import { compile } from '../compile/compile.js';
import { AdminError } from '../errors.js';
import { addRule, createFlag } from '../operations/flags.js';
import { createGroup } from '../operations/groups.js';
import { allocateSegment, createSegment } from '../operations/segments.js';
import { newWorkspace } from './create.js';
import type { Workspace } from './model.js';
import { parseWorkspace } from './parse.js';
import { serializeWorkspace } from './serialize.js';

function sample(): Workspace {
  let ws = newWorkspace({ account: 'acct', seed: 'seed', clientSecret: 'secret' });
  ws = createSegment(ws, { id: 'exp-1', proportion: 0.1, exclusivityTags: ['ranking'], exclusiveTo: ['ranking'], targeting: 'country in [SE, NO]' }).workspace;
  ws = allocateSegment(ws, 'exp-1').workspace;
  ws = createSegment(ws, { id: 'exp-2', proportion: 0.2, exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] }).workspace;
  ws = allocateSegment(ws, 'exp-2').workspace;
  ws = createSegment(ws, { id: 'free-1', proportion: 0.5 }).workspace;
  ws = allocateSegment(ws, 'free-1').workspace;
  ws = createSegment(ws, { id: 'later', proportion: 0.5 }).workspace;
  ws = createGroup(ws, { id: 'grp', members: ['later'] }).workspace;
  ws = createFlag(ws, { id: 'f', variants: [{ name: 'on', value: { size: 3 } }, { name: 'off', value: null }] }).workspace;
  ws = addRule(ws, 'f', { kind: 'ab-test', segment: 'exp-1', weights: [{ variant: 'on', weight: 1 }, { variant: 'off', weight: 3 }], enabled: true }).workspace;
  return ws;
}

// Document data edited freely by the cases below, as a person would edit the YAML.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** Parses `ws` after editing its document data with `edit`; returns the error. */
function editError(ws: Workspace, edit: (doc: Doc) => void): AdminError {
  const doc = parseYaml(serializeWorkspace(ws)) as Doc;
  edit(doc);
  try {
    parseWorkspace(stringify(doc));
  } catch (error) {
    if (error instanceof AdminError) return error;
    throw error;
  }
  throw new Error('expected the edited workspace to be refused');
}

describe('workspace document', () => {
  it('round-trips byte for byte, in YAML and JSON', () => {
    const ws = sample();
    const yaml = serializeWorkspace(ws);
    expect(serializeWorkspace(parseWorkspace(yaml))).toBe(yaml);
    const json = serializeWorkspace(ws, 'json');
    expect(serializeWorkspace(parseWorkspace(json), 'json')).toBe(json);
    expect(serializeWorkspace(parseWorkspace(json))).toBe(yaml);
  });

  it('compiles deterministically to a state core loads', () => {
    const ws = sample();
    const a = compile(ws);
    expect(serializeWorkspace(ws)).not.toContain(ws.clients[0]!.secret); // secrets stay out of the document
    expect(compile(parseWorkspace(serializeWorkspace(ws), { secrets: new Map(ws.clients.map((c) => [c.id, c.secret])) }))).toBe(a);
    const state = loadState(a);
    expect(state.summary()).toMatchObject({ accountId: 'acct', flags: 1, rules: 1, segments: 4, clients: 1 });
    const exp1 = state.segments.get('segments/exp-1')!;
    expect(exp1.bitset!.count).toBe(100_000);
    // An unallocated segment compiles to an empty bitset: it matches no one.
    expect(state.segments.get('segments/later')!.bitset!.count).toBe(0);
    const rule = state.flag('f')!.rules[0]!;
    expect([...rule.ranges]).toEqual([0, 250_000, 0, 250_000, 1_000_000, 1]);
  });

  it.each<[string, (doc: Doc) => void, string]>([
    ['a proportion out of range', (d) => { d.segments['exp-2'].allocation.proportion = 1.5; }, 'segments.exp-2.allocation.proportion: must be in (0, 1], got 1.5'],
    ['a proportion that no longer matches the buckets', (d) => { d.segments['exp-2'].allocation.proportion = 0.3; }, 'segments.exp-2.allocation.proportion: is 0.3, which needs 300000 buckets, but the segment holds 200000'],
    ['coordination tags edited by hand', (d) => { d.segments['free-1'].allocation.exclusivityTags = ['ranking']; }, 'segments.exp-1.buckets: shares buckets with free-1, which carry tag "ranking" it is exclusive to'],
    ['a corrupted bitset', (d) => { d.segments['exp-1'].buckets.bitset = 'AAAA'; }, 'segments.exp-1.buckets.bitset: expected base64 of gzipped bitset bytes'],
    ['a wrong bucket count', (d) => { d.segments['exp-1'].buckets.count = 5; }, 'segments.exp-1.buckets.bitset: the bitset holds 100000 buckets, not 5'],
    ['an allocated segment without buckets', (d) => { delete d.segments['exp-1'].buckets; }, 'segments.exp-1.buckets: an ALLOCATED segment holds buckets'],
    ['bad targeting', (d) => { d.segments['exp-1'].targeting = 'country in'; }, 'segments.exp-1.targeting: column 11: expected a list such as [SE, NO]'],
    ['an unknown field', (d) => { d.segments['exp-1'].colour = 'red'; }, 'segments.exp-1.colour: unknown field'],
    ['an enabled rule on an unallocated segment', (d) => { d.flags.f.rules[0].segment = 'later'; }, 'flags.f.rules[0].state: an enabled rule needs an ALLOCATED segment, and later is UNALLOCATED'],
    ['an unknown variant', (d) => { d.flags.f.rules[0].weights = { maybe: 1 }; }, 'flags.f.rules[0].weights.maybe: unknown variant "maybe"'],
    ['a group tag without membership', (d) => { d.groups.grp.members = []; }, 'segments.later.allocation.exclusivityTags: has "group:grp" but is not a member'],
    ['a bad id', (d) => { d.segments.Bad = { ...d.segments.later }; }, 'segments.Bad: "Bad" is not a valid id'],
    ['a proportion below one bucket', (d) => { d.segments.later.allocation.proportion = 1e-7; }, 'segments.later.allocation.proportion: must be at least 0.000001 (one bucket of 1,000,000), got 1e-7'],
    ['a targeting expression over the size limit', (d) => { d.segments.later.targeting = Array.from({ length: 60_000 }, (_, i) => `c == ${i}`).join(' or '); }, 'segments.later.targeting: the expression is 828886 bytes, over the limit of 65536 bytes (targeting.maxBytes)'],
    ['a wrong format version', (d) => { d.allot = 2; }, 'allot: expected the workspace format version 1, got 2'],
  ])('refuses %s, naming the path', (_name, edit, message) => {
    const error = editError(sample(), edit);
    expect(error.code).toBe('INVALID_WORKSPACE');
    expect(error.issues.map((i) => `${i.path}: ${i.message}`).join('\n')).toContain(message);
  });

  it('refuses text that is not YAML', () => {
    expect(() => parseWorkspace('segments: [')).toThrow(/not valid YAML or JSON/);
  });
});
