/**
 * @allot/core: a pure, synchronous resolver for Confidence-shaped resolver states.
 *
 * ```ts
 * const state = loadState(json);
 * const { resolvedFlags } = resolveFlags(state, {
 *   flags: ['flags/checkout'],
 *   evaluationContext: { targeting_key: 'user-1', country: 'SE' },
 *   clientSecret: 'my-secret',
 * });
 * ```
 */
export type {
  AssignmentKind,
  EvaluationContext,
  FallthroughRecord,
  JsonValue,
  MaterializationAccess,
  MaterializationKey,
  MaterializationRecord,
  MaterializationStore,
  MaterializationStoreWrite,
  MaterializationWrite,
  ResolvedFlag,
  ResolveReason,
  ResolveRequest,
  ResolveResponse,
  StateIssue,
} from './types.js';
export { ResolveError, StateError, type ResolveErrorCode } from './errors.js';
export { loadState, validateState, type DecodedBitset, type LoadOptions, type ValidationResult } from './state/load.js';
export {
  DeltaAssembler,
  loadDelta,
  tryDelta,
  validateDelta,
  type DeltaResult,
  type StateChanges,
} from './state/load-delta.js';
export {
  StateAssembler,
  assembleState,
  prepareState,
  type PrepareOptions,
  type PrepareResult,
  type PreparedState,
  type ReusableState,
} from './state/prepare.js';
export {
  ResolverState,
  type CompiledClient,
  type StateSummary,
} from './state/resolver-state.js';
export type {
  AssignmentType,
  CompiledAssignment,
  CompiledFlag,
  CompiledRule,
  CompiledVariant,
  MaterializationSpec,
} from './state/flags.js';
export type { CompiledSegment } from './state/segments.js';
export { resolveFlag, resolveFlags, requiredReads } from './resolve/resolve.js';
export { unitOf } from './resolve/unit.js';
export { HashPrefix, bucketOf, MAX_UNIT_LENGTH } from './hash/bucket.js';
export { murmur3Hex, murmur3String, out as murmur3Out } from './hash/murmur3.js';
export {
  BITSET_BYTES,
  SEGMENT_BUCKETS,
  CompactBitset,
  type BitsetTransfer,
  bitsetFromIndices,
  countBits,
  hasBit,
  setBit,
  type Bitset,
} from './state/bitset.js';
export { BloomFilter } from './state/bloom.js';
export { parseTimestamp, parseVersion, compareVersions, type Version } from './state/values.js';
export {
  runConformance,
  runConformanceCase,
  type ConformanceCase,
  type ConformanceExpectation,
  type ConformanceResult,
} from './conformance.js';
