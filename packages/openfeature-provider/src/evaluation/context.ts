/**
 * OpenFeature's `targetingKey` is Confidence's `targeting_key`. States are loaded with
 * `targetingKeyAlias: 'targetingKey'`, so core reads it in place: contexts are passed through
 * as they are, without a copy (nested objects are reached by dotted selectors).
 */
import type { EvaluationContext as CoreContext } from '@allot/core';
import type { EvaluationContext } from '@openfeature/server-sdk';

/** The context core resolves with: the OpenFeature context itself. */
export function coreContext(context: EvaluationContext): CoreContext {
  return context;
}

/** The unit OpenFeature calls the targeting key (`targeting_key` wins when both are set). */
export function targetingKeyOf(context: CoreContext): unknown {
  const direct = context.targeting_key;
  return direct === undefined ? context.targetingKey : direct;
}
