/**
 * The coordination map in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against a real `allot serve` process with tokens: the page takes the token from the
 * printed link's fragment and never puts it in a URL; every chart (and every chart after a
 * previewed change) draws exactly 1,000,000 buckets, each segment with its bucket count;
 * segments and rules link to each other; the what-if opens on a change that applies, shows
 * the numbers and the from → to matrix `allot diff` prints after the real write, redraws the
 * charts, takes `50%`, prefills a retag with the current tags and previews rule changes; and
 * the README tour's workspace shows ranking's true space. Saves reports/coordination-map*.png.
 * Skips, saying so, when chromium or the built CLI or page is missing.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';

import { ALLOT_BIN, startServe, type ServeProcess } from '../testing/serve-process.js';
import { defaultWebRoot } from './page.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const BUILT = existsSync(ALLOT_BIN) && existsSync(join(defaultWebRoot(), 'app.js'));
const OUT = join(import.meta.dirname, '../../../../reports');
const WRITE = 'map-test-write-token-0123456789';

interface Chart {
  family: string;
  heading: string;
  /** Per legend entry: segment (or "shared", "free") and its numbers. */
  legend: { segment: string | null; kind: string | null; buckets: number; own: number | null; text: string }[];
  /** Buckets drawn, by kind of part (own, shared, free). */
  drawn: Record<string, number>;
}

/** Every family chart under `scope` (the page's, or the what-if's "after" section). */
async function charts(page: Page, scope: string): Promise<Chart[]> {
  return page.$$eval(`${scope} section.family`, (sections) =>
    sections.map((s) => {
      const drawn: Record<string, number> = {};
      for (const r of s.querySelectorAll('svg rect[data-buckets]')) {
        const kind = r.getAttribute('data-kind')!;
        drawn[kind] = (drawn[kind] ?? 0) + Number(r.getAttribute('data-buckets'));
      }
      return {
        family: s.getAttribute('data-family')!,
        heading: s.querySelector('h3')!.textContent,
        legend: [...s.querySelectorAll('.legend li')].map((li) => ({
          segment: li.getAttribute('data-segment'),
          kind: li.getAttribute('data-kind'),
          buckets: Number(li.getAttribute('data-buckets')),
          own: li.hasAttribute('data-own') ? Number(li.getAttribute('data-own')) : null,
          text: li.textContent.replace(/\s+/g, ' ').trim(),
        })),
        drawn,
      };
    }),
  );
}

/** Each chart accounts for every bucket once: its members' own, the shared and the free add up to 1,000,000, drawn and in the legend. */
function expectWholeSpace(list: readonly Chart[]): void {
  expect(list.length).toBeGreaterThan(0);
  for (const c of list) {
    const legendTotal = c.legend.reduce((sum, l) => sum + (l.segment !== null ? l.own! : l.buckets), 0);
    expect(legendTotal, `legend of ${c.family}`).toBe(1_000_000);
    expect(Object.values(c.drawn).reduce((a, b) => a + b, 0), `chart of ${c.family}`).toBe(1_000_000);
    const free = c.legend.find((l) => l.kind === 'free')!;
    expect(c.drawn.free ?? 0, `white of ${c.family}`).toBe(free.buckets);
    expect(c.heading).toContain(`${free.buckets.toLocaleString('en')} buckets ${c.family === '' ? 'held by none of them' : 'free'}`);
  }
}

async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

function cliOf(serve: ServeProcess): (...args: string[]) => Promise<string> {
  return async (...args) => {
    const r = await serve.cli([...args, '--workspace', serve.workspace]);
    expect(r.code, `allot ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
}

async function open(browser: Browser, serve: ServeProcess, errors: string[]): Promise<{ page: Page; token: string; requests: { url: string; authorization: string | undefined }[] }> {
  const link = /^coordination map: (http:\/\/\S+#token=(\S+))$/m.exec(serve.stdout());
  expect(link, serve.stdout()).not.toBeNull();
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const requests: { url: string; authorization: string | undefined }[] = [];
  page.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers().authorization }));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(link![1]!);
  await page.waitForSelector('li[data-segment]', { timeout: 20_000 });
  expect(page.url()).toBe(`${serve.url}/`);
  return { page, token: link![2]!, requests };
}

/** Chooses a change in the what-if panel and previews it, with the keyboard. */
async function preview(page: Page, target: string | null, action: string | null, fill: Record<string, string> = {}): Promise<void> {
  if (target !== null) await page.selectOption('#whatif-target', target);
  if (action !== null) await page.selectOption('#whatif-action', action);
  for (const [id, value] of Object.entries(fill)) await page.fill(id, value);
  await page.focus('#whatif-preview');
  await page.keyboard.press('Enter');
  await page.locator('#whatif-result > *').first().waitFor({ timeout: 20_000 });
}

/** `allot diff`'s from → to matrix of `flag`, as it prints it: header cells, then each row's cells. */
function cliMatrix(text: string, flag: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`flag ${flag} `));
  const header = lines.findIndex((l, i) => i > start && l.trimStart().startsWith('from \\ to'));
  const rows: string[][] = [];
  for (let i = header; i < lines.length && lines[i]!.startsWith('  ') && !lines[i]!.startsWith('  note:'); i++) {
    rows.push(lines[i]!.trim().split(/\s{2,}/));
  }
  return rows;
}

async function pageMatrix(page: Page, flag: string): Promise<string[][]> {
  // The callback runs in the page; this project has no DOM types, so its result is typed here.
  const rows: unknown = await page.$$eval(`table[data-matrix="${flag}"] tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => (c.textContent as string).trim())));
  return rows as string[][];
}

describe('the coordination map', () => {
  if (CHROMIUM === undefined) console.warn('skipping the coordination map browser test: chromium is not installed (scripts/system-deps.sh installs it)');
  if (!BUILT) console.warn('skipping the coordination map browser test: build first (scripts/setup.sh: tsc -b and packages/server/web/build.mjs)');

  it.skipIf(CHROMIUM === undefined || !BUILT)('draws the whole space, links segments and rules, and previews segment and rule changes with allot diff\'s numbers', async () => {
    const serve = await startServe([], { ALLOT_TOKENS: `${WRITE}:write` });
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const cli = cliOf(serve);
      const search = ['--tags', 'search', '--exclusive-to', 'search'];
      await cli('segments', 'create', 'search-a', '--proportion', '0.3', ...search, '--targeting', 'country == "SE"');
      await cli('segments', 'create', 'search-b', '--proportion', '0.2', ...search);
      await cli('segments', 'create', 'search-c', '--proportion', '0.25', ...search);
      await cli('segments', 'create', 'homepage', '--proportion', '0.4');
      await cli('segments', 'create', 'banner', '--proportion', '0.2');
      for (const id of ['search-a', 'search-b', 'homepage', 'banner']) await cli('segments', 'allocate', id);
      await cli('flags', 'create', 'ranking', '--variant', 'old=1', '--variant', 'new=2');
      await cli('flags', 'add-rule', 'ranking', '--id', 'test', '--kind', 'ab-test', '--segment', 'search-a', '--weights', 'old=1,new=1', '--enabled');
      await cli('flags', 'add-rule', 'ranking', '--id', 'ramp', '--kind', 'rollout', '--segment', 'homepage', '--variant', 'new', '--reach', '0.5', '--enabled');
      const errors: string[] = [];
      const { page, token, requests } = await open(browser, serve, errors);

      // Every allocated segment with its bucket count, every chart the whole space.
      const listed = (await (await serve.send('GET', '/v1/segments', { headers: { authorization: `Bearer ${WRITE}` } })).json!.segments) as { name: string; state: string; allocatedBuckets: number }[];
      const allocated = listed.filter((s) => s.state === 'ALLOCATED');
      expect(allocated).toHaveLength(4);
      const before = await charts(page, '#space');
      expect(before.map((c) => c.family)).toEqual(['search', '']);
      expectWholeSpace(before);
      for (const s of allocated) {
        const id = s.name.slice('segments/'.length);
        const shown = before.flatMap((c) => c.legend).filter((l) => l.segment === id);
        expect(shown.length, id).toBeGreaterThan(0);
        for (const l of shown) {
          expect(l.buckets).toBe(s.allocatedBuckets);
          expect(l.text).toContain(s.allocatedBuckets.toLocaleString('en'));
        }
      }
      expect(before[0]!.heading).toContain('500,000 buckets free');
      // homepage and banner have no tags, so they overlap by chance (about 0.4 × 0.2): drawn once, in grey.
      const loose = before[1]!;
      const shared = loose.legend.find((l) => l.kind === 'shared')!;
      expect(shared.buckets).toBeGreaterThan(70_000);
      expect(shared.buckets).toBeLessThan(90_000);
      expect(loose.drawn.shared).toBe(shared.buckets);
      for (const id of ['homepage', 'banner']) {
        const member = loose.legend.find((l) => l.segment === id)!;
        expect(member.own! + shared.buckets).toBe(member.buckets);
      }
      expect(await page.locator('ol.rules li').count()).toBe(2);

      // Segments and rules link to each other.
      expect(await page.getAttribute('tr#segment-search-a a[data-use="ranking/test"]', 'href')).toBe('#rule-ranking-test');
      expect(await page.getAttribute('li#rule-ranking-test a[data-rule-segment="search-a"]', 'href')).toBe('#segment-search-a');
      expect(await page.locator('tr#segment-search-b a[data-use]').count()).toBe(0);
      await page.click('tr#segment-search-a a[data-use="ranking/test"]');
      expect(new URL(page.url()).hash).toBe('#rule-ranking-test');

      // The panel opens on a change that applies: allocating search-c, the only unallocated
      // segment (it fits). Previewed as it opens, with the keyboard.
      await expect.poll(() => page.inputValue('#whatif-target'), { timeout: 20_000 }).toBe('segment:search-c');
      expect(await page.inputValue('#whatif-action')).toBe('allocate');
      await preview(page, null, null);
      const row = page.locator('tr[data-impact-segment="search-c"]');
      await row.waitFor({ timeout: 20_000 });
      const data = async (name: string): Promise<number> => Number(await row.getAttribute(`data-${name}`));
      const shown = { before: await data('before'), after: await data('after'), added: await data('added'), removed: await data('removed'), text: await row.textContent() };
      const shownFlags = await page.locator('[data-impact-flag]').count();
      // The charts redrawn with the change: search-c's 250,000 buckets come out of search's free space.
      await page.locator('#whatif-after section.family').first().waitFor();
      const after = await charts(page, '#whatif-after');
      expectWholeSpace(after);
      const searchAfter = after.find((c) => c.family === 'search')!;
      expect(searchAfter.legend.find((l) => l.segment === 'search-c')!.buckets).toBe(250_000);
      expect(searchAfter.heading).toContain('500,000 → 250,000 buckets free');
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'coordination-map.png'), fullPage: true });

      copyFileSync(serve.workspace, join(serve.dir, 'before.yaml'));
      await cli('segments', 'allocate', 'search-c');
      const diff = JSON.parse((await serve.cli(['diff', '--before', join(serve.dir, 'before.yaml'), '--after', serve.workspace, '--json'])).stdout) as {
        segments: { segment: string; buckets: Record<string, number>; enter: { exact: number } }[];
        flags: { changed: boolean }[];
      };
      const expected = diff.segments.find((s) => s.segment === 'search-c')!;
      expect({ before: shown.before, after: shown.after, added: shown.added, removed: shown.removed }).toEqual({
        before: expected.buckets.before,
        after: expected.buckets.after,
        added: expected.buckets.added,
        removed: expected.buckets.removed,
      });
      expect(expected.buckets.added).toBe(250_000);
      expect(shown.text).toContain('25%');
      expect(expected.enter.exact).toBe(0.25);
      expect(shownFlags).toBe(diff.flags.filter((f) => f.changed).length);
      // The real answer after the write matches the preview's redrawn chart.
      const real = (await serve.send('GET', '/v1/segments:bucketMap?cells=250', { headers: { authorization: `Bearer ${WRITE}` } })).json as { families: { tag: string | null; freeBuckets: number }[] };
      expect(real.families.find((f) => f.tag === 'search')!.freeBuckets).toBe(250_000);

      // A rule change: new weights for ranking/test, with the matrix allot diff prints.
      await page.click('button:text("Reload")');
      await expect.poll(() => page.textContent('#whatif-target option[value="segment:search-c"]'), { timeout: 20_000 }).toBe('segment search-c (ALLOCATED)');
      await page.selectOption('#whatif-target', 'rule:ranking/test');
      await page.selectOption('#whatif-action', 'weights');
      expect(await page.inputValue('#whatif-weights')).toBe('old=1, new=1');
      await preview(page, null, null, { '#whatif-weights': 'old=3, new=1' });
      await page.locator('table[data-matrix="ranking"]').waitFor();
      expect(await page.textContent('#whatif-after')).toBe('This change moves no bucket: the bucket space stays as drawn above.');
      const weighted = await pageMatrix(page, 'ranking');
      expect(await page.textContent('[data-impact-flag="ranking"] [data-share="change"]')).toBe('0%–7.5%'); // search-a's audience is country == "SE": bounds over every population
      await page.screenshot({ path: join(OUT, 'coordination-map-rule.png'), fullPage: true });
      copyFileSync(serve.workspace, join(serve.dir, 'before.yaml'));
      await cli('flags', 'update-rule', 'ranking', 'test', '--weights', 'old=3,new=1');
      const text = (await serve.cli(['diff', '--before', join(serve.dir, 'before.yaml'), '--after', serve.workspace])).stdout;
      expect(weighted).toEqual(cliMatrix(text, 'ranking'));
      expect(weighted.length).toBeGreaterThan(2);

      // Disable, reorder and reach, each previewed through its own validateOnly route.
      await page.click('button:text("Reload")');
      await page.waitForSelector('li#rule-ranking-test');
      await preview(page, 'rule:ranking/test', 'disable');
      await page.locator('[data-impact-flag="ranking"]').waitFor();
      expect(await page.textContent('[data-impact-flag="ranking"] [data-share="stop"]')).not.toBe('0%');
      await preview(page, 'rule:ranking/ramp', 'move');
      expect(await page.locator('#whatif-result .error').count(), (await page.textContent('#whatif-result')) ?? '').toBe(0);
      await preview(page, 'rule:ranking/ramp', 'reach', { '#whatif-reach': '100%' });
      await page.locator('[data-impact-flag="ranking"]').waitFor();
      expect(await page.textContent('[data-impact-flag="ranking"] [data-share="start"]')).not.toBe('0%');

      // A proportion typed as a percentage; a retag starts from the current tags.
      await page.selectOption('#whatif-target', 'segment:homepage');
      await page.selectOption('#whatif-action', 'proportion');
      expect(await page.inputValue('#whatif-proportion')).toBe('40%');
      await preview(page, null, null, { '#whatif-proportion': '50%' });
      await page.locator('tr[data-impact-segment="homepage"]').waitFor();
      expect(await page.getAttribute('tr[data-impact-segment="homepage"]', 'data-after')).toBe('500000');
      await page.selectOption('#whatif-target', 'segment:search-a');
      await page.selectOption('#whatif-action', 'retag');
      expect(await page.inputValue('#whatif-tags')).toBe('search');
      expect(await page.inputValue('#whatif-exclusive-to')).toBe('search');

      // The token went only into Authorization headers, never into a URL.
      const apiRequests = requests.filter((r) => r.url.includes('/v1/'));
      expect(apiRequests.length).toBeGreaterThanOrEqual(10);
      for (const r of requests) expect(r.url).not.toContain(token);
      for (const r of apiRequests) expect(r.authorization).toBe(`Bearer ${token}`);
      expect(errors).toEqual([]);
    } finally {
      await browser?.close();
      await serve.terminate();
      await serve.cleanup();
    }
  }, 180_000);

  it.skipIf(CHROMIUM === undefined || !BUILT)('shows ranking\'s true space in the README tour\'s workspace, mixed-experiment included', async () => {
    const serve = await startServe([], { ALLOT_TOKENS: `${WRITE}:write` });
    let browser: Browser | undefined;
    try {
      browser = await launch();
      const cli = cliOf(serve);
      for (const id of ['ranking-exp-1', 'ranking-exp-2']) {
        await cli('segments', 'create', id, '--proportion', '0.1', '--tags', 'ranking', '--exclusive-to', 'ranking');
        await cli('segments', 'allocate', id);
      }
      await cli('segments', 'create', 'mixed-experiment', '--proportion', '0.05', '--tags', 'search', '--exclusive-to', 'search,ranking,mixer', '--targeting', 'country in [SE, NO] and app_version >= 2.1.0');
      await cli('segments', 'allocate', 'mixed-experiment');
      const space = await cli('segments', 'space', '--tags', 'ranking', '--exclusive-to', 'ranking');
      expect(space).toContain('750000 buckets');
      const errors: string[] = [];
      const { page } = await open(browser, serve, errors);
      const list = await charts(page, '#space');
      expectWholeSpace(list);
      expect(list.map((c) => c.family)).toEqual(['mixer', 'ranking', 'search']);
      const ranking = list.find((c) => c.family === 'ranking')!;
      expect(ranking.heading).toBe('tag "ranking": 3 allocated segments, 750,000 buckets free (75%)');
      expect(ranking.drawn).toEqual({ own: 250_000, free: 750_000 });
      expect(ranking.legend.map((l) => [l.segment ?? l.kind, l.buckets])).toEqual([
        ['mixed-experiment', 50_000],
        ['ranking-exp-1', 100_000],
        ['ranking-exp-2', 100_000],
        ['free', 750_000],
      ]);
      expect(ranking.legend[0]!.text).toContain('mixed-experiment (exclusive to ranking, tagged search): 50,000 buckets');
      // No segment to allocate and no rule: the panel opens on ranking-exp-1's proportion as it
      // is, which applies and changes nothing.
      await expect.poll(() => page.inputValue('#whatif-proportion'), { timeout: 20_000 }).toBe('10%');
      await preview(page, null, null);
      expect(await page.textContent('#whatif-result')).toContain('No unit would change outcome or segment.');
      await page.screenshot({ path: join(OUT, 'coordination-map-tour.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser?.close();
      await serve.terminate();
      await serve.cleanup();
    }
  }, 120_000);
});
