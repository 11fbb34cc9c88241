import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';

import { loadState } from '../state/load.js';
import { arbContext, arbState } from '../testing/arbitraries.js';
import { SECRET } from '../testing/states.js';
import type { MaterializationAccess } from '../types.js';
import { resolveFlags } from './resolve.js';

const stickyOrNot: fc.Arbitrary<MaterializationAccess | null> = fc.constantFrom(
  null,
  { read: () => null },
  { read: () => undefined },
  { read: (unit: string) => ({ isUnitInMaterialization: unit.length % 2 === 0, ruleToVariant: { 'flags/f0/rules/r1': 'v1' } }) },
);

test.prop([arbState, fc.array(arbContext, { minLength: 1, maxLength: 5 }), stickyOrNot], { numRuns: 300 })(
  'resolve never throws for arbitrary contexts against arbitrary valid states, and is deterministic',
  (json, contexts, access) => {
    const state = loadState(json);
    for (const context of contexts) {
      const first = resolveFlags(state, { evaluationContext: context, clientSecret: SECRET }, access);
      const again = resolveFlags(state, { evaluationContext: context, clientSecret: SECRET }, access);
      expect(first.resolvedFlags).toHaveLength(3);
      expect(again.resolvedFlags).toEqual(first.resolvedFlags);
      for (const f of first.resolvedFlags) {
        if (f.reason !== 'RESOLVE_REASON_MATCH') expect(f.value).toBeNull();
      }
    }
  },
);
