/**
 * @allot/admin: allot's control plane. A workspace document (YAML or JSON) declares an
 * account, segments, flags, exclusion groups, clients and environments; pure operations
 * return a new workspace or throw an `AdminError`; `applyOperation` runs one and refuses a
 * result that would not load again (every store writes through it); `compile` turns a workspace into the
 * resolver state `@allot/core` loads; `WorkspaceFile` applies operations to a file on disk
 * under a lock, atomically.
 *
 * ```ts
 * const file = new WorkspaceFile('allot.yaml');
 * await file.update((ws) => createSegment(ws, { id: 'ranking-exp-1', proportion: 0.1,
 *   exclusivityTags: ['ranking'], exclusiveTo: ['ranking'] }), { create: true });
 * await file.update((ws) => allocateSegment(ws, 'ranking-exp-1'));
 * const state = loadState(compile((await file.read()).workspace));
 * ```
 */
export { AdminError, workspaceNeedsRepair, type AdminErrorCode, type InsufficientSpaceDetails, type LimitDetails, type WorkspaceIssue } from './errors.js';
export type {
  AbTestRule,
  Audience,
  Client,
  ConditionalRule,
  Coordination,
  ExclusionGroup,
  Flag,
  FlagState,
  GroupState,
  IndividualRule,
  RolloutRule,
  Rule,
  RuleKind,
  RuleState,
  Segment,
  SegmentState,
  Sticky,
  Variant,
  WeightedVariant,
  Workspace,
} from './workspace/model.js';
export { WORKSPACE_FORMAT_VERSION } from './workspace/model.js';
export { parseWorkspace, workspaceFromData, type ParseOptions } from './workspace/parse.js';
export { ParsedEntries } from './workspace/parsed-entries.js';
export { serializeWorkspace, workspaceDocument, type WorkspaceFormat } from './workspace/serialize.js';
export { newWorkspace, type NewWorkspaceOptions } from './workspace/create.js';
export { checkWorkspace } from './workspace/check.js';
export { reuseEncodings } from './workspace/reuse-encodings.js';
export { groupTag, idProblem, isValidId } from './workspace/names.js';

export type { Expr, Literal, Targeting } from './targeting/ast.js';
export { parseTargeting } from './targeting/parser.js';
export { TARGETING_LIMITS, WORKSPACE_LIMITS, WORKSPACE_TARGETING_LIMITS, type TargetingLimit } from './targeting/limits.js';
export { checkSegmentCount, liveSegments } from './workspace/segment-count.js';
export { checkTargetingTotals, targetingTotals, type TargetingTotals } from './targeting/totals.js';
export { MIN_FRACTION } from './workspace/document-reader.js';
export { toConfidenceTargeting } from './targeting/to-confidence.js';

export { BUCKETS, BucketSet } from './allocation/bucket-set.js';
export { bucketsFor, conflictsWith, occupiedFor, type Occupied } from './allocation/allocator.js';

export type { Outcome } from './operations/outcome.js';
export { applyOperation, workspaceIssues } from './operations/apply.js';
export {
  SEGMENT_FIELDS,
  allocateSegment,
  archiveSegment,
  availableSpace,
  createSegment,
  describeProportion,
  getSegment,
  listSegments,
  updateSegment,
  type AllocationResult,
  type Reallocation,
  type SegmentChange,
  type SegmentField,
  type SegmentFilter,
  type SegmentInput,
  type SegmentUpdate,
  type Space,
  type UpdateOptions as SegmentUpdateOptions,
} from './operations/segments.js';
export {
  addRule,
  addVariant,
  archiveFlag,
  archiveRule,
  createFlag,
  getFlag,
  getRule,
  listFlags,
  moveRule,
  parseVariantValue,
  setRuleEnabled,
  updateRule,
  type FlagInput,
  type RuleInput,
  type RulePatch,
  type RulePosition,
} from './operations/flags.js';
export {
  addGroupMember,
  archiveGroup,
  createGroup,
  getGroup,
  listGroups,
  removeGroupMember,
  unarchiveGroup,
  type GroupChange,
  type GroupInput,
  type MemberOptions,
} from './operations/groups.js';
export { enabledRulesServing, type RuleRef } from './operations/lookup.js';

export { compile, compileState, splitRanges, RULE_BUCKETS, type CompileOptions } from './compile/compile.js';

export * from './impact/index.js';

export {
  WorkspaceFile,
  etagOf,
  withClientSecrets,
  writeAtomically,
  type AfterWrite,
  type Snapshot,
  type UpdateOptions,
  type UpdateResult,
  type WorkspaceFileOptions,
} from './persistence/workspace-file.js';
export type { LockOptions } from './persistence/lock.js';
export { readSecrets, secretsPathOf, secretsText } from './persistence/secrets-file.js';
