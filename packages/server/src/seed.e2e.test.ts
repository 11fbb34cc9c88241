/**
 * The end-to-end contract: the curl commands of Confidence's coordination how-to
 * (`../shared/seeds/confidence-segment-coordination-howto.txt`) run against allot serve with
 * only the host (and token) changed, with real curl when the machine has it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { BUCKETS, WorkspaceFile, type Workspace } from '@allot/admin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startTestServer, WRITE_TOKEN, type TestServer } from './testing/test-server.js';

const run = promisify(execFile);
const SEED = join(dirname(fileURLToPath(import.meta.url)), '../../../../shared/seeds/confidence-segment-coordination-howto.txt');
const hasCurl = ['/usr/bin/curl', '/bin/curl', '/usr/local/bin/curl'].some((p) => existsSync(p));

/** The seed's curl commands, continuation lines joined, in order. */
function seedCommands(text: string): string[] {
  const commands: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('curl ')) continue;
    let command = lines[i]!;
    while (command.trimEnd().endsWith('\\') || (command.includes("-d '") && (command.split("'").length - 1) % 2 === 1)) {
      command = command.trimEnd().endsWith('\\') ? `${command.trimEnd().slice(0, -1)} ` : `${command}\n`;
      command += lines[++i]!;
    }
    commands.push(command);
  }
  return commands;
}

interface CurlResult {
  status: number;
  body: Record<string, unknown>;
}

/** Runs one curl command line (as in the seed) against `url`, through bash. */
async function curl(server: TestServer, command: string): Promise<CurlResult> {
  const line = command.replaceAll('https://api.confidence.dev', server.url).replaceAll('YOUR_ACCESS_TOKEN', WRITE_TOKEN);
  if (hasCurl) {
    const { stdout } = await run('bash', ['-c', `${line} -sS -w '\\n%{http_code}'`]);
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) as Record<string, unknown> };
  }
  // No curl on this machine: the same request through fetch.
  const method = /-X (\w+)/.exec(line)?.[1] ?? 'GET';
  const url = /"(http[^"]+)"/.exec(line)![1]!;
  const data = /-d '([^']*)'/.exec(line)?.[1];
  const headers: Record<string, string> = { authorization: `Bearer ${WRITE_TOKEN}` };
  if (data !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, ...(data === undefined ? {} : { body: data }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function disjoint(ws: Workspace, a: string, b: string): boolean {
  const wa = ws.segments.find((s) => s.id === a)!.buckets!.words();
  const wb = ws.segments.find((s) => s.id === b)!.buckets!.words();
  return wa.every((w, i) => (w & wb[i]!) === 0);
}

/** The sequence of the how-to, as written there. */
const HOWTO = [
  `curl -X POST "https://api.confidence.dev/v1/segments?segmentId=ranking-exp-1" -H "Authorization: Bearer YOUR_ACCESS_TOKEN" -H "Content-Type: application/json" -d '{"displayName": "Ranking Experiment 1", "targeting": {}, "allocation": {"proportion": {"value": "0.1"}, "exclusivityTags": ["ranking"], "exclusiveTo": ["ranking"]}}'`,
  `curl -X POST "https://api.confidence.dev/v1/segments?segmentId=ranking-exp-2" -H "Authorization: Bearer YOUR_ACCESS_TOKEN" -H "Content-Type: application/json" -d '{"displayName": "Ranking Experiment 2", "targeting": {}, "allocation": {"proportion": {"value": "0.1"}, "exclusivityTags": ["ranking"], "exclusiveTo": ["ranking"]}}'`,
  `curl -X POST "https://api.confidence.dev/v1/segments?segmentId=mixed-experiment" -H "Authorization: Bearer YOUR_ACCESS_TOKEN" -H "Content-Type: application/json" -d '{"displayName": "Mixed Experiment", "targeting": {}, "allocation": {"proportion": {"value": "0.05"}, "exclusivityTags": ["search"], "exclusiveTo": ["search", "ranking", "mixer"]}}'`,
  `curl -X PATCH "https://api.confidence.dev/v1/segments/ranking-exp-1?updateMask=allocation.exclusivityTags,allocation.exclusiveTo" -H "Authorization: Bearer YOUR_ACCESS_TOKEN" -H "Content-Type: application/json" -d '{"allocation": {"exclusivityTags": ["ranking", "search"], "exclusiveTo": ["ranking", "search", "mixer"]}}'`,
  `curl -X POST "https://api.confidence.dev/v1/segments/ranking-exp-1:allocate" -H "Authorization: Bearer YOUR_ACCESS_TOKEN"`,
  `curl -X GET "https://api.confidence.dev/v1/segments" -H "Authorization: Bearer YOUR_ACCESS_TOKEN"`,
];

async function checkSequence(server: TestServer, commands: readonly string[]): Promise<void> {
  expect(commands).toHaveLength(6);
  const [exp1, exp2, mixed, patch, allocate, list] = await commands.reduce<Promise<CurlResult[]>>(
    async (done, c) => [...(await done), await curl(server, c)],
    Promise.resolve([]),
  );
  for (const created of [exp1!, exp2!, mixed!]) {
    expect(created.status).toBe(200);
    expect(created.body.state).toBe('UNALLOCATED');
  }
  expect(exp1!.body).toMatchObject({ name: 'segments/ranking-exp-1', displayName: 'Ranking Experiment 1', targeting: {} });
  expect(mixed!.body.allocation).toEqual({ proportion: { value: '0.05' }, exclusivityTags: ['search'], exclusiveTo: ['mixer', 'ranking', 'search'] });

  // Only the masked fields changed.
  expect(patch!.status).toBe(200);
  expect(patch!.body).toMatchObject({
    displayName: 'Ranking Experiment 1',
    allocation: { proportion: { value: '0.1' }, exclusivityTags: ['ranking', 'search'], exclusiveTo: ['mixer', 'ranking', 'search'] },
  });

  expect(allocate!.status).toBe(200);
  expect(allocate!.body).toMatchObject({ name: 'segments/ranking-exp-1', state: 'ALLOCATED', allocatedBuckets: 100_000 });

  expect(list!.status).toBe(200);
  const segments = list!.body.segments as { name: string; state: string; allocation: { proportion: { value: string } } }[];
  expect(segments.map((s) => [s.name, s.state, s.allocation.proportion.value])).toEqual([
    ['segments/ranking-exp-1', 'ALLOCATED', '0.1'],
    ['segments/ranking-exp-2', 'UNALLOCATED', '0.1'],
    ['segments/mixed-experiment', 'UNALLOCATED', '0.05'],
  ]);

  // "Next steps": allocate the others; coordination keeps all three apart.
  for (const id of ['ranking-exp-2', 'mixed-experiment']) {
    const r = await curl(server, `curl -X POST "https://api.confidence.dev/v1/segments/${id}:allocate" -H "Authorization: Bearer YOUR_ACCESS_TOKEN"`);
    expect(r.status).toBe(200);
  }
  const space = await curl(server, `curl -X GET "https://api.confidence.dev/v1/segments:availableSpace?exclusivityTags=ranking&exclusiveTo=ranking" -H "Authorization: Bearer YOUR_ACCESS_TOKEN"`);
  expect(space.body).toMatchObject({ availableBuckets: BUCKETS - 250_000, available: { value: '0.75' } });
  expect(space.body.conflictingSegments).toEqual(['segments/mixed-experiment', 'segments/ranking-exp-1', 'segments/ranking-exp-2']);

  const { workspace } = await new WorkspaceFile(server.workspace).read();
  expect(disjoint(workspace, 'ranking-exp-1', 'ranking-exp-2')).toBe(true);
  expect(disjoint(workspace, 'ranking-exp-1', 'mixed-experiment')).toBe(true);
  expect(disjoint(workspace, 'ranking-exp-2', 'mixed-experiment')).toBe(true);
}

describe(`the coordination how-to's curl sequence (${hasCurl ? 'real curl' : 'fetch: no curl on this machine'})`, () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('works as written in the how-to, with only the host changed', async () => {
    await checkSequence(server, HOWTO);
  });

  it.skipIf(!existsSync(SEED))('works when read from the seed file itself (skipped without ../shared beside the checkout)', async () => {
    await checkSequence(server, seedCommands(readFileSync(SEED, 'utf8')));
  });
});
