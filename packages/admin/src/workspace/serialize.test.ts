/**
 * `serializeWorkspace` renders each segment and flag once per object and joins the pieces:
 * the bytes are exactly those of stringifying the whole document at once, whatever the
 * entries hold (text that YAML must quote or write as a block, nested values, empty lists
 * and maps), before and after a change that keeps the other entries' objects.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { stringify } from 'yaml';

import type { JsonValue } from '@allot/core';

import { BucketSet } from '../allocation/bucket-set.js';
import { newWorkspace } from './create.js';
import type { Flag, Segment, Workspace } from './model.js';
import { serializeWorkspace, workspaceDocument } from './serialize.js';

const whole = (ws: Workspace): string => stringify(workspaceDocument(ws), { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false, indent: 2 });

const text = fc.oneof(fc.string(), fc.constantFrom('', ' lead', 'a\n\nb', 'x: y', '- a\n- b', '#c', "it's", '"q"', 'trailing  \n', 'k'.repeat(1100)));
const id = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);

const segment = fc.record({ id, displayName: text, allocated: fc.boolean(), tags: fc.array(id, { maxLength: 2 }) }).map(
  ({ id, displayName, allocated, tags }): Segment => ({
    id,
    displayName,
    targeting: null,
    proportion: 0.000_016,
    exclusivityTags: tags,
    exclusiveTo: [],
    state: allocated ? 'ALLOCATED' : 'UNALLOCATED',
    buckets: allocated ? BucketSet.fromIndices(Array.from({ length: 16 }, (_, i) => 32 + i)) : null,
  }),
);

const flag = fc.record({ id, displayName: text, values: fc.array(fc.jsonValue(), { minLength: 1, maxLength: 3 }) }).map(
  ({ id, displayName, values }): Flag => ({
    id,
    displayName,
    state: 'ACTIVE',
    clients: [],
    variants: values.map((value, i) => ({ name: `v${i}`, value: value as JsonValue })),
    rules: [],
  }),
);

describe('serializeWorkspace (YAML)', () => {
  test.prop([fc.array(segment, { maxLength: 6 }), fc.array(flag, { maxLength: 4 }), text], { numRuns: 200 })(
    'gives the bytes of the whole document stringified at once, and again after one entry changes',
    (segments, flags, renamed) => {
      const ws: Workspace = { ...newWorkspace({ account: 'a', seed: 's', clientSecret: 'x' }), segments, flags };
      expect(serializeWorkspace(ws)).toBe(whole(ws));
      const changed: Workspace = { ...ws, segments: segments.map((s, i) => (i === 0 ? { ...s, displayName: renamed } : s)) };
      expect(serializeWorkspace(changed)).toBe(whole(changed));
    },
  );
});
