/**
 * The command line never answers wrongly in silence: typos get an error naming the closest
 * name, missing inputs are required, and batch resolves answer one line per context.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { runCli, runCliOk, type CliRun } from '../testing-io.js';

const bin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
const version = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

let dir: string;

const allot = (argv: string[], stdin = ''): Promise<CliRun> => runCli(dir, argv, stdin);

/** Runs a command that must succeed. */
const ok = (...argv: string[]): Promise<string> => runCliOk(dir, argv);

const W = ['--workspace', 'ws.yaml'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'allot-cli-answers-'));
  await ok('flags', 'create', 'search-ranking', ...W, '--variant', 'control=false', '--variant', 'treatment=true');
  await ok('flags', 'add-rule', 'search-ranking', ...W, '--kind', 'rollout', '--targeting', 'country in [SE, NO]', '--reach', '100%', '--variant', 'treatment', '--enabled');
  await ok('flags', 'create', 'old-banner', ...W, '--variant', 'on=true');
  await ok('flags', 'archive', 'old-banner', ...W);
  await ok('compile', ...W, '--out', 'state.json');
});

describe('allot resolve', () => {
  it('refuses an unknown flag, naming the closest one, and exits 1', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--flag', 'search-rankin', '--context', '{"targeting_key":"u"}']);
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.err).toBe('allot resolve: unknown flag "search-rankin" (did you mean "search-ranking"?); the flags of client default: search-ranking');
  });

  it('refuses an archived flag rather than leaving it out of the response', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--flag', 'old-banner', '--context', '{}']);
    expect(r).toMatchObject({ code: 1, err: 'allot resolve: flag "old-banner" is archived' });
  });

  it('requires --context (or --contexts) instead of resolving an empty context silently', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--flag', 'search-ranking']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^allot resolve: missing --context JSON .*'\{\}' for an empty one\) or --contexts FILE\.jsonl\nusage: allot resolve /);
    const both = await allot(['resolve', '--state', 'state.json', '--context', '{}', '--contexts', 'c.jsonl']);
    expect(both).toMatchObject({ code: 2 });
    expect(both.err).toContain('give --context or --contexts, not both');
  });

  it('still resolves an explicitly empty context', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--flag', 'search-ranking', '--context', '{}']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ resolvedFlags: [{ flag: 'flags/search-ranking', reason: 'RESOLVE_REASON_NO_SEGMENT_MATCH' }] });
  });

  it('--contexts FILE.jsonl prints one response line per context, in order', async () => {
    const users = ['SE', 'DE', 'NO'].map((country, i) => JSON.stringify({ targeting_key: `user-${i}`, country }));
    writeFileSync(join(dir, 'contexts.jsonl'), `${users.join('\n')}\n\n`);
    const r = await allot(['resolve', '--state', 'state.json', '--flag', 'search-ranking', '--contexts', 'contexts.jsonl']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => (JSON.parse(l) as { resolvedFlags: { value: unknown }[] }).resolvedFlags[0]!.value)).toEqual([true, null, true]);
  });

  it('--contexts - reads standard input', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--contexts', '-'], '{"targeting_key":"a","country":"SE"}\n{"targeting_key":"b"}\n');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').map((l) => (JSON.parse(l) as { resolvedFlags: { variant: string }[] }).resolvedFlags[0]!.variant)).toEqual(['treatment', '']);
  });

  it('--contexts refuses every bad line by number and resolves nothing', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--contexts', '-'], '{"targeting_key":"a"}\n[1]\n{oops\n');
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toContain('--contexts (standard input): 2 bad lines, nothing resolved:\n  line 2: must be a JSON object');
    expect(r.err).toContain('line 3: not valid JSON');
  });
});

describe('allot options and commands', () => {
  it('--version prints the package version', async () => {
    expect(await allot(['--version'])).toEqual({ code: 0, out: version, err: '' });
  });

  it('an unknown option is one clean line naming the closest option, then the usage; exit 2', async () => {
    const r = await allot(['resolve', '--state', 'state.json', '--contxt', '{}']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe('allot resolve: unknown option --contxt (did you mean --context?)');
    expect(r.err).not.toContain('resolve: resolve:');
    expect(r.err).not.toContain('positional argument');
  });

  it('names the subcommand in option errors, and says when an option needs a value', async () => {
    const r = await allot(['flags', 'create', 'x', ...W, '--varient', 'a=1']);
    expect(r.err.split('\n')[0]).toBe('allot flags create: unknown option --varient (did you mean --variant?)');
    const missing = await allot(['resolve', '--state']);
    expect(missing.err.split('\n')[0]).toBe('allot resolve: --state needs a value');
  });

  it('suggests the closest command and subcommand', async () => {
    expect(await allot(['resolv'])).toMatchObject({ code: 2, err: 'allot: unknown command "resolv" (did you mean resolve?); run "allot help" for the list' });
    const sub = await allot(['segments', 'lst', ...W]);
    expect(sub.code).toBe(2);
    expect(sub.err.split('\n')[0]).toMatch(/^allot segments: unknown subcommand "lst" \(did you mean list\?\); expected /);
    expect((await allot(['zzzzzz'])).err).toBe('allot: unknown command "zzzzzz"; run "allot help" for the list');
  });
});

describe('allot flags create', () => {
  it('refuses variants of mixed types, naming both, and leaves the workspace unchanged', async () => {
    const before = readFileSync(join(dir, 'ws.yaml'), 'utf8');
    const r = await allot(['flags', 'create', 'mixed', ...W, '--variant', 'a=true', '--variant', 'b="x"']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'allot flags: INVALID_ARGUMENT: flags.mixed.variants.b: the value "x" is a string, but variant "a" is a boolean: every variant of a flag has one type (give "b" a boolean value, or make another flag)',
    );
    expect(readFileSync(join(dir, 'ws.yaml'), 'utf8')).toBe(before);
  });

  it('refuses a variant of another type added later', async () => {
    const r = await allot(['flags', 'add-variant', 'search-ranking', 'blue', ...W, '--value', '"blue"']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('every variant of a flag has one type');
  });
});

describe('the allot binary', () => {
  it('exits quietly when the reader of its output goes away (EPIPE)', async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ targeting_key: `u${i}`, country: 'SE' })).join('\n');
    writeFileSync(join(dir, 'many.jsonl'), lines);
    const child = spawn(process.execPath, [bin, 'resolve', '--state', 'state.json', '--contexts', 'many.jsonl'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Like `| head -1`: read the first chunk, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
