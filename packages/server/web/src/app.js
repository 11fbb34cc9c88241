// The coordination map: the 1,000,000-bucket space per tag family, the segments, every
// flag's rules in order, and a "what if" panel that previews a change through the server's
// ?validateOnly=true endpoints (nothing is written; a read token is enough).
//
// The token: pasted by the user, or taken once from a `#token=` URL fragment (which the
// browser never sends to a server) and removed from the address bar at once. It is kept in
// sessionStorage (this tab only, gone when it closes), sent only as the Authorization header
// of same-origin requests, and never put in a URL. No cookies are used.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
const PALETTE = ['#E69F00', '#56B4E9', '#009E73', '#0072B2', '#D55E00', '#CC79A7', '#F0E442', '#000000'];
const TOKEN_KEY = 'allot.token';
const BUCKETS = 1_000_000;
const CELLS = 250;

function takeFragmentToken() {
  const m = /^#token=(.+)$/.exec(window.location.hash);
  if (m === null) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, '', window.location.pathname + window.location.search);
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token !== null && token !== '') headers.authorization = `Bearer ${token}`;
  if (method !== 'GET') headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await res.text();
  let json = {};
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    json = { error: { code: 'NOT_JSON', message: text.slice(0, 300) } };
  }
  return { status: res.status, json };
}

/** `0.15` as `15%`, as `allot diff` prints it. */
function percent(x) {
  const text = (x * 100).toFixed(4).replace(/\.?0+$/, '');
  return `${text === '-0' ? '0' : text}%`;
}

function share(s) {
  if (s.exact !== null) return percent(s.exact);
  return `${percent(s.low)}–${percent(s.high)} (depends on who matches the audiences)`;
}

const id = (name) => name.slice(name.indexOf('/') + 1);

function AuthBar({ onChange }) {
  const [value, setValue] = useState('');
  const has = (sessionStorage.getItem(TOKEN_KEY) ?? '') !== '';
  const use = (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, value.trim());
    setValue('');
    onChange();
  };
  const forget = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    onChange();
  };
  return html`<form class="auth" onSubmit=${use} aria-label="Token">
    <label>Bearer token (a read token is enough)
      <input id="token" type="password" autocomplete="off" spellcheck="false" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
    </label>
    <button type="submit">Use token</button>
    <button type="button" onClick=${forget} disabled=${!has}>Forget token</button>
    <span class="muted" role="status">${has ? 'A token is set for this tab.' : 'No token set (enough for a server without tokens).'}</span>
  </form>`;
}

/**
 * One tag family. Its members are exclusive to each other, so every cell is drawn as a
 * stacked column: each member's share of the cell's buckets, and what is left free on top.
 * Untagged segments may overlap, so they get a row each (the bar's height: the share held).
 */
function Family({ family, cells, cellSize, colour }) {
  const label = family.tag === null ? 'untagged segments' : `tag "${family.tag}"`;
  const stacked = family.tag !== null;
  const lane = stacked ? 70 : 30;
  const left = 150;
  const width = 1000;
  const cw = width / cells;
  const rows = stacked ? 1 : family.members.length;
  const height = lane * rows + 4;
  const captionId = `family-${family.tag ?? '-untagged'}`;
  const bars = [];
  if (stacked) {
    for (let i = 0; i < cells; i++) {
      let y = lane;
      for (const m of family.members) {
        const c = m.cells[i];
        if (c === 0) continue;
        const hgt = (c / cellSize) * (lane - 6);
        y -= hgt;
        bars.push(html`<rect x=${left + i * cw} y=${y} width=${cw + 0.05} height=${hgt} fill=${colour(m.segment)} />`);
      }
    }
  } else {
    family.members.forEach((m, row) => {
      m.cells.forEach((c, i) => {
        if (c === 0) return;
        const hgt = (c / cellSize) * (lane - 6);
        bars.push(html`<rect x=${left + i * cw} y=${(row + 1) * lane - hgt} width=${cw + 0.05} height=${hgt} fill=${colour(m.segment)} />`);
      });
    });
  }
  return html`<section class="family" aria-labelledby=${captionId}>
    <h3 id=${captionId}>${label}: ${family.members.length} allocated segment${family.members.length === 1 ? '' : 's'}, ${family.freeBuckets.toLocaleString('en')} buckets free (${percent(family.freeBuckets / BUCKETS)})</h3>
    <svg viewBox=${`0 0 ${left + width} ${height}`} role="img" aria-label=${`Bucket space of ${label}: ${family.members.map((m) => `${m.segment} holds ${m.buckets} buckets`).join('; ')}; ${family.freeBuckets} free`}>
      ${Array.from({ length: rows }, (_, row) => html`<g>
        <rect x=${left} y=${row * lane + 6} width=${width} height=${lane - 6} fill="#fff" stroke="#ccc" />
        <text x="6" y=${row * lane + lane / 2 + 8} font-size="18">${stacked ? 'all buckets' : family.members[row].segment}</text>
      </g>`)}
      ${bars}
    </svg>
    <ul class="legend">
      ${family.members.map(
        (m) => html`<li data-segment=${m.segment} data-buckets=${m.buckets}>
          <svg class="swatch" width="12" height="12" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill=${colour(m.segment)} stroke="#333" /></svg>${m.segment}: ${m.buckets.toLocaleString('en')} buckets (${percent(m.buckets / BUCKETS)})
        </li>`,
      )}
      ${stacked ? html`<li><svg class="swatch" width="12" height="12" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill="#fff" stroke="#333" /></svg>free for "${family.tag}": ${family.freeBuckets.toLocaleString('en')} buckets</li>` : null}
    </ul>
  </section>`;
}

function BucketSpace({ map, colour }) {
  if (map.families.length === 0) return html`<p>No segment is allocated yet.</p>`;
  return html`<p class="muted">The 1,000,000 buckets from left to right in ${map.cells} columns of ${map.cellSize.toLocaleString('en')}; a column's height is the share of its buckets a segment holds. Segments are spread over the whole space, so a column looks like the total. Segments that share a tag never hold the same bucket.</p>
    ${map.families.map((f) => html`<${Family} family=${f} cells=${map.cells} cellSize=${map.cellSize} colour=${colour} />`)}`;
}

function Segments({ segments }) {
  return html`<table>
    <caption>Every segment of the workspace</caption>
    <thead><tr><th scope="col">segment</th><th scope="col">state</th><th scope="col" class="num">proportion</th><th scope="col" class="num">buckets</th><th scope="col">tags</th><th scope="col">exclusive to</th><th scope="col">targeting</th></tr></thead>
    <tbody>
      ${segments.map(
        (s) => html`<tr data-segment-row=${id(s.name)}>
          <th scope="row">${id(s.name)}</th><td><span class="state">${s.state}</span></td>
          <td class="num">${s.allocation.proportion.value}</td><td class="num">${s.allocatedBuckets.toLocaleString('en')}</td>
          <td>${s.allocation.exclusivityTags.join(', ') || '–'}</td><td>${s.allocation.exclusiveTo.join(', ') || '–'}</td>
          <td><code>${s.targetingExpression || 'everyone'}</code></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function weights(w) {
  const total = Object.values(w).reduce((a, b) => a + b, 0);
  return Object.entries(w).map(([v, n]) => `${v} ${percent(n / total)}`).join(', ');
}

function ruleText(r) {
  const who = r.segment !== undefined ? `segment ${id(r.segment)}` : r.targetingExpression ? `targeting ${r.targetingExpression}` : r.kind === 'individual' ? `${r.attribute} in [${r.values.join(', ')}]` : 'everyone';
  switch (r.kind) {
    case 'ab-test':
      return `${who}: split ${weights(r.weights)}`;
    case 'conditional':
      return `${who}: ${percent(Number(r.percentage.value))} of them, split ${weights(r.split)}`;
    case 'rollout':
      return `${who}: ${r.variant} to ${percent(Number(r.reach.value))}`;
    default:
      return `${who}: ${r.variant}`;
  }
}

function Flags({ flags }) {
  if (flags.length === 0) return html`<p>No flags yet.</p>`;
  return flags.map(
    (f) => html`<section aria-labelledby=${`flag-${id(f.name)}`}>
      <h3 id=${`flag-${id(f.name)}`}>${id(f.name)} <span class="state">${f.state}</span></h3>
      ${f.rules.length === 0
        ? html`<p class="muted">No rules: every unit gets the default.</p>`
        : html`<ol class="rules" aria-label=${`Rules of ${id(f.name)}, in the order they are evaluated`}>
            ${f.rules.map((r) => html`<li><strong>${id(r.name)}</strong> (${r.kind}, <span class="state">${r.state}</span>${r.environments.length > 0 ? `, ${r.environments.join(', ')}` : ''}): ${ruleText(r)}</li>`)}
          </ol>`}
    </section>`,
  );
}

function Impact({ answer }) {
  const impact = answer.impact;
  const segments = impact.segments.filter((s) => s.changed || s.buckets.added + s.buckets.removed > 0);
  const flags = impact.flags.filter((f) => f.changed);
  return html`<div>
    ${answer.warnings?.length > 0 ? html`<ul>${answer.warnings.map((w) => html`<li>warning: ${w}</li>`)}</ul>` : null}
    ${segments.length === 0 && flags.length === 0 ? html`<p>No unit would change outcome or segment.</p>` : null}
    ${segments.length > 0
      ? html`<table>
          <caption>Segments that would change</caption>
          <thead><tr><th scope="col">segment</th><th scope="col">state</th><th scope="col" class="num">buckets before</th><th scope="col" class="num">after</th><th scope="col" class="num">added</th><th scope="col" class="num">removed</th><th scope="col">units enter</th><th scope="col">units leave</th></tr></thead>
          <tbody>${segments.map(
            (s) => html`<tr data-impact-segment=${s.segment} data-before=${s.buckets.before} data-after=${s.buckets.after} data-added=${s.buckets.added} data-removed=${s.buckets.removed}>
              <th scope="row">${s.segment}</th><td>${s.before === s.after ? s.before : `${s.before} → ${s.after}`}</td>
              <td class="num">${s.buckets.before.toLocaleString('en')}</td><td class="num">${s.buckets.after.toLocaleString('en')}</td>
              <td class="num">${s.buckets.added.toLocaleString('en')}</td><td class="num">${s.buckets.removed.toLocaleString('en')}</td>
              <td>${share(s.enter)}</td><td>${share(s.leave)}</td>
            </tr>`,
          )}</tbody>
        </table>`
      : null}
    ${flags.length > 0
      ? html`<table>
          <caption>Flags whose outcome would change</caption>
          <thead><tr><th scope="col">flag</th><th scope="col">start served</th><th scope="col">stop served</th><th scope="col">change variant</th></tr></thead>
          <tbody>${flags.map(
            (f) => html`<tr data-impact-flag=${f.flag}><th scope="row">${f.flag}</th><td>${share(f.start)}</td><td>${share(f.stop)}</td><td>${share(f.change)}</td></tr>`,
          )}</tbody>
        </table>`
      : null}
    <p class="muted">Previewed with validateOnly: nothing was written.</p>
  </div>`;
}

function WhatIf({ segments }) {
  const live = segments.filter((s) => s.state !== 'ARCHIVED');
  const [segment, setSegment] = useState(live[0] ? id(live[0].name) : '');
  const [action, setAction] = useState('allocate');
  const [proportion, setProportion] = useState('');
  const [tags, setTags] = useState('');
  const [exclusiveTo, setExclusiveTo] = useState('');
  const [force, setForce] = useState(false);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const list = (text) => text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const preview = async (e) => {
    e.preventDefault();
    setBusy(true);
    const path = `/v1/segments/${encodeURIComponent(segment)}`;
    let res;
    if (action === 'allocate') {
      res = await api('POST', `${path}:allocate?validateOnly=true`, {});
    } else if (action === 'proportion') {
      res = await api('PATCH', `${path}?updateMask=allocation.proportion&validateOnly=true${force ? '&force=true' : ''}`, { allocation: { proportion: { value: proportion.trim() } } });
    } else {
      res = await api('PATCH', `${path}?updateMask=allocation.exclusivityTags,allocation.exclusiveTo&validateOnly=true${force ? '&force=true' : ''}`, {
        allocation: { exclusivityTags: list(tags), exclusiveTo: list(exclusiveTo) },
      });
    }
    setResult(res);
    setBusy(false);
  };
  if (live.length === 0) return html`<p>Create a segment first.</p>`;
  return html`<form class="whatif" onSubmit=${preview} aria-describedby="whatif-help">
    <p id="whatif-help" class="muted">Preview a change: the server applies it to a copy of the workspace and answers what would move. Nothing is written.</p>
    <label>Segment
      <select id="whatif-segment" value=${segment} onChange=${(e) => setSegment(e.currentTarget.value)}>
        ${live.map((s) => html`<option value=${id(s.name)}>${id(s.name)} (${s.state})</option>`)}
      </select>
    </label>
    <label>Change
      <select id="whatif-action" value=${action} onChange=${(e) => setAction(e.currentTarget.value)}>
        <option value="allocate">allocate</option>
        <option value="proportion">change the proportion</option>
        <option value="retag">retag</option>
      </select>
    </label>
    ${action === 'proportion' ? html`<label>New proportion (0–1)<input id="whatif-proportion" inputmode="decimal" required value=${proportion} onInput=${(e) => setProportion(e.currentTarget.value)} /></label>` : null}
    ${action === 'retag'
      ? html`<label>Tags (comma-separated)<input id="whatif-tags" value=${tags} onInput=${(e) => setTags(e.currentTarget.value)} /></label>
          <label>Exclusive to (comma-separated)<input id="whatif-exclusive-to" value=${exclusiveTo} onInput=${(e) => setExclusiveTo(e.currentTarget.value)} /></label>`
      : null}
    ${action === 'allocate' ? null : html`<label class="inline"><input id="whatif-force" type="checkbox" checked=${force} onChange=${(e) => setForce(e.currentTarget.checked)} /> force (a live segment may lose units)</label>`}
    <div><button id="whatif-preview" type="submit" disabled=${busy}>Preview</button></div>
    <div class="result" aria-live="polite" id="whatif-result">
      ${result === null
        ? null
        : result.status === 200
          ? html`<${Impact} answer=${result.json} />`
          : html`<p class="error" role="alert" data-error-code=${result.json.error?.code ?? ''}>The change would be refused: ${result.json.error?.code ?? result.status}: ${result.json.error?.message ?? ''}</p>`}
    </div>
  </form>`;
}

function App() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let stale = false;
    (async () => {
      const [segments, flags, map] = await Promise.all([api('GET', '/v1/segments'), api('GET', '/v1/flags'), api('GET', `/v1/segments:bucketMap?cells=${CELLS}`)]);
      if (stale) return;
      const failed = [segments, flags, map].find((r) => r.status !== 200);
      if (failed !== undefined) {
        setData(null);
        setError(failed.status === 401 ? 'This server needs a token: paste one above (a read token is enough).' : `${failed.json.error?.code ?? failed.status}: ${failed.json.error?.message ?? ''}`);
        return;
      }
      setError(null);
      setData({ segments: segments.json.segments, flags: flags.json.flags, map: map.json });
    })().catch((e) => setError(String(e)));
    return () => {
      stale = true;
    };
  }, [version]);
  const reload = () => setVersion((v) => v + 1);
  const order = data === null ? [] : data.segments.filter((s) => s.state === 'ALLOCATED').map((s) => id(s.name));
  const colour = (segment) => PALETTE[Math.max(0, order.indexOf(segment)) % PALETTE.length];
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
        : html`<section aria-labelledby="space-h"><h2 id="space-h">Bucket space</h2><${BucketSpace} map=${data.map} colour=${colour} /></section>
            <section aria-labelledby="whatif-h"><h2 id="whatif-h">What if</h2><${WhatIf} segments=${data.segments} /></section>
            <section aria-labelledby="segments-h"><h2 id="segments-h">Segments</h2><${Segments} segments=${data.segments} /></section>
            <section aria-labelledby="flags-h"><h2 id="flags-h">Flags and their rules, in order</h2><${Flags} flags=${data.flags} /></section>`}
    </main>`;
}

takeFragmentToken();
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
