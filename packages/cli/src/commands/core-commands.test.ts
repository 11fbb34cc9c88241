import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { main } from '../main.js';
import { captureIo } from '../testing-io.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const demoState = 'examples/states/demo.json';
const shared = join(repoRoot, '..', 'shared', 'conformance', 'confidence-resolver-spec');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(repoRoot);
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('allot resolve', () => {
  it('prints the resolve response as JSON; the only client needs no --client-secret', async () => {
    const r = await run('resolve', '--state', demoState, '--flag', 'new-checkout', '--context', '{"targeting_key":"ada","email":"ada@allot.dev"}');
    expect(r.code).toBe(0);
    const response = JSON.parse(r.out) as { resolvedFlags: Record<string, unknown>[] };
    expect(response.resolvedFlags).toEqual([
      {
        flag: 'flags/new-checkout',
        reason: 'RESOLVE_REASON_MATCH',
        variant: 'treatment',
        value: { enabled: true, steps: 2 },
        shouldApply: true,
        rule: 'flags/new-checkout/rules/testers',
        segment: 'segments/internal-testers',
        assignmentId: 'testers-on',
      },
    ]);
  });

  it('refuses a context that is not a JSON object, and an unknown secret', async () => {
    expect(await run('resolve', '--state', demoState, '--context', '[1]')).toMatchObject({ code: 2 });
    const r = await run('resolve', '--state', demoState, '--client-secret', 'nope', '--context', '{}');
    expect(r.code).toBe(1);
    expect(r.err).toContain('no client has the secret');
  });
});

describe('allot validate', () => {
  it('summarizes a good state', async () => {
    const r = await run('validate', '--state', demoState);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ok: account allot-demo, 2 flags');
  });

  it('lists every problem of a bad state with its path, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-validate-'));
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ account: { name: 'accounts/a' }, flags: { 'flags/x': { rules: [{ name: 'r', segment: 's', assignmentSpec: { bucketCount: 'ten' } }] } } }));
    const r = await run('validate', '--state', path);
    expect(r.code).toBe(1);
    expect(r.out).toContain('flags["flags/x"].rules[0].assignmentSpec.bucketCount: expected a positive integer, got "ten"');
  });

  it('says which file it cannot read', async () => {
    const r = await run('validate', '--state', 'no/such/file.json');
    expect(r.code).toBe(2);
    expect(r.err).toContain('cannot read state no/such/file.json: ENOENT');
  });
});

describe('allot conformance', () => {
  it('reports each failing case with expected and actual, and exits non-zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-conformance-'));
    const tests = join(dir, 'tests.json');
    const expected = (variant: string): unknown => ({
      general: { resolvedFlags: [{ flag: 'flags/banner', reason: 'RESOLVE_REASON_MATCH', variant, shouldApply: true }], expectError: null },
    });
    writeFileSync(
      tests,
      JSON.stringify([
        { name: 'right', resolveRequest: { flags: ['flags/banner'], evaluationContext: {}, clientSecret: 'demo-secret' }, expectedResult: expected('winter') },
        { name: 'wrong', resolveRequest: { flags: ['flags/banner'], evaluationContext: {}, clientSecret: 'demo-secret' }, expectedResult: expected('summer') },
        { name: 'error expected', resolveRequest: { flags: [], evaluationContext: {}, clientSecret: 'bad' }, expectedResult: { general: { resolvedFlags: [], expectError: 'client not found' } } },
      ]),
    );
    const r = await run('conformance', '--state', demoState, '--tests', tests);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL wrong');
    expect(r.out).toContain('resolvedFlags[0].variant: expected "summer", got "winter"');
    expect(r.out.trim().split('\n').at(-1)).toBe('2 passed, 1 failed');
    // No case records a Rust-specific expectation: nothing to say about one.
    expect(r.out).not.toContain('Rust-specific');
  });

  it('says how many cases record a Rust-specific expectation, and that the general one is what counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-conformance-'));
    const tests = join(dir, 'tests.json');
    const flag = (variant: string): unknown => ({ resolvedFlags: [{ flag: 'flags/banner', reason: 'RESOLVE_REASON_MATCH', variant, shouldApply: true }], expectError: null });
    const request = { flags: ['flags/banner'], evaluationContext: {}, clientSecret: 'demo-secret' };
    writeFileSync(
      tests,
      JSON.stringify([
        { name: 'general met', resolveRequest: request, expectedResult: { general: flag('winter'), rust: flag('summer') } },
        { name: 'general unmet', resolveRequest: request, expectedResult: { general: flag('summer'), rust: flag('winter') } },
      ]),
    );
    const r = await run('conformance', '--state', demoState, '--tests', tests);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL general unmet');
    expect(r.out.trim().split('\n').slice(-2)).toEqual([
      "checked against each case's general expectation; 2 of the cases also record a Rust-specific one (Confidence's WebAssembly build answers those), not followed: the general one was met in 1 of them",
      '1 passed, 1 failed',
    ]);
  });

  it('runs the shared suite when ../shared is present', async (ctx) => {
    const { existsSync } = await import('node:fs');
    if (!existsSync(shared)) {
      ctx.skip('skipped: ../shared (beside the checkout) is not present on this clone');
      return;
    }
    const r = await run('conformance', '--state', join(shared, 'state.json'), '--tests', join(shared, 'tests.json'));
    const lines = r.out.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/);
    // Where the suite records a Rust-specific answer, allot is held to (and meets) the general one.
    expect(lines.at(-2)).toMatch(/^checked against each case's general expectation; (\d+) of the cases also record a Rust-specific one .*the general one was met in \1 of them$/);
    expect(r.code).toBe(0);
  });
});

describe('allot', () => {
  it('lists the commands, and refuses an unknown one', async () => {
    expect((await run('help')).out).toContain('conformance');
    const r = await run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "frobnicate"');
  });
});
