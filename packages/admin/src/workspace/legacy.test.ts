/**
 * Workspaces written before the runs encoding (`buckets.bitset`, base64 of the gzipped
 * bitset, scattered buckets from the uniform allocator) load unchanged and are rewritten as
 * `buckets.runs` on their next write, moving no bucket.
 */
import { gzipSync } from 'node:zlib';

import { parse as parseYaml, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';

import { BucketSet } from '../allocation/bucket-set.js';
import { seededRandom } from '../allocation/random.js';
import { compile } from '../compile/compile.js';
import { allocateSegment, createSegment, updateSegment } from '../operations/segments.js';
import { newWorkspace } from './create.js';
import type { Workspace } from './model.js';
import { parseWorkspace } from './parse.js';
import { serializeWorkspace } from './serialize.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

/** A document as the uniform allocator wrote it: disjoint scattered sets, stored as `bitset`. */
function legacyDocument(): string {
  let ws: Workspace = newWorkspace({ account: 'acct', seed: 'seed', clientSecret: 'secret' });
  const random = seededRandom('legacy-doc');
  const taken = new Set<number>();
  const scattered = (n: number): number[] => {
    const out: number[] = [];
    while (out.length < n) {
      const b = random.below(1_000_000);
      if (!taken.has(b)) {
        taken.add(b);
        out.push(b);
      }
    }
    return out;
  };
  const ids = ['exp-a', 'exp-b', 'exp-c'];
  ids.forEach((id, i) => {
    ws = createSegment(ws, { id, proportion: 0.005 * (i + 1), exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] }).workspace;
  });
  ws = createSegment(ws, { id: 'free', proportion: 0.3 }).workspace;
  ws = allocateSegment(ws, 'free').workspace;
  ws = { ...ws, segments: ws.segments.map((s) => (ids.includes(s.id) ? { ...s, state: 'ALLOCATED' as const, buckets: BucketSet.fromIndices(scattered(Math.round(s.proportion * 1e6))) } : s)) };
  const doc = parseYaml(serializeWorkspace(ws)) as Doc;
  for (const s of ws.segments) {
    const stored = doc.segments[s.id].buckets;
    if (stored === undefined) continue;
    delete stored.runs;
    stored.bitset = gzipSync(s.buckets!.bytes(), { level: 6 }).toString('base64');
  }
  return stringify(doc, { lineWidth: 0 });
}

describe('legacy workspaces', () => {
  const legacy = legacyDocument();

  it('load unchanged and are rewritten as runs, moving no bucket', () => {
    expect(legacy).toContain('bitset:');
    const old = parseWorkspace(legacy);
    const text = serializeWorkspace(old);
    expect(text).not.toContain('bitset:');
    expect(text).toContain('runs: |-');
    const rewritten = parseWorkspace(text);
    old.segments.forEach((s, i) => {
      const r = rewritten.segments[i]!;
      expect(r.buckets?.count).toBe(s.buckets?.count);
      if (s.buckets !== null) expect(Buffer.from(r.buckets!.bytes()).equals(Buffer.from(s.buckets.bytes()))).toBe(true);
    });
    // The compiled states are identical bytes, so every unit resolves as before.
    expect(compile(rewritten)).toBe(compile(old));
    // Rewriting again is a fixed point.
    expect(serializeWorkspace(rewritten)).toBe(text);
  });

  it('the rewritten file is smaller, and one segment changes only its own lines', () => {
    const old = parseWorkspace(legacy);
    const text = serializeWorkspace(old);
    expect(text.length).toBeLessThan(legacy.length);
    const raised = serializeWorkspace(updateSegment(old, 'exp-a', { proportion: 0.006 }, ['allocation.proportion']).workspace);
    const before = text.split('\n');
    const after = raised.split('\n');
    const start = before.findIndex((l) => l === '  exp-a:');
    const end = before.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
    // Lines outside exp-a's entry are unchanged.
    expect(after.slice(0, start)).toEqual(before.slice(0, start));
    const endAfter = after.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
    expect(after.slice(endAfter)).toEqual(before.slice(end));
  });
});
