/**
 * The file store read again after a hand edit: the state it serves is the state of the file
 * as it now is, whatever it carried over from the snapshot before (the gzipped bitsets of
 * segments whose buckets did not change).
 */
import { readFile, writeFile } from 'node:fs/promises';

import { afterEach, describe, expect, it } from 'vitest';

import { compileState, parseWorkspace } from '@allot/admin';

import { READ_TOKEN, startTestServer, testStoreKind, type TestServer } from '../testing/test-server.js';

let server: TestServer | null = null;

afterEach(async () => {
  await server?.stop();
  server = null;
});

async function served(s: TestServer): Promise<unknown> {
  const response = await s.request('/v1/state', { token: READ_TOKEN });
  expect(response.status).toBe(200);
  return response.json();
}

function withoutClients(state: unknown): Record<string, Record<string, unknown>> {
  const fields = { ...(state as Record<string, Record<string, unknown>>) };
  delete fields.clients;
  return fields;
}

/** The `runs:` field of segment `id` in the workspace file (a block of base64 lines). */
function runsField(yaml: string, id: string): string {
  const at = yaml.indexOf(`\n  ${id}:\n`);
  expect(at).toBeGreaterThanOrEqual(0);
  return /\n +runs: (?:\|-?\n(?: {8,}\S[^\n]*(?:\n|$))+|[^\n]+)/.exec(yaml.slice(at))![0];
}

describe.skipIf(testStoreKind() !== 'file')('the file store after a hand edit', () => {
  it('serves the state of the edited file: unchanged segments keep their bitsets, and a segment given other buckets is served with them', async () => {
    server = await startTestServer();
    for (const id of ['s1', 's2', 's3']) {
      expect((await server.call('POST', `/v1/segments?segmentId=${id}`, { allocation: { proportion: { value: '0.1' } } })).status).toBe(200);
      expect((await server.call('POST', `/v1/segments/${id}:allocate`)).status).toBe(200);
    }
    await served(server); // compiled once: every set's bitset deflated
    const yaml = await readFile(server.workspace, 'utf8');
    // s1 takes s3's buckets (same proportion, so the same count); s2 only changes its name.
    const edited = yaml.replace(runsField(yaml, 's1'), runsField(yaml, 's3')).replace(/displayName: s2\b/, 'displayName: renamed');
    expect(edited).not.toBe(yaml);
    await writeFile(server.workspace, edited);
    // The clients differ only by the secrets the server reads beside the workspace.
    const after = withoutClients(await served(server));
    expect(after).toEqual(withoutClients(JSON.parse(JSON.stringify(compileState(parseWorkspace(edited))))));
    const bitsets = Object.values(after).find((field) => 'segments/s1' in field && typeof field['segments/s1'] === 'string')!;
    expect(bitsets['segments/s1']).toBe(bitsets['segments/s3']);
    expect(bitsets['segments/s1']).not.toBe(bitsets['segments/s2']);
    // Edited again: read entry by entry, the entries this read parsed before are taken as they
    // were (admin's ParsedEntries), and the state served is still the file's.
    const again = edited.replace(runsField(edited, 's2'), runsField(edited, 's1')).replace(/displayName: s3\b/, 'displayName: third');
    await writeFile(server.workspace, again);
    expect(withoutClients(await served(server))).toEqual(withoutClients(JSON.parse(JSON.stringify(compileState(parseWorkspace(again))))));
  });
});
