/**
 * `allot diff`: a change previewed from two workspace files made with the CLI, as a table
 * and as JSON, with population estimates, and the errors that say what to do.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeEach, describe, expect, it } from 'vitest';

import { runCli, runCliOk, type CliRun } from '../testing-io.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'allot-diff-'));
});

const allot = (...argv: string[]): Promise<CliRun> => runCli(dir, argv);

/** Runs a command that must succeed. */
const ok = (...argv: string[]): Promise<string> => runCliOk(dir, argv);

const W = ['--workspace', 'ws.yaml'];

/** A checkout experiment at 10% for Swedish users, split 50/50, saved as before.yaml. */
async function experiment(): Promise<void> {
  await ok('segments', 'create', 'checkout', ...W, '--proportion', '0.1', '--targeting', 'country == "SE"');
  await ok('segments', 'allocate', 'checkout', ...W);
  await ok('flags', 'create', 'new-checkout', ...W, '--variant', 'control=false', '--variant', 'treatment=true');
  await ok('flags', 'add-rule', 'new-checkout', ...W, '--kind', 'ab-test', '--segment', 'checkout', '--weights', 'control=1,treatment=1', '--enabled');
  copyFileSync(join(dir, 'ws.yaml'), join(dir, 'before.yaml'));
}

describe('allot diff', () => {
  it('previews a raise per audience case, as a table and as JSON', async () => {
    await experiment();
    copyFileSync(join(dir, 'ws.yaml'), join(dir, 'after.yaml'));
    await ok('segments', 'update', 'checkout', '--workspace', 'after.yaml', '--update-mask', 'allocation.proportion', '--proportion', '0.3');
    const out = await ok('diff', '--before', 'before.yaml', '--after', 'after.yaml');
    expect(out).toContain('A  country == "SE"');
    expect(out).toMatch(/flag new-checkout \(ACTIVE\)\n {2}start served 0%–20%, stop served 0%, change variant 0%/);
    expect(out).toMatch(/not A\s+0%\s+0%\s+0%/);
    expect(out).toMatch(/\n {2}A\s+20%\s+0%\s+0%/);
    expect(out).toContain('buckets 100000 → 300000 (kept 100000, added 200000, removed 0)');

    const json = JSON.parse(await ok('diff', '--before', 'before.yaml', '--after', 'after.yaml', '--json')) as {
      conditions: { label: string; text: string }[];
      flags: { flag: string; outcomes: string[]; start: { exact: number | null; low: number; high: number }; cases: { matches: boolean[]; start: number }[] }[];
      segments: { segment: string; enter: { high: number } }[];
    };
    expect(json.conditions).toEqual([{ label: 'A', text: 'country == "SE"' }]);
    expect(json.flags[0]).toMatchObject({ flag: 'new-checkout', outcomes: ['control', 'treatment', '(not served)'], start: { exact: null, low: 0, high: 0.2 } });
    expect(json.flags[0]!.cases).toEqual([expect.objectContaining({ matches: [false], start: 0 }), expect.objectContaining({ matches: [true], start: 0.2 })]);
    expect(json.segments[0]).toMatchObject({ segment: 'checkout', enter: { high: 0.2 } });
  });

  it('an exact change (no audience in play) prints the from → to matrix in %', async () => {
    await ok('segments', 'create', 'everyone', ...W, '--proportion', '0.5');
    await ok('segments', 'allocate', 'everyone', ...W);
    await ok('flags', 'create', 'f', ...W, '--variant', 'a=1', '--variant', 'b=2');
    await ok('flags', 'add-rule', 'f', ...W, '--kind', 'ab-test', '--segment', 'everyone', '--weights', 'a=1,b=1', '--enabled');
    copyFileSync(join(dir, 'ws.yaml'), join(dir, 'before.yaml'));
    await ok('flags', 'update-rule', 'f', 'rule-1', ...W, '--weights', 'a=1,b=3');
    const out = await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml', '--flag', 'f');
    expect(out).not.toContain('Audiences');
    expect(out).toContain('start served 0%, stop served 0%, change variant 12.5%');
    expect(out).toMatch(/from \\ to\s+a\s+b\s+\(not served\)\n\s+a\s+12\.5%\s+12\.5%\s+0%\n\s+b\s+0%\s+25%\s+0%\n\s+\(not served\)\s+0%\s+0%\s+50%/);
  });

  it('names the cases of a retargeted segment: matches both, only before, only after', async () => {
    await experiment();
    await ok('segments', 'update', 'checkout', ...W, '--update-mask', 'targeting', '--targeting', 'country in [SE, NO]');
    const out = await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml');
    expect(out).toContain('segment checkout (ALLOCATED, targeting changed)');
    expect(out).toContain('B  country in ["SE", "NO"]');
    expect(out).toMatch(/matches neither\s+0%\s+0%/);
    // Every Swedish user is in [SE, NO]: no one matches only the targeting before.
    expect(out).not.toContain('matches only before');
    expect(out).toMatch(/matches only after\s+10%\s+0%/);
    expect(out).toMatch(/matches both\s+0%\s+0%/);
    expect(out).toContain('enter 0%–10%, leave 0%');
  });

  it('lists no case no user can be in: a retarget to a wider audience stops serving no one', async () => {
    await ok('segments', 'create', 'checkout', ...W, '--proportion', '0.05', '--targeting', 'country in [SE, NO] and app_version >= 2.1.0');
    await ok('segments', 'allocate', 'checkout', ...W);
    await ok('flags', 'create', 'new-checkout', ...W, '--variant', 'control=false', '--variant', 'treatment=true');
    await ok('flags', 'add-rule', 'new-checkout', ...W, '--kind', 'ab-test', '--segment', 'checkout', '--weights', 'control=1,treatment=1', '--enabled');
    copyFileSync(join(dir, 'ws.yaml'), join(dir, 'before.yaml'));
    await ok('segments', 'update', 'checkout', ...W, '--update-mask', 'targeting', '--targeting', 'country in [SE, NO, GB]');
    const out = await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml');
    expect(out).toContain('A  country in ["SE", "NO"] and app_version >= version("2.1.0")');
    expect(out).toContain('B  country in ["SE", "NO", "GB"]');
    expect(out).toMatch(/flag new-checkout \(ACTIVE\)\n {2}start served 0%–5%, stop served 0%, change variant 0%/);
    expect(out).not.toMatch(/\n {2}A, not B /);
    expect(out).toMatch(/\n {2}not A, B\s+5%\s+0%\s+0%/);
    expect(out).not.toContain('matches only before');
    expect(out).toContain('every result is exact for each combination some context can have; the others are not listed');
  });

  it('estimates audience shares from a --population scenario', async () => {
    await experiment();
    await ok('segments', 'update', 'checkout', ...W, '--update-mask', 'allocation.proportion', '--proportion', '0.3');
    writeFileSync(
      join(dir, 'people.yaml'),
      'name: people\npopulation:\n  units: 20000\n  seed: 1\n  attributes:\n    country: { categorical: { SE: 1, US: 3 } }\nworkspace: {}\n',
    );
    const out = await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml', '--population', 'people.yaml');
    expect(out).toContain('Estimates (≈) from 20000 units of people.yaml');
    const start = /start served ≈([\d.]+)% \(0%–20%\)/.exec(out);
    expect(start).not.toBeNull();
    // A quarter of the units are Swedish: about 5% start being served.
    expect(Number(start![1])).toBeGreaterThan(4.5);
    expect(Number(start![1])).toBeLessThan(5.5);
    // 20,000 units support 0.1% here (a standard error of at most √(0.05 × 0.95 / 20000) ≈ 0.15%), not 0.0001%.
    expect(start![1]).toMatch(/^\d+(\.\d)?$/);
    expect(out).toContain('each to the decimal place of its standard error');
    const json = JSON.parse(await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml', '--population', 'people.yaml', '--json')) as { flags: { start: { estimate: number } }[] };
    expect(json.flags[0]!.start.estimate).toBe(Number(start![1]) / 100);
  });

  it('warns when the conditions read an attribute the population never has', async () => {
    await experiment();
    await ok('segments', 'update', 'checkout', ...W, '--update-mask', 'targeting', '--targeting', 'country == "SE" and app_version >= 2.1.0');
    writeFileSync(join(dir, 'people.yaml'), 'name: people\npopulation:\n  units: 2000\n  seed: 1\n  attributes:\n    country: { categorical: { SE: 1, US: 3 } }\nworkspace: {}\n');
    const r = await allot('diff', '--before', 'before.yaml', '--after', 'ws.yaml', '--population', 'people.yaml');
    expect(r.code).toBe(0);
    expect(r.err).toContain('warning: --population people.yaml: none of the 2000 units evaluated has app_version, which B reads');
    expect(r.err).not.toContain('has country');
  });

  it('names what is wrong and what to do', async () => {
    await experiment();
    let r = await allot('diff', '--before', 'before.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toContain('missing --after');
    r = await allot('diff', '--before', 'nope.yaml', '--after', 'before.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--before nope\.yaml: NOT_FOUND: .*does not exist/);
    r = await allot('diff', '--before', 'before.yaml', '--after', 'before.yaml', '--flag', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toContain('no flag "nope" in either workspace (flags: new-checkout)');
    r = await allot('diff', '--before', 'before.yaml', '--after', 'before.yaml', '--units', '10');
    expect(r.err).toContain('--units counts units of the --population scenario; give --population too');
    r = await allot('diff', '--before', 'before.yaml', '--after', 'before.yaml', '--population', 'missing.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toContain('--population missing.yaml: scenario: cannot read');
    const same = await ok('diff', '--before', 'before.yaml', '--after', 'before.yaml');
    expect(same).toContain('No unit changes outcome or segment.');
    expect(same).toContain('unchanged flags (1): new-checkout');
  });
});
