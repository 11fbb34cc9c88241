/**
 * OpenFeature's `targetingKey` is Confidence's `targeting_key`. Everything else in the
 * context is passed through as is: nested objects are reached by dotted selectors.
 */
import type { EvaluationContext as CoreContext } from '@allot/core';
import type { EvaluationContext } from '@openfeature/server-sdk';

/** The context core resolves with. Copies only when a `targetingKey` must be renamed. */
export function coreContext(context: EvaluationContext): CoreContext {
  const targetingKey = context.targetingKey;
  if (targetingKey === undefined) return context;
  // Object.assign then a store is ~10x faster in V8 than `{ ...context, targeting_key }`.
  const copy: Record<string, unknown> = Object.assign({}, context);
  copy.targeting_key = targetingKey;
  return copy;
}
