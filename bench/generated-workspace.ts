/**
 * Large workspaces for the load benches that need a real `allot serve`: the account of
 * `generated-state.ts` authored through `@allot/admin` (each segment a one-criterion
 * audience allocated by the block allocator, one flag per 5 segments with an A/B test on each
 * of them), so the server compiles a state of the same shape. Two revisions, differing in one
 * segment's audience. Authoring 10,000 segments one operation at a time takes minutes, so the
 * documents are kept in `dir` and reused by later runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { addRule, addVariant, allocateSegment, createFlag, createSegment, newWorkspace, serializeWorkspace, updateSegment } from '@allot/admin';

export const WORKSPACE_SECRET = 'bench-secret';

/** The two revisions' workspace documents (YAML) of `segments` segments, from `dir` when made before. */
export function workspaceTexts(segments: number, dir: string): readonly [string, string] {
  const paths = [1, 2].map((r) => join(dir, `workspace-${segments}-r${r}.yaml`)) as [string, string];
  if (paths.every((p) => existsSync(p))) return [readFileSync(paths[0], 'utf8'), readFileSync(paths[1], 'utf8')];
  let ws = newWorkspace({ account: 'bench', seed: `bench-${segments}`, clientSecret: WORKSPACE_SECRET });
  for (let i = 0; i < segments; i++) {
    ws = createSegment(ws, { id: `s${i}`, targeting: `country == C${i % 50}`, proportion: i % 2 === 1 ? 0.01 : 0.002 }).workspace;
    ws = allocateSegment(ws, `s${i}`).workspace;
  }
  for (let f = 0; f < segments / 5; f++) {
    const id = `f${f}`;
    ws = createFlag(ws, { id, variants: [{ name: 'on', value: { enabled: true } }] }).workspace;
    ws = addVariant(ws, id, { name: 'off', value: { enabled: false } }).workspace;
    for (let k = 0; k < 5; k++) {
      const weights = [
        { variant: 'on', weight: 1 },
        { variant: 'off', weight: 1 },
      ];
      ws = addRule(ws, id, { kind: 'ab-test', segment: `s${f * 5 + k}`, enabled: true, weights }).workspace;
    }
  }
  const texts = [serializeWorkspace(ws), serializeWorkspace(updateSegment(ws, 's0', { targeting: 'country == C99' }, ['targeting']).workspace)] as const;
  mkdirSync(dir, { recursive: true });
  writeFileSync(paths[0], texts[0]);
  writeFileSync(paths[1], texts[1]);
  return texts;
}
