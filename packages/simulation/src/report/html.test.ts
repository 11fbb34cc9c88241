/**
 * Opens the HTML report in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * and checks that every chart rendered with a size. Skips when chromium is not installed
 * (scripts/system-deps.sh installs it).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { runScenario } from '../run/runner.js';
import { readScenario } from '../scenario/scenario.js';
import { buildReport } from './build.js';
import { renderHtml } from './html.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SIMULATIONS = fileURLToPath(new URL('../../../../simulations/', import.meta.url));

describe('HTML report', () => {
  it('is self-contained: no scripts and no external resources', async () => {
    const run = await runScenario(readScenario(`${SIMULATIONS}exclusion-group.yaml`), { units: 5_000, workers: 0 });
    const html = renderHtml(buildReport(run.plan, run.tally, { workers: 0, seconds: run.seconds, shards: 1 }));
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html.match(/<svg class="chart split"/g)?.length).toBeGreaterThan(3);
  });

  if (CHROMIUM === undefined) console.warn('skipping the headless Chromium test: chromium is not installed (scripts/system-deps.sh installs it)');
  it.skipIf(CHROMIUM === undefined)('renders its charts in headless Chromium', async () => {
    const { chromium } = await import('playwright-core');
    const run = await runScenario(readScenario(`${SIMULATIONS}exclusion-group.yaml`), { units: 50_000, workers: 0 });
    const dir = join(tmpdir(), `allot-report-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'report.html');
    writeFileSync(file, renderHtml(buildReport(run.plan, run.tally, { workers: 0, seconds: run.seconds, shards: 1 })));
    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(pathToFileURL(file).href);
      const charts: { kind: string | null; width: number; height: number; shapes: number; bar: number }[] = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const bar = svg.querySelector('rect.bar');
          return { kind: svg.getAttribute('class'), width: box.width, height: box.height, shapes: svg.querySelectorAll('rect').length, bar: bar === null ? -1 : bar.getBoundingClientRect().width };
        }),
      );
      expect(charts.filter((c) => c.kind === 'chart split').length).toBeGreaterThan(3);
      expect(charts.filter((c) => c.kind === 'chart heatmap')).toHaveLength(1);
      expect(charts.filter((c) => c.kind === 'chart pvalues')).toHaveLength(1);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(100);
        expect(c.height).toBeGreaterThan(40);
        expect(c.shapes).toBeGreaterThan(0);
      }
      // Bars have a drawn size, not just an element.
      expect(Math.max(...charts.map((c) => c.bar))).toBeGreaterThan(5);
      const png = await page.screenshot({ fullPage: true });
      expect(png.length).toBeGreaterThan(10_000);
      writeFileSync(join(dir, 'report.png'), png);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
