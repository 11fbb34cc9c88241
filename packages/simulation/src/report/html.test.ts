/// <reference lib="dom" />
/**
 * Opens the HTML report in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * and checks that the deviation plot, the QQ plot, the power chart, the labelled heatmap and
 * the claims table rendered with a size and their labels. Skips, saying so, when chromium is
 * not installed (scripts/system-deps.sh installs it). The screenshot is written under
 * simulation-reports/ (gitignored) for a person to look at.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { runScenario } from '../run/runner.js';
import { readScenario } from '../scenario/scenario.js';
import { buildReport } from './build.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { deviationChart, niceTicks, overlapHeatmap, powerChart, wrapText } from './svg.js';
import type { Report } from '../types.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SIMULATIONS = fileURLToPath(new URL('../../../../simulations/', import.meta.url));
const OUT = fileURLToPath(new URL('../../../../simulation-reports/report-test/', import.meta.url));

async function reportData(file: string, units: number): Promise<Report> {
  const run = await runScenario(readScenario(`${SIMULATIONS}${file}`), { units, workers: 0 });
  return buildReport(run.plan, run.tally, { workers: 0, seconds: run.seconds, shards: 1 });
}

async function report(file: string, units: number): Promise<string> {
  return renderHtml(await reportData(file, units));
}

/** The text of each multi-line SVG label (its lines joined by spaces). */
const escapeText = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const labels = (svg: string): string[] => [...svg.matchAll(/<text text-anchor="end" class="label">(.*?)<\/text>/g)].map((m) => [...m[1]!.matchAll(/<tspan[^>]*>(.*?)<\/tspan>/g)].map((t) => t[1]).join(' '));

describe('HTML report', () => {
  it('is self-contained: no scripts and no external resources', async () => {
    const html = await report('exclusion-group.yaml', 5_000);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    for (const chart of ['deviation', 'qq', 'power', 'heatmap']) expect(html).toContain(`<svg class="chart ${chart}"`);
    expect(html).toContain('<table class="claims">');
  });

  describe('what a reader met in the last round', () => {
    let ramp: Report;
    let html: string;
    beforeAll(async () => {
      ramp = await reportData('rollout-ramp.yaml', 20_000);
      html = renderHtml(ramp);
    });

    it("puts each step's caption above its own chart, in the chart's frame", () => {
      const figures = [...html.matchAll(/<figure>(.*?)<\/figure>/gs)].map((m) => m[1]!);
      const captioned = figures.filter((f) => f.includes('<figcaption>'));
      expect(captioned.length).toBe(ramp.steps.length + 3); // a heatmap per step, a deviation chart per step with tests (3)
      for (const f of captioned) expect(f).toMatch(/^<figcaption>Step [^<]+<\/figcaption><svg /);
      expect(html).not.toContain('</svg><figcaption>');
    });

    it('shows long labels whole, over several lines, never cut', () => {
      expect(wrapText('share: new-checkout serves on to 50% of units with employee != true: on', 30)).toEqual(['share: new-checkout serves on', 'to 50% of units with employee', '!= true: on']);
      expect(wrapText(`${'x'.repeat(25)} y`, 10)).toEqual(['xxxxxxxxxx', 'xxxxxxxxxx', 'xxxxx y']);
      const at50 = ramp.checks.filter((c) => c.step === '50%' && c.shares !== undefined && c.sameAs === undefined);
      const shown = labels(deviationChart('50%', at50));
      expect(shown).toContain('share: new-checkout serves on to 50% of units with employee != true: on');
      expect(labels(powerChart(ramp))).toContain('50% · share: new-checkout serves on to 50% of units with employee != true');
      expect(html).not.toContain('…');
    });

    it('explains the overlap grid: a legend under every heatmap', () => {
      for (const o of ramp.overlap) {
        const svg = overlapHeatmap(o);
        for (const line of ['blue: units in both segments of the pair (darker: more)', 'grey, on the diagonal: units in the segment', 'green outline: conflicting segments, which must share no unit', 'red outline: conflicting segments that share units']) {
          expect(svg).toContain(`>${escapeText(line)}</text>`);
        }
      }
    });

    it("counts a rule's inline audience as the units in it, not every unit", () => {
      const at50 = ramp.overlap.find((o) => o.step === '50%')!;
      const i = at50.segments.indexOf('segments/new-checkout.employees');
      expect(i).toBeGreaterThanOrEqual(0);
      // Units with employee == true at 50%, as the precedence claim counted them.
      const claim = ramp.checks.find((c) => c.kind === 'precedence' && c.step === '50%')!;
      const employees = Number(/^all ([\d,]+) units with employee == true/.exec(claim.detail)![1]!.replace(/,/g, ''));
      expect(employees).toBeGreaterThan(100);
      expect(employees).toBeLessThan(ramp.units / 20);
      expect(at50.units[i]![i]).toBe(employees);
    });

    it('words the power requirement so that the two numbers do not read as a contradiction', async () => {
      const ranking = await reportData('ranking.yaml', 20_000);
      const power = ranking.checks.filter((c) => c.kind === 'power');
      expect(power.length).toBeGreaterThan(0);
      for (const c of power.filter((p) => p.passed)) expect(c.detail).toMatch(/^meets the required 2\.50 pp: the smallest imbalance it detects with 80% power is [\d.]+ pp, with [\d,]+ of 20,000 units reaching it$/);
      expect(renderMarkdown(ranking)).not.toMatch(/detects 2\.50 pp at 80% power/);
    });
  });

  it('puts axis ticks on round numbers', () => {
    expect(niceTicks(0, 43.5, 4)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(-0.37, 0.37, 6)).toEqual([-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
  });

  if (CHROMIUM === undefined) console.warn('skipping the headless Chromium test: chromium is not installed (scripts/system-deps.sh installs it)');
  it.skipIf(CHROMIUM === undefined)('renders its charts and claims in headless Chromium, labelled', async () => {
    const { chromium } = await import('playwright-core');
    mkdirSync(OUT, { recursive: true });
    const file = join(OUT, 'report.html');
    writeFileSync(file, await report('rollout-ramp.yaml', 50_000));
    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(pathToFileURL(file).href);
      const charts = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const texts = [...svg.querySelectorAll('text')].map((t) => t.textContent);
          const marks = [...svg.querySelectorAll('circle, path, rect.bar, rect.cell')].filter((e) => e.getBoundingClientRect().width > 0).length;
          return { kind: svg.getAttribute('class')!.replace('chart ', ''), title: svg.querySelector('title')?.textContent ?? '', width: box.width, height: box.height, texts, marks };
        }),
      );
      const of = (kind: string): typeof charts => charts.filter((c) => c.kind === kind);
      for (const c of charts) {
        expect(c.width, c.kind).toBeGreaterThan(200);
        expect(c.height, c.kind).toBeGreaterThan(80);
        expect(c.marks, c.kind).toBeGreaterThan(0);
        expect(c.title, c.kind).not.toBe('');
      }
      // Deviations: one chart per step with proportion tests (at 100% the rollout is everyone: none), an axis in pp centred on zero, rows labelled.
      expect(of('deviation').length).toBe(3);
      for (const d of of('deviation')) {
        expect(d.texts).toContain('observed − expected share (percentage points); bars: 99% interval');
        expect(d.texts).toContain('0');
        expect(d.texts.some((t) => t.startsWith('new-checkout-rollout: in'))).toBe(true);
      }
      // QQ: both axes and the corrected threshold named.
      const [qq] = of('qq');
      expect(qq!.texts).toContain('observed −log10 p');
      expect(qq!.texts.some((t) => /^expected −log10 p \(uniform, \d+ distinct tests\)$/.test(t))).toBe(true);
      expect(qq!.texts.some((t) => /^fail above: α\/m = 0\.01\/\d+$/.test(t))).toBe(true);
      expect(of('power')[0]!.texts).toContain('smallest shift found with 80% power (percentage points)');
      // Heatmap columns labelled like its rows.
      for (const h of of('heatmap')) expect(h.texts.filter((t) => t === 'new-checkout-rollout').length).toBe(2);
      // The claims table: a row per claim and step, with its verdict.
      const claims = await page.$$eval('table.claims tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
      expect(claims.map((r) => r[0])).toEqual(claims.map(() => 'pass'));
      expect(claims.map((r) => r[1])).toContain('precedence: new-checkout decided by employees when employee == true');
      expect(await page.$eval('table.claims thead', (h) => h.textContent)).toBe('verdictclaimsteptestdetail');
      const png = await page.screenshot({ fullPage: true });
      expect(png.length).toBeGreaterThan(10_000);
      writeFileSync(join(OUT, 'report.png'), png);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
