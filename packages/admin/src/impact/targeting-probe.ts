/**
 * Core's own verdict on whether a context meets each of several audiences: one flag per
 * audience, whose only rule is a full rollout on it (served with or without a unit),
 * compiled by admin and loaded by core once. Matching therefore follows the resolver's rules
 * exactly (types, missing attributes, lists), which is what the impact preview's pruning,
 * `allot diff --population` and their brute-force tests all need.
 */
import { loadState, resolveFlag, type CompiledClient, type CompiledFlag, type EvaluationContext, type ResolverState } from '@allot/core';

import { compileState } from '../compile/compile.js';
import type { Targeting } from '../targeting/ast.js';
import type { Workspace } from '../workspace/model.js';

const PROBE_SECRET = 'targeting-probe';

export class TargetingProbe {
  readonly state: ResolverState;
  private readonly client: CompiledClient;
  private readonly flags: readonly CompiledFlag[];

  constructor(audiences: readonly Targeting[]) {
    this.state = loadState(compileState(probeWorkspace(audiences)));
    this.client = this.state.client(PROBE_SECRET)!;
    this.flags = audiences.map((_, i) => this.state.flags.get(`flags/p${i}`)!);
  }

  /** Whether `context` meets audience `index` (its place in the constructor's list). */
  matches(index: number, context: EvaluationContext): boolean {
    return resolveFlag(this.state, this.client, this.flags[index]!, context).variant === 'match';
  }
}

function probeWorkspace(audiences: readonly Targeting[]): Workspace {
  return {
    account: 'targeting-probe',
    seed: 'targeting-probe',
    environments: ['probe'],
    clients: [{ id: 'probe', displayName: 'probe', secret: PROBE_SECRET, environments: ['probe'] }],
    segments: [],
    groups: [],
    flags: audiences.map((targeting, i) => ({
      id: `p${i}`,
      displayName: `p${i}`,
      state: 'ACTIVE',
      clients: [],
      variants: [{ name: 'match', value: true }],
      rules: [
        {
          kind: 'rollout',
          id: 'match',
          state: 'ENABLED',
          environments: [],
          sticky: { enabled: false, pausedIntake: false, ignoreTargetingForAssigned: false },
          audience: { kind: 'inline', targeting },
          reach: 1,
          randomizationField: '',
          variant: 'match',
        },
      ],
    })),
  };
}
