/**
 * fast-check arbitraries: sequences of @allot/admin operations (`arbWorkspaceOps`), the
 * states they compile to with what the workspace claims (`arbState`), and evaluation contexts.
 */
import { compileState, type Workspace } from '@allot/admin';
import fc from 'fast-check';

import { claimsOfWorkspace, type WorkspaceClaims } from '../workspace/claims.js';
import { applyWorkspaceOps, type AppliedOps, type WorkspaceOp } from '../workspace/operations.js';
import { emptyWorkspace } from '../workspace/steps.js';

const TAGS = ['ranking', 'search', 'mixer', 'checkout'] as const;

export interface WorkspaceOpsOptions {
  /** Most segments created (1 to this many); default 4. */
  readonly maxSegments?: number;
  /** Most flags created (1 to this many, each with 1–3 A/B-test rules); default 3. */
  readonly maxFlags?: number;
  /** Most operations after the set-up (raise, retag, groups, rules); default 6. */
  readonly maxChanges?: number;
}

const tags = (): fc.Arbitrary<string[]> => fc.subarray([...TAGS], { maxLength: 2 });
const weights = (): fc.Arbitrary<Record<string, number>> =>
  fc.record({ control: fc.integer({ min: 1, max: 9 }), treatment: fc.integer({ min: 1, max: 9 }) });

/**
 * Operation sequences a team could run against a workspace: create 1–4 segments (≤ 20% each,
 * random coordination tags) and allocate them, create 1–3 flags with A/B-test rules on them
 * (some enabled), then changes: raise a proportion, change tags, form an exclusion group or
 * add a member, reweigh, enable, move or add a rule, pause intake. Segments are `s0…`, flags
 * `f0…`, rules `r0…`. Some changes may be refused (no space, a precondition): apply them with
 * `applyWorkspaceOps`, which skips and lists those, as the CLI would refuse them.
 */
export function arbWorkspaceOps(options: WorkspaceOpsOptions = {}): fc.Arbitrary<WorkspaceOp[]> {
  const maxSegments = options.maxSegments ?? 4;
  const maxFlags = options.maxFlags ?? 3;
  return fc
    .record({
      segments: fc.array(fc.record({ proportion: fc.integer({ min: 1, max: 200 }), exclusivityTags: tags(), exclusiveTo: tags() }), { minLength: 1, maxLength: maxSegments }),
      flags: fc.array(fc.array(fc.record({ segment: fc.nat(), weights: weights(), enabled: fc.boolean() }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: maxFlags }),
      changes: fc.array(fc.tuple(fc.nat(5), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 100 }), tags(), weights()), { maxLength: options.maxChanges ?? 6 }),
    })
    .map(({ segments, flags, changes }) => {
      const seg = (i: number): string => `s${i % segments.length}`;
      const ops: WorkspaceOp[] = [];
      segments.forEach((s, i) => ops.push({ op: 'createSegment', segment: `s${i}`, proportion: s.proportion / 1000, exclusivityTags: s.exclusivityTags, exclusiveTo: s.exclusiveTo }));
      segments.forEach((_, i) => ops.push({ op: 'allocateSegment', segment: `s${i}` }));
      flags.forEach((rules, f) => {
        ops.push({ op: 'createFlag', flag: `f${f}`, variants: ['control', 'treatment'] });
        rules.forEach((r, i) => ops.push({ op: 'addRule', flag: `f${f}`, rule: { kind: 'ab-test', id: `r${i}`, segment: seg(r.segment), weights: r.weights, enabled: r.enabled } }));
      });
      const rule = (n: number): { flag: string; rule: string } => {
        const f = n % flags.length;
        return { flag: `f${f}`, rule: `r${Math.floor(n / flags.length) % flags[f]!.length}` };
      };
      for (const [kind, a, b, amount, tagList, w] of changes) {
        const s = segments[a % segments.length]!;
        switch (kind) {
          case 0:
            ops.push({ op: 'updateSegment', segment: seg(a), proportion: Math.min(1, (s.proportion + amount) / 1000) });
            break;
          case 1:
            ops.push({ op: 'updateSegment', segment: seg(a), exclusivityTags: tagList, exclusiveTo: tagList });
            break;
          case 2:
            ops.push(ops.some((o) => o.op === 'createGroup') ? { op: 'addGroupMember', group: 'g0', segment: seg(a) } : { op: 'createGroup', group: 'g0', members: [...new Set([seg(a), seg(b)])] });
            break;
          case 3:
            ops.push({ op: 'updateRule', ...rule(a), patch: { weights: w } });
            break;
          case 4:
            ops.push({ op: 'setRuleEnabled', ...rule(a), enabled: true }, { op: 'moveRule', ...rule(a), index: 0 });
            break;
          default:
            ops.push({ op: 'addRule', flag: rule(a).flag, rule: { kind: 'ab-test', id: `x${ops.length}`, segment: seg(b), weights: w, enabled: true, sticky: { enabled: true, pausedIntake: amount % 2 === 0 } } });
        }
      }
      return ops;
    });
}

export interface ArbitraryState {
  /** The operations generated; `refused` lists those admin refused. */
  readonly ops: readonly WorkspaceOp[];
  readonly refused: AppliedOps['refused'];
  readonly workspace: Workspace;
  /** Resolver-state JSON compiled by @allot/admin, for `loadState`. */
  readonly state: Record<string, unknown>;
  /** What the workspace claims: coordination, proportions, splits, exclusion groups. */
  readonly claims: WorkspaceClaims;
}

/** States compiled from `arbWorkspaceOps` sequences applied to a fresh workspace (seed varies). */
export function arbState(options: WorkspaceOpsOptions = {}): fc.Arbitrary<ArbitraryState> {
  return fc.tuple(fc.integer({ min: 0, max: 1_000_000 }), arbWorkspaceOps(options)).map(([seed, ops]) => {
    const { workspace, refused } = applyWorkspaceOps(emptyWorkspace(`seed-${seed}`), ops);
    return { ops, refused, workspace, state: compileState(workspace), claims: claimsOfWorkspace(workspace) };
  });
}

/** Evaluation contexts: a targeting key (sometimes missing or of a wrong type) and a few attributes. */
export function arbContext(): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      targeting_key: fc.oneof({ weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) }, { weight: 1, arbitrary: fc.integer() }, { weight: 1, arbitrary: fc.constantFrom(null, true, 1.5) }),
      country: fc.constantFrom('SE', 'US', 'GB', 'BR'),
      app: fc.record({ version: fc.tuple(fc.nat(5), fc.nat(20), fc.nat(30)).map(([a, b, c]) => `${a}.${b}.${c}`) }),
    },
    { requiredKeys: ['country'] },
  );
}
