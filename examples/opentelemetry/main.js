// allot flag evaluations as OpenTelemetry traces and metrics, printed to the console.
//
//   node main.js
//
// One "request" span; inside it, flags evaluated through the OpenFeature client: each
// evaluation is a child span `feature_flag.evaluation` carrying the flag key, variant,
// reason and allot's rule and assignment, and is counted in `feature_flag.evaluation_*`.
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { OpenFeature } from '@openfeature/server-sdk';
import { ConsoleMetricExporter } from '@opentelemetry/sdk-metrics';
import { ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base';
import { AllotProvider, fileSource } from '@allot/openfeature-provider';
import { instrumentFlags } from './flag-telemetry.js';
import { startTelemetry } from './telemetry.js';

const telemetry = startTelemetry({ spanExporter: new ConsoleSpanExporter(), metricExporter: new ConsoleMetricExporter() });
instrumentFlags();

const stateFile = fileURLToPath(new URL('../states/demo.json', import.meta.url));
await OpenFeature.setProviderAndWait(new AllotProvider({ source: fileSource(stateFile), clientSecret: 'demo-secret' }));
const flags = OpenFeature.getClient();

await trace.getTracer('demo').startActiveSpan('GET /checkout', async (span) => {
  const user = { targetingKey: 'u1', country: 'SE', app: { version: '2.2.0' } };
  const enabled = await flags.getBooleanValue('new-checkout.enabled', false, user);
  const banner = await flags.getStringValue('banner.title', '', user);
  console.log({ enabled, banner });
  span.end();
});

await OpenFeature.close();
await telemetry.shutdown();
