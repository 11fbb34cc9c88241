/**
 * `--dry-run` on the write commands and `?validateOnly=true` on the server: both preview
 * exactly what `allot diff` then reports between the file before and after the real write,
 * and neither writes anything. Refusals are previewed with the real write's error.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AllotServer } from '@allot/server';
import { beforeEach, describe, expect, it } from 'vitest';

import { runCli, runCliOk, type CliRun } from '../testing-io.js';

let dir: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'allot-dry-run-'));
  await ok('segments', 'create', 'checkout', ...W, '--proportion', '0.1', '--targeting', 'country == "SE"', '--tags', 'checkout', '--exclusive-to', 'checkout');
  await ok('segments', 'allocate', 'checkout', ...W);
  await ok('segments', 'create', 'pricing', ...W, '--proportion', '0.3', '--tags', 'checkout', '--exclusive-to', 'checkout');
  await ok('flags', 'create', 'new-checkout', ...W, '--variant', 'control=false', '--variant', 'treatment=true');
  await ok('flags', 'add-rule', 'new-checkout', ...W, '--id', 'test', '--kind', 'ab-test', '--segment', 'checkout', '--weights', 'control=1,treatment=1', '--enabled');
  await ok('flags', 'add-rule', 'new-checkout', ...W, '--id', 'all', '--kind', 'rollout', '--reach', '0.5', '--variant', 'control', '--enabled');
});

const allot = (...argv: string[]): Promise<CliRun> => runCli(dir, argv);

/** Runs a command that must succeed. */
const ok = (...argv: string[]): Promise<string> => runCliOk(dir, argv);

const W = ['--workspace', 'ws.yaml'];
const bytes = (): string => readFileSync(join(dir, 'ws.yaml'), 'utf8');

/** `allot diff --json` between the file before and after the real `command`. */
async function diffOfRealWrite(command: readonly string[]): Promise<Record<string, unknown>> {
  copyFileSync(join(dir, 'ws.yaml'), join(dir, 'before.yaml'));
  await ok(...command, ...W);
  return JSON.parse(await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml', '--json')) as Record<string, unknown>;
}

const withoutLabels = (json: Record<string, unknown>): Record<string, unknown> => ({ ...json, before: undefined, after: undefined, dryRun: undefined });

type Item = Record<string, unknown> & { conditions: number[]; audience?: { before: number | null; after: number | null } };

/** A preview's flags and segments by id, their condition indices replaced by the conditions' text. */
function byName(json: Record<string, unknown>): { flags: Map<string, unknown>; segments: Map<string, unknown> } {
  const texts = (json.conditions as { text: string }[]).map((c) => c.text);
  const text = (i: number | null): string | null => (i === null ? null : texts[i]!);
  const named = (item: Item): unknown => ({
    ...item,
    conditions: item.conditions.map(text),
    ...(item.audience === undefined ? {} : { audience: { before: text(item.audience.before), after: text(item.audience.after) } }),
  });
  return {
    flags: new Map((json.flags as Item[]).map((f) => [f.flag as string, named(f)])),
    segments: new Map((json.segments as Item[]).map((x) => [x.segment as string, named(x)])),
  };
}

const CHANGES: readonly (readonly string[])[] = [
  ['segments', 'allocate', 'pricing'],
  ['segments', 'update', 'checkout', '--update-mask', 'proportion', '--proportion', '0.05', '--force'],
  ['segments', 'update', 'pricing', '--update-mask', 'exclusivityTags', '--tags', 'pricing'],
  ['segments', 'archive', 'pricing'],
  ['flags', 'archive-rule', 'new-checkout', 'test'],
  ['flags', 'update-rule', 'new-checkout', 'test', '--weights', 'control=1,treatment=3'],
  ['flags', 'move-rule', 'new-checkout', 'all', '--top'],
  ['flags', 'disable-rule', 'new-checkout', 'test'],
];

describe('--dry-run', () => {
  it.each(CHANGES.map((c) => [c.join(' '), c] as const))('%s previews what allot diff reports after the write, and writes nothing', async (_name, command) => {
    const original = bytes();
    const json = JSON.parse(await ok(...command, ...W, '--dry-run', '--json')) as Record<string, unknown>;
    const text = await ok(...command, ...W, '--dry-run');
    expect(bytes()).toBe(original);
    expect(json.dryRun).toBe(true);
    const diff = await diffOfRealWrite(command);
    expect(withoutLabels(json)).toEqual(withoutLabels(diff));
    // The text is diff's, under its own heading.
    const diffText = (await ok('diff', '--before', 'before.yaml', '--after', 'ws.yaml')).split('\n');
    const lines = text.split('\n');
    expect(lines[0]).toContain(`ws.yaml → ws.yaml after ${command[0]!} ${command[1]!}`);
    expect(lines.slice(1, -2)).toEqual(diffText.slice(1));
    expect(lines.at(-1)).toBe('dry run: nothing written to ws.yaml');
  });

  it('previews a refusal with the error the write gives', async () => {
    const original = bytes();
    const lower = ['segments', 'update', 'checkout', '--update-mask', 'proportion', '--proportion', '0.05', ...W];
    const preview = await allot(...lower, '--dry-run');
    expect(bytes()).toBe(original);
    const real = await allot(...lower);
    expect(preview.code).toBe(1);
    expect(preview).toEqual(real);
    expect(bytes()).toBe(original);
  });

  it('previews a create on a file that does not exist yet, and creates nothing', async () => {
    const out = await ok('segments', 'create', 'fresh', '--workspace', 'new.yaml', '--proportion', '0.1', '--dry-run');
    expect(out).toContain('dry run: nothing written to new.yaml');
    expect(existsSync(join(dir, 'new.yaml'))).toBe(false);
  });

  it('is refused by the commands that change nothing', async () => {
    const r = await allot('segments', 'list', ...W, '--dry-run');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--dry-run previews a change; segments list changes nothing');
  });
});

describe('validateOnly on the server', () => {
  it.each(CHANGES.slice(0, 3).map((c) => [c.join(' '), c] as const))('answers %s with the impact allot diff reports after the write', async (_name, command) => {
    const server = await AllotServer.start({ workspace: join(dir, 'ws.yaml'), port: 0 });
    try {
      const original = bytes();
      const [path, method, body] =
        command[1] === 'allocate'
          ? [`/v1/segments/${command[2]!}:allocate`, 'POST', {}]
          : command[2] === 'checkout'
            ? ['/v1/segments/checkout?updateMask=allocation.proportion&force=true', 'PATCH', { allocation: { proportion: { value: '0.05' } } }]
            : ['/v1/segments/pricing?updateMask=allocation.exclusivityTags', 'PATCH', { allocation: { exclusivityTags: ['pricing'] } }];
      const res = await fetch(`${server.url}${path}${path.includes('?') ? '&' : '?'}validateOnly=true`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await res.json()) as { impact: Record<string, unknown> };
      expect(res.status).toBe(200);
      expect(bytes()).toBe(original);
      await server.close();
      const diff = await diffOfRealWrite(command);
      // The server lists what the change can affect (previewImpact's affectedOnly), each as
      // allot diff reports it; diff's others are unchanged.
      const preview = byName(answer.impact);
      const whole = byName(diff);
      expect(preview.flags.size + preview.segments.size).toBeGreaterThan(0);
      for (const kind of ['flags', 'segments'] as const) {
        for (const [id, item] of preview[kind]) expect(item, `${kind} ${id}`).toEqual(whole[kind].get(id));
        for (const [id, item] of whole[kind]) if (!preview[kind].has(id)) expect((item as { changed: boolean }).changed, `${kind} ${id}`).toBe(false);
      }
    } finally {
      await server.close();
    }
  });
});
