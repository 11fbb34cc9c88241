/**
 * The example's wiring, with the OpenTelemetry SDK's in-memory exporters: every evaluation
 * through the OpenFeature client is a child span of the request's span with the standard
 * feature-flag attributes and allot's, and is counted by the evaluation metrics.
 */
import { readFileSync } from 'node:fs';
import { trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { OpenFeature } from '@openfeature/server-sdk';
import { AllotProvider } from '@allot/openfeature-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentFlags } from './flag-telemetry.js';
import { startTelemetry } from './telemetry.js';

const spans = new InMemorySpanExporter();
const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
let telemetry: ReturnType<typeof startTelemetry>;

beforeAll(async () => {
  telemetry = startTelemetry({ spanExporter: spans, metricExporter: metrics });
  instrumentFlags();
  const state = readFileSync(new URL('../states/demo.json', import.meta.url), 'utf8');
  await OpenFeature.setProviderAndWait(new AllotProvider({ source: state, clientSecret: 'demo-secret' }));
});

afterAll(async () => {
  await OpenFeature.close();
  await telemetry.shutdown();
});

/** The data points of a counter, as (attributes, value) pairs. */
function counter(name: string): { attributes: Record<string, unknown>; value: number }[] {
  const found = metrics
    .getMetrics()
    .flatMap((r) => r.scopeMetrics)
    .flatMap((s) => s.metrics)
    .filter((m): m is SumMetricData => m.descriptor.name === name);
  return (found.at(-1)?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));
}

describe('examples/opentelemetry', () => {
  it('makes each evaluation a child span of the request, with the flag, variant, reason and allot assignment', async () => {
    const flags = OpenFeature.getClient();
    const user = { targetingKey: 'u1', country: 'SE', app: { version: '2.2.0' } };
    const request = await trace.getTracer('test').startActiveSpan('GET /checkout', async (span) => {
      expect(await flags.getBooleanValue('new-checkout.enabled', false, user)).toBe(true);
      expect(await flags.getStringValue('banner.title', '', user)).toBe('Winter sale');
      expect(await flags.getStringValue('no-such-flag', 'fallback', user)).toBe('fallback');
      span.end();
      return span.spanContext();
    });

    const evaluations = spans.getFinishedSpans().filter((s) => s.name === 'feature_flag.evaluation');
    expect(evaluations.map((s) => [s.parentSpanContext?.spanId, s.spanContext().traceId])).toEqual(Array(3).fill([request.spanId, request.traceId]));
    expect(evaluations[0]!.attributes).toEqual({
      'feature_flag.key': 'new-checkout.enabled',
      'feature_flag.provider.name': 'allot',
      'feature_flag.result.reason': 'split',
      'feature_flag.result.variant': 'treatment',
      'feature_flag.result.value': true,
      'feature_flag.context.id': 'u1',
      'allot.rule': 'flags/new-checkout/rules/nordic-ab',
      'allot.segment': 'segments/nordic-app-2-1',
      'allot.assignment_id': 'ab-treatment',
      'allot.assignment_kind': 'split',
    });
    expect(evaluations[1]!.attributes).toMatchObject({ 'feature_flag.key': 'banner.title', 'feature_flag.result.reason': 'targeting_match', 'allot.assignment_kind': 'rollout' });
    expect(evaluations[2]!.attributes).toMatchObject({ 'feature_flag.key': 'no-such-flag', 'error.type': 'flag_not_found' });
    expect(evaluations[2]!.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('counts evaluation requests, successes by variant and reason, and errors', async () => {
    await telemetry.flush();
    const keyOf = (p: { attributes: Record<string, unknown> }): unknown => p.attributes['feature_flag.key'];
    expect(counter('feature_flag.evaluation_requests_total').map((p) => [keyOf(p), p.value]).sort()).toEqual([
      ['banner.title', 1],
      ['new-checkout.enabled', 1],
      ['no-such-flag', 1],
    ]);
    expect(counter('feature_flag.evaluation_success_total')).toContainEqual({
      attributes: { 'feature_flag.key': 'new-checkout.enabled', 'feature_flag.provider.name': 'allot', 'feature_flag.result.variant': 'treatment', 'feature_flag.result.reason': 'SPLIT' },
      value: 1,
    });
    expect(counter('feature_flag.evaluation_error_total').map((p) => [keyOf(p), p.value])).toEqual([['no-such-flag', 1]]);
  });
});
