/**
 * The coordination map in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against a real `allot serve` process with tokens: the page takes the token from the
 * printed link's fragment and never puts it in a URL, shows every allocated segment with its
 * bucket count, and its what-if allocation (validateOnly, through the keyboard) shows the
 * numbers `allot diff` reports after the real write. Saves reports/coordination-map.png.
 * Skips, saying so, when chromium or the built CLI or page is missing.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ALLOT_BIN, startServe } from '../testing/serve-process.js';
import { defaultWebRoot } from './page.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const BUILT = existsSync(ALLOT_BIN) && existsSync(join(defaultWebRoot(), 'app.js'));
const OUT = join(import.meta.dirname, '../../../../reports');
const WRITE = 'map-test-write-token-0123456789';

describe('the coordination map', () => {
  if (CHROMIUM === undefined) console.warn('skipping the coordination map browser test: chromium is not installed (scripts/system-deps.sh installs it)');
  if (!BUILT) console.warn('skipping the coordination map browser test: build first (scripts/setup.sh: tsc -b and packages/server/web/build.mjs)');
  it.skipIf(CHROMIUM === undefined || !BUILT)('shows every allocated segment and previews an allocation with allot diff\'s numbers', async () => {
    const serve = await startServe([], { ALLOT_TOKENS: `${WRITE}:write` });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const W = ['--workspace', serve.workspace];
      const cli = async (...args: string[]): Promise<string> => {
        const r = await serve.cli(args);
        expect(r.code, `allot ${args.join(' ')}: ${r.stderr}`).toBe(0);
        return r.stdout;
      };
      const search = ['--tags', 'search', '--exclusive-to', 'search'];
      await cli('segments', 'create', 'search-a', ...W, '--proportion', '0.3', ...search, '--targeting', 'country == "SE"');
      await cli('segments', 'create', 'search-b', ...W, '--proportion', '0.2', ...search);
      await cli('segments', 'create', 'search-c', ...W, '--proportion', '0.25', ...search);
      await cli('segments', 'create', 'homepage', ...W, '--proportion', '0.4');
      for (const id of ['search-a', 'search-b', 'homepage']) await cli('segments', 'allocate', id, ...W);
      await cli('flags', 'create', 'ranking', ...W, '--variant', 'old=1', '--variant', 'new=2');
      await cli('flags', 'add-rule', 'ranking', ...W, '--id', 'test', '--kind', 'ab-test', '--segment', 'search-a', '--weights', 'old=1,new=1', '--enabled');

      const link = /^coordination map: (http:\/\/\S+#token=(\S+))$/m.exec(serve.stdout());
      expect(link, serve.stdout()).not.toBeNull();
      const [, url, token] = link!;
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const requests: { url: string; authorization: string | undefined }[] = [];
      page.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers().authorization }));
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(url!);
      await page.waitForSelector('li[data-segment]', { timeout: 20_000 });
      expect(page.url()).toBe(`${serve.url}/`);

      const listed = (await (await serve.send('GET', '/v1/segments', { headers: { authorization: `Bearer ${WRITE}` } })).json!.segments) as { name: string; state: string; allocatedBuckets: number }[];
      const allocated = listed.filter((s) => s.state === 'ALLOCATED');
      expect(allocated).toHaveLength(3);
      const legend = await page.$$eval('li[data-segment]', (items) => items.map((li) => ({ segment: li.getAttribute('data-segment'), buckets: Number(li.getAttribute('data-buckets')), text: li.textContent })));
      for (const s of allocated) {
        const id = s.name.slice('segments/'.length);
        const shown = legend.filter((l) => l.segment === id);
        expect(shown.length, id).toBeGreaterThan(0);
        for (const l of shown) {
          expect(l.buckets).toBe(s.allocatedBuckets);
          expect(l.text).toContain(s.allocatedBuckets.toLocaleString('en'));
        }
      }
      expect(await page.locator('section.family').count()).toBe(2); // "search" and the untagged
      expect(await page.locator('ol.rules li').count()).toBe(1);

      // What if search-c were allocated: chosen and sent with the keyboard.
      await page.focus('#whatif-segment');
      await page.selectOption('#whatif-segment', 'search-c');
      await page.selectOption('#whatif-action', 'allocate');
      await page.focus('#whatif-preview');
      await page.keyboard.press('Enter');
      const row = page.locator('tr[data-impact-segment="search-c"]');
      await row.waitFor({ timeout: 20_000 });
      const shown = await row.evaluate((tr) => ({ before: tr.dataset.before, after: tr.dataset.after, added: tr.dataset.added, removed: tr.dataset.removed, text: tr.textContent }));
      const shownFlags = await page.locator('tr[data-impact-flag]').count();
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'coordination-map.png'), fullPage: true });

      copyFileSync(serve.workspace, join(serve.dir, 'before.yaml'));
      await cli('segments', 'allocate', 'search-c', ...W);
      const diff = JSON.parse(await cli('diff', '--before', join(serve.dir, 'before.yaml'), '--after', serve.workspace, '--json')) as {
        segments: { segment: string; buckets: Record<string, number>; enter: { exact: number } }[];
        flags: { changed: boolean }[];
      };
      const expected = diff.segments.find((s) => s.segment === 'search-c')!;
      expect({ before: Number(shown.before), after: Number(shown.after), added: Number(shown.added), removed: Number(shown.removed) }).toEqual({
        before: expected.buckets.before,
        after: expected.buckets.after,
        added: expected.buckets.added,
        removed: expected.buckets.removed,
      });
      expect(expected.buckets.added).toBe(250_000);
      expect(shown.text).toContain('25%');
      expect(expected.enter.exact).toBe(0.25);
      expect(shownFlags).toBe(diff.flags.filter((f) => f.changed).length);

      // The token went only into Authorization headers, never into a URL.
      const api = requests.filter((r) => r.url.includes('/v1/'));
      expect(api.length).toBeGreaterThanOrEqual(4);
      for (const r of requests) expect(r.url).not.toContain(token!);
      for (const r of api) expect(r.authorization).toBe(`Bearer ${token!}`);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await serve.terminate();
      await serve.cleanup();
    }
  }, 120_000);
});
