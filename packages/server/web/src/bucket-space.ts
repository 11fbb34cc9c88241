/**
 * The bucket space, one chart per tag family (see the server's src/map/bucket-map.ts): the
 * 1,000,000 buckets left to right in cells, each cell a stacked column of every member's own
 * buckets, the buckets shared by members that do not conflict with each other, and the free
 * ones, so a column's parts add up to the cell and a chart's to 1,000,000. Every drawn part
 * carries its bucket count (`data-buckets`), and the legend the totals.
 */
import { html } from './html.js';
import { count, percent } from './format.js';
import type { BucketMap, SegmentJson, TagFamily } from './types.js';

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
const PALETTE = ['#E69F00', '#56B4E9', '#009E73', '#0072B2', '#D55E00', '#CC79A7', '#F0E442', '#000000'];
const SHARED = '#8c8c8c';
const FREE = '#ffffff';

export type Colour = (segment: string) => string;

export function palette(order: readonly string[]): Colour {
  return (segment) => PALETTE[Math.max(0, order.indexOf(segment)) % PALETTE.length]!;
}

/** Why a segment is in the family of `tag`: the allocator's conflict rule, in words. */
function reason(tag: string | null, s: SegmentJson | undefined): string {
  if (tag === null || s === undefined) return '';
  const tagged = s.allocation.exclusivityTags.includes(tag);
  const exclusive = s.allocation.exclusiveTo.includes(tag);
  if (tagged && exclusive) return '';
  if (exclusive) return ` (exclusive to ${tag}, tagged ${s.allocation.exclusivityTags.join(', ') || 'nothing'})`;
  return ` (tagged ${tag}, exclusive to ${s.allocation.exclusiveTo.join(', ') || 'nothing'})`;
}

const swatch = (fill: string): unknown => html`<svg class="swatch" width="12" height="12" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" fill=${fill} stroke="#333" /></svg>`;

interface FamilyProps {
  readonly family: TagFamily;
  readonly map: BucketMap;
  readonly segments: ReadonlyMap<string, SegmentJson>;
  readonly colour: Colour;
  /** The same family before a previewed change, to show what moves. */
  readonly before?: TagFamily | undefined;
  readonly idPrefix: string;
}

function freeText(family: TagFamily, before: TagFamily | undefined): string {
  const now = `${count(family.freeBuckets)} buckets ${family.tag === null ? 'held by none of them' : 'free'} (${percent(family.freeBuckets / 1_000_000)})`;
  if (before === undefined || before.freeBuckets === family.freeBuckets) return now;
  return `${count(before.freeBuckets)} → ${now}`;
}

function Family({ family, map, segments, colour, before, idPrefix }: FamilyProps): unknown {
  const label = family.tag === null ? 'segments without tags' : `tag "${family.tag}"`;
  const lane = 70;
  const left = 10;
  const width = 1000;
  const cw = width / map.cells;
  const inner = lane - 6;
  const parts: unknown[] = [];
  for (let i = 0; i < map.cells; i++) {
    const size = Math.min(map.cellSize, map.buckets - i * map.cellSize);
    let y = lane;
    const stack = (buckets: number, fill: string, kind: string, segment?: string): void => {
      if (buckets === 0) return;
      const height = (buckets / size) * inner;
      y -= height;
      parts.push(html`<rect x=${left + i * cw} y=${y} width=${cw + 0.05} height=${height} fill=${fill} data-kind=${kind} data-segment=${segment} data-buckets=${buckets} />`);
    };
    for (const m of family.members) stack(m.own.cells[i]!, colour(m.segment), 'own', m.segment);
    stack(family.shared.cells[i]!, SHARED, 'shared');
    stack(family.free.cells[i]!, FREE, 'free');
  }
  const captionId = `${idPrefix}family-${family.tag ?? '-untagged'}`;
  const members = family.members.length;
  const summary = [...family.members.map((m) => `${m.segment} holds ${m.buckets} buckets`), family.shared.buckets > 0 ? `${family.shared.buckets} held by more than one` : '', `${family.freeBuckets} free`].filter((x) => x !== '');
  return html`<section class="family" aria-labelledby=${captionId} data-family=${family.tag ?? ''}>
    <h3 id=${captionId}>${label}: ${members} allocated segment${members === 1 ? '' : 's'}, ${freeText(family, before)}</h3>
    <svg viewBox=${`0 0 ${left + width + 10} ${lane + 4}`} role="img" aria-label=${`Bucket space of ${label}: ${summary.join('; ')}`}>
      <rect x=${left} y="6" width=${width} height=${inner} fill="none" stroke="#999" />
      ${parts}
    </svg>
    <ul class="legend">
      ${family.members.map(
        (m) => html`<li data-segment=${m.segment} data-buckets=${m.buckets} data-own=${m.own.buckets}>
          ${swatch(colour(m.segment))}<a href=${`#segment-${m.segment}`}>${m.segment}</a>${reason(family.tag, segments.get(m.segment))}: ${count(m.buckets)} buckets (${percent(m.buckets / 1_000_000)})
        </li>`,
      )}
      ${family.shared.buckets > 0
        ? html`<li data-kind="shared" data-buckets=${family.shared.buckets}>${swatch(SHARED)}held by more than one (they do not conflict with each other, so they overlap by chance): ${count(family.shared.buckets)} buckets</li>`
        : null}
      <li data-kind="free" data-buckets=${family.freeBuckets}>${swatch(FREE)}${family.tag === null ? 'held by none of them' : `free for a segment tagged "${family.tag}" and exclusive to it`}: ${count(family.freeBuckets)} buckets</li>
    </ul>
  </section>`;
}

interface BucketSpaceProps {
  readonly map: BucketMap;
  readonly segments: readonly SegmentJson[];
  readonly colour: Colour;
  readonly before?: BucketMap | undefined;
  readonly idPrefix?: string;
}

export function BucketSpace({ map, segments, colour, before, idPrefix = '' }: BucketSpaceProps): unknown {
  if (map.families.length === 0) return html`<p>No segment is allocated${before === undefined ? ' yet' : ''}.</p>`;
  const byId = new Map(segments.map((s) => [s.name.slice('segments/'.length), s]));
  return map.families.map(
    (f) =>
      html`<${Family} family=${f} map=${map} segments=${byId} colour=${colour} before=${before?.families.find((b) => b.tag === f.tag)} idPrefix=${idPrefix} />`,
  );
}

export function BucketSpaceHelp({ map }: { readonly map: BucketMap }): unknown {
  const columns = `${map.cells} columns of ${count(map.cellSize)}`;
  return html`<p class="muted">
    One chart per tag: every allocated segment that may not share a bucket with a segment tagged with it and exclusive to it (the segments
    carrying the tag, and the segments exclusive to it whatever their own tags). The 1,000,000 buckets run from left to right in ${columns}; a
    column's height is the share of its buckets each segment holds, grey where two segments that do not conflict with each other both hold a
    bucket, white where the bucket is free. Segments are spread over the whole space, so a column looks like the total.
  </p>`;
}
