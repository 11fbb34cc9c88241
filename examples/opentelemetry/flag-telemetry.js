// Flag evaluations as OpenTelemetry signals, through OpenFeature's own hooks
// (@openfeature/open-telemetry-hooks): a `feature_flag.evaluation` span per evaluation, with
// the OpenTelemetry feature-flag attributes and allot's rule, segment and assignment; and
// the `feature_flag.evaluation_*` counters.
//
// Register the hooks after the OpenTelemetry SDK is set up: the metrics hook takes its meter
// when it is created (spans find the tracer provider whenever it is set).
import { OpenFeature } from '@openfeature/server-sdk';
import { MetricsHook, SpanHook } from '@openfeature/open-telemetry-hooks';

/** allot's flag metadata fields, and the span attributes they become. @type {readonly [string, string][]} */
const METADATA_ATTRIBUTES = [
  ['rule', 'allot.rule'],
  ['segment', 'allot.segment'],
  ['assignmentId', 'allot.assignment_id'],
  ['assignmentKind', 'allot.assignment_kind'],
  ['stickyStore', 'allot.sticky_store'],
];

/**
 * Which rule, segment and assignment served a value (and the sticky store's trouble, if any):
 * what an experiment analysis joins on. An `attributeMapper` for the hooks.
 *
 * @param {unknown} _hookContext
 * @param {{ flagMetadata: Readonly<Record<string, string | number | boolean>> }} details
 * @returns {Record<string, string | number | boolean>}
 */
export function allotAttributes(_hookContext, details) {
  /** @type {Record<string, string | number | boolean>} */
  const attributes = {};
  for (const [field, attribute] of METADATA_ATTRIBUTES) {
    const value = details.flagMetadata[field];
    if (value !== undefined) attributes[attribute] = value;
  }
  return attributes;
}

/**
 * Adds a span per evaluation and the evaluation counters to every evaluation of `target`
 * (OpenFeature itself by default, or one client). Register them once, globally or per client.
 *
 * @param {{ addHooks: (...hooks: import('@openfeature/server-sdk').Hook[]) => unknown }} [target]
 */
export function instrumentFlags(target = OpenFeature) {
  target.addHooks(new SpanHook({ attributeMapper: allotAttributes }), new MetricsHook());
}
