// A minimal OpenTelemetry SDK setup for the demo (your app likely has its own, e.g.
// @opentelemetry/sdk-node with OTLP exporters): spans and metrics go to the exporters given.
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Sets the global tracer and meter providers, and a context manager so that evaluation spans
 * are children of the span active in the request.
 *
 * @param {{ spanExporter: import('@opentelemetry/sdk-trace-base').SpanExporter, metricExporter: import('@opentelemetry/sdk-metrics').PushMetricExporter }} exporters
 */
export function startTelemetry({ spanExporter, metricExporter }) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
  const meterProvider = new MeterProvider({ readers: [metricReader] });
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    /** Exports the metrics collected so far. */
    flush: () => metricReader.forceFlush(),
    /** Flushes and stops both providers. */
    shutdown: async () => {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
