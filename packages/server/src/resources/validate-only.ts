/**
 * `?validateOnly=true` (AIP-163, as Confidence's API has it): a write applied to an
 * in-memory copy of the latest workspace instead of the file. The answer is the one the real
 * write would give (the same resource, or the same refusal: etag mismatch, insufficient
 * space, a live segment lowered without `force`) plus `impact`, what the change would do to
 * every flag and segment it can affect (admin's `previewImpact` with `affectedOnly`, the same
 * numbers as `allot diff`; the rest keep every unit's outcome, and listing them would make
 * a preview's cost follow the workspace instead of the change).
 * Nothing is written, nothing is locked, and a read token is enough: a preview changes
 * nothing, and the coordination map asks for previews before anyone uses a write token.
 */
import { applyOperation, previewImpact, type ImpactPreview, type Outcome, type Workspace } from '@allot/admin';

import { requestChange } from '../audit/write-context.js';
import { invalid } from '../http/api-error.js';
import type { Reply, RequestContext } from '../http/router.js';
import { bucketMap, parseCells, type BucketMap } from '../map/bucket-map.js';
import type { Store } from '../store/store.js';

/**
 * The preview as JSON: audience conditions by label and canonical text (as `allot diff
 * --json`), and, when the request has `bucketMapCells=N`, the bucket map of the workspace
 * after the change (as `GET /v1/segments:bucketMap?cells=N` would answer after the write).
 */
export type ImpactJson = Omit<ImpactPreview, 'conditions'> & {
  readonly conditions: readonly { readonly label: string; readonly text: string }[];
  readonly bucketMap?: BucketMap;
};

export function impactJson(preview: ImpactPreview): ImpactJson {
  return { ...preview, conditions: preview.conditions.map((c) => ({ label: c.label, text: c.text })) };
}

/**
 * Whether the raw query string asks for a preview, decided before authorization (which it
 * relaxes to `read`); the query is checked properly (`true`/`false`, given once) after that.
 */
export function asksValidateOnly(search: string): boolean {
  return new URLSearchParams(search).getAll('validateOnly').includes('true');
}

/** What a write did, or would do. */
export interface Committed<R> {
  readonly result: R;
  readonly warnings: readonly string[];
  /** Set for a validateOnly request: what the change would do. */
  readonly impact: ImpactJson | null;
}

/**
 * Runs `operation` as the request asks: through the store's locked write path, or, for
 * validateOnly, on the current snapshot with the same checks the write makes
 * (`applyOperation`: the operation's own, then the result's) and without writing.
 */
export async function commit<R>(store: Store, ctx: RequestContext, operation: (workspace: Workspace) => Outcome<R>): Promise<Committed<R>> {
  const cellsText = ctx.query.string('bucketMapCells');
  if (!ctx.validateOnly) {
    if (cellsText !== undefined) throw invalid('bucketMapCells', 'a bucket map of the result is part of a preview: add validateOnly=true, or leave bucketMapCells out');
    const out = await store.write(operation, await requestChange(ctx));
    return { result: out.result, warnings: out.warnings, impact: null };
  }
  const cells = cellsText === undefined ? undefined : parseCells(cellsText, 'bucketMapCells');
  const before = (await store.current()).workspace;
  const out = applyOperation(before, operation);
  const impact = impactJson(previewImpact(before, out.workspace, { affectedOnly: true }));
  return { result: out.result, warnings: out.warnings, impact: cells === undefined ? impact : { ...impact, bucketMap: bucketMap(out.workspace, cells) } };
}

/** `reply` with the preview added to its body (unchanged for a real write). */
export function withImpact(reply: Reply, impact: ImpactJson | null): Reply {
  if (impact === null) return reply;
  return { ...reply, body: { ...(reply.body as Record<string, unknown>), validateOnly: true, impact } };
}
