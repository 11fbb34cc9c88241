// The coordination map: the 1,000,000-bucket space per tag family, the segments and the
// rules that use them, every flag's rules in order, and a "what if" panel that previews a
// change through the server's ?validateOnly=true write routes (nothing is written; a read
// token is enough). Token handling: see api.ts.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { api, hasToken, takeFragmentToken, TOKEN_KEY } from './api.js';
import { BucketSpace, BucketSpaceHelp, palette } from './bucket-space.js';
import { shortId } from './format.js';
import { html } from './html.js';
import type { BucketMap, FlagJson, SegmentJson } from './types.js';
import { WhatIf } from './what-if.js';
import { Flags, ruleUses, Segments } from './workspace-tables.js';

const CELLS = 250;

function AuthBar({ onChange }: { readonly onChange: () => void }): unknown {
  const [value, setValue] = useState('');
  const use = (e: Event): void => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, value.trim());
    setValue('');
    onChange();
  };
  const forget = (): void => {
    sessionStorage.removeItem(TOKEN_KEY);
    onChange();
  };
  return html`<form class="auth" onSubmit=${use} aria-label="Token">
    <label>Bearer token (a read token is enough)
      <input id="token" type="password" autocomplete="off" spellcheck="false" value=${value} onInput=${(e: Event) => {
        setValue((e.currentTarget as HTMLInputElement).value);
      }} />
    </label>
    <button type="submit">Use token</button>
    <button type="button" onClick=${forget} disabled=${!hasToken()}>Forget token</button>
    <span class="muted" role="status">${hasToken() ? 'A token is set for this tab.' : 'No token set (enough for a server without tokens).'}</span>
  </form>`;
}

interface Data {
  readonly segments: readonly SegmentJson[];
  readonly flags: readonly FlagJson[];
  readonly map: BucketMap;
}

async function load(): Promise<Data | string> {
  const [segments, flags, map] = await Promise.all([
    api<{ segments: SegmentJson[] }>('GET', '/v1/segments'),
    api<{ flags: FlagJson[] }>('GET', '/v1/flags'),
    api<BucketMap>('GET', `/v1/segments:bucketMap?cells=${CELLS}`),
  ]);
  for (const r of [segments, flags, map]) {
    if (r.ok) continue;
    if (r.status === 401) return 'This server needs a token: paste one above (a read token is enough).';
    return `${r.error.code}: ${r.error.message}`;
  }
  if (!segments.ok || !flags.ok || !map.ok) throw new Error('unreachable: every failed answer returned above');
  return { segments: segments.body.segments, flags: flags.body.flags, map: map.body };
}

function App(): unknown {
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let stale = false;
    load().then(
      (loaded) => {
        if (stale) return;
        if (typeof loaded === 'string') {
          setData(null);
          setError(loaded);
        } else {
          setError(null);
          setData(loaded);
        }
      },
      (e: unknown) => {
        setError(String(e));
      },
    );
    return () => {
      stale = true;
    };
  }, [version]);
  const reload = (): void => {
    setVersion((v) => v + 1);
  };
  const colour = palette(data === null ? [] : data.segments.filter((s) => s.state !== 'ARCHIVED').map((s) => shortId(s.name)));
  return html`<header>
      <h1>allot — coordination map</h1>
      <p class="muted">Read-only. Changes are made with <code>allot</code> or the API; the panel below only previews them.</p>
      <${AuthBar} onChange=${reload} />
      <p><button type="button" onClick=${reload}>Reload</button></p>
    </header>
    <main>
      ${error !== null ? html`<p class="error" role="alert">${error}</p>` : null}
      ${data === null
        ? error === null
          ? html`<p>Loading…</p>`
          : null
        : html`<section aria-labelledby="space-h" id="space"><h2 id="space-h">Bucket space</h2><${BucketSpaceHelp} map=${data.map} /><${BucketSpace} map=${data.map} segments=${data.segments} colour=${colour} /></section>
            <section aria-labelledby="whatif-h"><h2 id="whatif-h">What if</h2><${WhatIf} segments=${data.segments} flags=${data.flags} map=${data.map} colour=${colour} /></section>
            <section aria-labelledby="segments-h"><h2 id="segments-h">Segments</h2><${Segments} segments=${data.segments} uses=${ruleUses(data.flags)} /></section>
            <section aria-labelledby="flags-h"><h2 id="flags-h">Flags and their rules, in order</h2><${Flags} flags=${data.flags} /></section>`}
    </main>`;
}

takeFragmentToken();
const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
