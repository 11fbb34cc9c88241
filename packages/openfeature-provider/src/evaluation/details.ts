/**
 * From core's result to OpenFeature's: reasons, error codes, the value at the key's path,
 * and its type check. A successful result for a shared (fallthrough-free) core result is
 * built once and reused, so the common path allocates nothing.
 */
import type { EvaluationContext as CoreContext, JsonValue, ResolvedFlag } from '@allot/core';
import {
  ErrorCode,
  StandardResolutionReasons,
  type FlagMetadata,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import type { FlagValueType } from '../types.js';
import type { FlagKey } from './flag-key.js';
import { targetingKeyOf } from './context.js';

const TYPE_INDEX: Readonly<Record<FlagValueType, number>> = { boolean: 0, string: 1, number: 2, object: 3 };
const NO_METADATA: FlagMetadata = Object.freeze({});

/** Details for a key whose flag the client does not have. */
export function flagNotFound<T>(key: string, defaultValue: T): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.FLAG_NOT_FOUND,
    errorMessage: `no flag "${flagPart(key)}" for this client (flag key "${key}"); check the name and that the flag lists the client`,
  };
}

/** Details for an evaluation that threw: the default, with the error's message. */
export function unexpected<T>(defaultValue: T, error: unknown): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.GENERAL,
    errorMessage: `allot: unexpected error: ${error instanceof Error ? error.message : String(error)}`,
  };
}

function flagPart(key: string): string {
  const bare = key.startsWith('flags/') ? key.slice('flags/'.length) : key;
  const dot = bare.indexOf('.');
  return `flags/${dot === -1 ? bare : bare.slice(0, dot)}`;
}

/** The OpenFeature result of a core result, read at the key's path as `type`. */
export function detailsOf<T>(
  key: FlagKey,
  resolved: ResolvedFlag,
  type: FlagValueType,
  defaultValue: T,
  context: CoreContext,
): ResolutionDetails<T> {
  if (resolved.reason === 'RESOLVE_REASON_MATCH' && resolved.variant !== '') {
    const cache = key.details[TYPE_INDEX[type]]!;
    const cached = cache.get(resolved);
    if (cached !== undefined) return cached as ResolutionDetails<T>;
    return matched(key, resolved, type, defaultValue, cache);
  }
  return unmatched(key, resolved, defaultValue, context);
}

function matched<T>(
  key: FlagKey,
  resolved: ResolvedFlag,
  type: FlagValueType,
  defaultValue: T,
  cache: Map<ResolvedFlag, ResolutionDetails<unknown>>,
): ResolutionDetails<T> {
  const metadata = metadataOf(resolved);
  const reason = resolved.assignmentKind === 'split' ? StandardResolutionReasons.SPLIT : StandardResolutionReasons.TARGETING_MATCH;
  const found = valueAt(resolved.value, key.path);
  if (found === undefined) {
    return mismatch(defaultValue, resolved, metadata, `variant "${resolved.variant}" of ${resolved.flag} has no value at "${key.path.join('.')}"`);
  }
  // A null in a variant means "no override" (as in Confidence): the caller's default is served.
  if (found === null) return { value: defaultValue, variant: resolved.variant, reason, flagMetadata: metadata };
  if (!hasType(found, type)) {
    const at = key.path.length === 0 ? '' : ` at "${key.path.join('.')}"`;
    return mismatch(defaultValue, resolved, metadata, `variant "${resolved.variant}" of ${resolved.flag} has ${describeType(found)}${at}, not a ${type}`);
  }
  const details: ResolutionDetails<unknown> = Object.freeze({ value: found, variant: resolved.variant, reason, flagMetadata: metadata });
  if (resolved.fallthroughs.length === 0) cache.set(resolved, details);
  return details as ResolutionDetails<T>;
}

function unmatched<T>(key: FlagKey, resolved: ResolvedFlag, defaultValue: T, context: CoreContext): ResolutionDetails<T> {
  switch (resolved.reason) {
    case 'RESOLVE_REASON_FLAG_ARCHIVED':
      return { value: defaultValue, reason: StandardResolutionReasons.DISABLED, flagMetadata: NO_METADATA };
    case 'RESOLVE_REASON_TARGETING_KEY_ERROR':
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.INVALID_CONTEXT,
        errorMessage: `${resolved.flag}: the targeting key must be a string or an integer of at most 100 characters`,
      };
    case 'RESOLVE_REASON_NO_SEGMENT_MATCH':
      if (key.randomizesOnTargetingKey && (targetingKeyOf(context) ?? null) === null) {
        return {
          value: defaultValue,
          reason: StandardResolutionReasons.ERROR,
          errorCode: ErrorCode.TARGETING_KEY_MISSING,
          errorMessage: `${resolved.flag} randomizes on the targeting key, and the context has none (set targetingKey)`,
        };
      }
      return { value: defaultValue, reason: StandardResolutionReasons.DEFAULT, flagMetadata: metadataOf(resolved) };
    case 'RESOLVE_REASON_MATCH':
      // A client-default assignment: the rule matched and serves the caller's default.
      return { value: defaultValue, reason: StandardResolutionReasons.DEFAULT, flagMetadata: metadataOf(resolved) };
    case 'RESOLVE_REASON_ERROR':
      return { value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.GENERAL, errorMessage: `${resolved.flag} could not be resolved` };
  }
}

function mismatch<T>(defaultValue: T, resolved: ResolvedFlag, metadata: FlagMetadata, message: string): ResolutionDetails<T> {
  return {
    value: defaultValue,
    variant: resolved.variant,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.TYPE_MISMATCH,
    errorMessage: message,
    flagMetadata: metadata,
  };
}

/** Rule, segment and assignment of a result; only the fields that are set. */
export function metadataOf(resolved: ResolvedFlag): FlagMetadata {
  if (resolved.rule === '' && resolved.fallthroughs.length === 0) return NO_METADATA;
  const metadata: Record<string, string | number> = { assignmentKind: resolved.assignmentKind };
  if (resolved.rule !== '') metadata.rule = resolved.rule;
  if (resolved.segment !== '') metadata.segment = resolved.segment;
  if (resolved.assignmentId !== '') metadata.assignmentId = resolved.assignmentId;
  if (resolved.fallthroughs.length > 0) metadata.fallthroughs = resolved.fallthroughs.length;
  return Object.freeze(metadata);
}

/** The value at `path`, `undefined` when a step is missing or not an object. */
export function valueAt(value: JsonValue, path: readonly string[]): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (let i = 0; i < path.length; i++) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    const step = path[i]!;
    current = Object.hasOwn(current, step) ? current[step] : undefined;
  }
  return current;
}

function hasType(value: JsonValue, type: FlagValueType): boolean {
  return type === 'object' ? typeof value === 'object' : typeof value === type;
}

function describeType(value: JsonValue): string {
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
