// A plain node:http app that evaluates allot flags locally through OpenFeature.
//
//   STATE_FILE=../states/demo.json PORT=3000 node server.js
//   curl 'http://127.0.0.1:3000/checkout?user=u1&country=SE&version=2.2.0'
//   curl 'http://127.0.0.1:3000/flags/banner?user=u1'
//
// Edit the state file while it runs: the provider reloads it and logs the flags that changed.
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { AllotProvider, fileSource } from '@allot/openfeature-provider';

const stateFile = process.env.STATE_FILE ?? fileURLToPath(new URL('../states/demo.json', import.meta.url));
const port = Number(process.env.PORT ?? 3000);

const provider = new AllotProvider({
  source: fileSource(stateFile, { debounceMs: 50, pollIntervalMs: 1_000 }),
  clientSecret: process.env.ALLOT_CLIENT_SECRET ?? 'demo-secret',
  exposure: { onExposure: (e) => console.log(`exposure ${e.flag} ${e.variant} unit=${e.unit}`) },
});
provider.events.addHandler(ProviderEvents.ConfigurationChanged, (e) => console.log(`flags changed: ${e?.flagsChanged?.join(', ')}`));
provider.events.addHandler(ProviderEvents.Error, (e) => console.error(`state error (keeping the last good state): ${e?.message}`));

await OpenFeature.setProviderAndWait(provider);
const flags = OpenFeature.getClient();

/** The evaluation context of a request: ?user=…&country=…&version=… */
function contextOf(url) {
  const q = url.searchParams;
  const context = { targetingKey: q.get('user') ?? undefined, country: q.get('country') ?? undefined };
  if (q.has('version')) context.app = { version: q.get('version') };
  if (q.has('email')) context.email = q.get('email');
  return context;
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const context = contextOf(url);
  if (url.pathname === '/checkout') {
    // A hot path: resolve every flag once, then read typed values with no further evaluation.
    void provider.resolveAll(context).then((bundle) =>
      send(res, 200, {
        newCheckout: bundle.getBooleanValue('new-checkout.enabled', false),
        steps: bundle.getNumberValue('new-checkout.steps', 3),
        banner: bundle.getStringValue('banner.title', ''),
      }),
    );
  } else if (url.pathname.startsWith('/flags/')) {
    const key = decodeURIComponent(url.pathname.slice('/flags/'.length));
    void flags.getObjectDetails(key, null, context).then((details) => send(res, 200, details));
  } else {
    send(res, 404, { error: 'try /checkout?user=u1&country=SE&version=2.2.0 or /flags/banner?user=u1' });
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port} (state: ${stateFile})`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    // Stops the file watcher and flushes pending sticky writes.
    void OpenFeature.close().then(() => process.exit(0));
  });
}
