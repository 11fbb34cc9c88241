/**
 * Workspace operations as data: what a scenario's `operations:` lists and what
 * `arbWorkspaceOps` generates. Each one is applied with @allot/admin's own operation of the
 * same name, so the harness checks allot's real allocator, groups and rule authoring.
 */
import {
  AdminError,
  addGroupMember,
  addRule,
  addVariant,
  allocateSegment,
  archiveGroup,
  archiveRule,
  archiveSegment,
  createFlag,
  createGroup,
  createSegment,
  moveRule,
  removeGroupMember,
  setRuleEnabled,
  unarchiveGroup,
  updateRule,
  updateSegment,
  type RuleInput,
  type RulePatch,
  type SegmentField,
  type WeightedVariant,
  type Workspace,
} from '@allot/admin';

/** Variant weights as a scenario writes them: `{ control: 1, treatment: 1 }`, in order. */
export type Weights = Readonly<Record<string, number>>;

/** A rule as a scenario writes it: admin's RuleInput with weights as maps. */
export type RuleSpec = Omit<RuleInput, 'split' | 'weights'> & {
  readonly split?: Weights;
  readonly weights?: Weights;
};

export type RulePatchSpec = Omit<RuleSpec, 'kind' | 'id' | 'enabled'>;

export interface SegmentSpec {
  readonly targeting?: string;
  readonly proportion?: number;
  readonly exclusivityTags?: readonly string[];
  readonly exclusiveTo?: readonly string[];
}

/** One admin operation. Ids are the workspace's short ids (`ranking-exp-1`, not `segments/…`). */
export type WorkspaceOp =
  | ({ readonly op: 'createSegment'; readonly segment: string } & SegmentSpec)
  | { readonly op: 'allocateSegment'; readonly segment: string }
  /** Changes the fields given (a mask of exactly those); `force` lowers a live segment. */
  | ({ readonly op: 'updateSegment'; readonly segment: string; readonly force?: boolean } & SegmentSpec)
  | { readonly op: 'archiveSegment'; readonly segment: string }
  | { readonly op: 'createFlag'; readonly flag: string; readonly variants: readonly string[] }
  | { readonly op: 'addVariant'; readonly flag: string; readonly variant: string }
  | { readonly op: 'addRule'; readonly flag: string; readonly rule: RuleSpec; readonly position?: 'top' | 'bottom' }
  | { readonly op: 'updateRule'; readonly flag: string; readonly rule: string; readonly patch: RulePatchSpec }
  | { readonly op: 'setRuleEnabled'; readonly flag: string; readonly rule: string; readonly enabled: boolean }
  | { readonly op: 'moveRule'; readonly flag: string; readonly rule: string; readonly index: number }
  | { readonly op: 'archiveRule'; readonly flag: string; readonly rule: string }
  | { readonly op: 'createGroup'; readonly group: string; readonly members?: readonly string[] }
  | { readonly op: 'addGroupMember'; readonly group: string; readonly segment: string; readonly proportion?: number }
  | { readonly op: 'removeGroupMember'; readonly group: string; readonly segment: string }
  | { readonly op: 'archiveGroup'; readonly group: string }
  | { readonly op: 'unarchiveGroup'; readonly group: string };

export type WorkspaceOpName = WorkspaceOp['op'];

export const WORKSPACE_OPS: readonly WorkspaceOpName[] = [
  'createSegment',
  'allocateSegment',
  'updateSegment',
  'archiveSegment',
  'createFlag',
  'addVariant',
  'addRule',
  'updateRule',
  'setRuleEnabled',
  'moveRule',
  'archiveRule',
  'createGroup',
  'addGroupMember',
  'removeGroupMember',
  'archiveGroup',
  'unarchiveGroup',
];

function weighted(w: Weights | undefined): readonly WeightedVariant[] | undefined {
  return w === undefined ? undefined : Object.entries(w).map(([variant, weight]) => ({ variant, weight }));
}

function rulePatch(spec: RulePatchSpec): RulePatch {
  const { split, weights, ...rest } = spec;
  const s = weighted(split);
  const w = weighted(weights);
  return { ...rest, ...(s === undefined ? {} : { split: s }), ...(w === undefined ? {} : { weights: w }) };
}

const SEGMENT_MASK: readonly [keyof SegmentSpec, SegmentField][] = [
  ['targeting', 'targeting'],
  ['proportion', 'allocation.proportion'],
  ['exclusivityTags', 'allocation.exclusivityTags'],
  ['exclusiveTo', 'allocation.exclusiveTo'],
];

/** Applies one operation with @allot/admin; throws admin's AdminError when it is refused. */
export function applyWorkspaceOp(ws: Workspace, op: WorkspaceOp): Workspace {
  switch (op.op) {
    case 'createSegment':
      return createSegment(ws, { ...op, id: op.segment }).workspace;
    case 'allocateSegment':
      return allocateSegment(ws, op.segment).workspace;
    case 'updateSegment': {
      const mask = SEGMENT_MASK.filter(([key]) => op[key] !== undefined).map(([, field]) => field);
      return updateSegment(ws, op.segment, op, mask, { force: op.force ?? false }).workspace;
    }
    case 'archiveSegment':
      return archiveSegment(ws, op.segment).workspace;
    case 'createFlag':
      return createFlag(ws, { id: op.flag, variants: op.variants.map((name) => ({ name, value: name })) }).workspace;
    case 'addVariant':
      return addVariant(ws, op.flag, { name: op.variant, value: op.variant }).workspace;
    case 'addRule': {
      const { kind, id, enabled, ...patch } = op.rule;
      const input: RuleInput = { kind, ...(id === undefined ? {} : { id }), ...(enabled === undefined ? {} : { enabled }), ...rulePatch(patch) };
      return addRule(ws, op.flag, input, op.position ?? 'bottom').workspace;
    }
    case 'updateRule':
      return updateRule(ws, op.flag, op.rule, rulePatch(op.patch)).workspace;
    case 'setRuleEnabled':
      return setRuleEnabled(ws, op.flag, op.rule, op.enabled).workspace;
    case 'moveRule':
      return moveRule(ws, op.flag, op.rule, op.index).workspace;
    case 'archiveRule':
      return archiveRule(ws, op.flag, op.rule).workspace;
    case 'createGroup':
      return createGroup(ws, { id: op.group, ...(op.members === undefined ? {} : { members: op.members }) }).workspace;
    case 'addGroupMember':
      return addGroupMember(ws, op.group, op.segment, op.proportion === undefined ? {} : { proportion: op.proportion }).workspace;
    case 'removeGroupMember':
      return removeGroupMember(ws, op.group, op.segment).workspace;
    case 'archiveGroup':
      return archiveGroup(ws, op.group).workspace;
    case 'unarchiveGroup':
      return unarchiveGroup(ws, op.group).workspace;
  }
}

export interface AppliedOps {
  readonly workspace: Workspace;
  /** The operations admin accepted, in order. */
  readonly applied: readonly WorkspaceOp[];
  /** The operations admin refused, with its error (the workspace is unchanged by them). */
  readonly refused: readonly { readonly op: WorkspaceOp; readonly error: AdminError }[];
}

/**
 * Applies operations in order. Refused ones (an `AdminError`: no space, a precondition)
 * are skipped and listed, as a person at the CLI would see them refused; other errors throw.
 */
export function applyWorkspaceOps(ws: Workspace, ops: readonly WorkspaceOp[]): AppliedOps {
  const applied: WorkspaceOp[] = [];
  const refused: { op: WorkspaceOp; error: AdminError }[] = [];
  let current = ws;
  for (const op of ops) {
    try {
      current = applyWorkspaceOp(current, op);
      applied.push(op);
    } catch (error) {
      if (!(error instanceof AdminError)) throw error;
      refused.push({ op, error });
    }
  }
  return { workspace: current, applied, refused };
}
