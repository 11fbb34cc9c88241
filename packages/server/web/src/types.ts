/**
 * The JSON the page reads, as the server's resources write it (packages/server/src/resources
 * and src/map/bucket-map.ts). The impact preview's types are admin's own.
 */
import type { ImpactPreview } from '@allot/admin';

export interface ApiErrorJson {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

export type SegmentState = 'UNALLOCATED' | 'ALLOCATED' | 'ARCHIVED';

export interface SegmentJson {
  readonly name: string;
  readonly targetingExpression: string;
  readonly allocation: { readonly proportion: { readonly value: string }; readonly exclusivityTags: readonly string[]; readonly exclusiveTo: readonly string[] };
  readonly state: SegmentState;
  readonly allocatedBuckets: number;
}

interface RuleCommon {
  readonly name: string;
  readonly state: 'ENABLED' | 'DISABLED' | 'ARCHIVED';
  readonly environments: readonly string[];
  /** `segments/<id>` when the rule's audience is a segment. */
  readonly segment?: string;
  readonly targetingExpression?: string;
}

export type RuleJson =
  | (RuleCommon & { readonly kind: 'individual'; readonly attribute: string; readonly values: readonly string[]; readonly variant: string })
  | (RuleCommon & { readonly kind: 'conditional'; readonly percentage: { readonly value: string }; readonly split: Readonly<Record<string, number>> })
  | (RuleCommon & { readonly kind: 'ab-test'; readonly weights: Readonly<Record<string, number>> })
  | (RuleCommon & { readonly kind: 'rollout'; readonly reach: { readonly value: string }; readonly variant: string });

export interface FlagJson {
  readonly name: string;
  readonly state: 'ACTIVE' | 'ARCHIVED';
  readonly rules: readonly RuleJson[];
}

export interface CellCounts {
  readonly buckets: number;
  readonly cells: readonly number[];
}

export interface FamilyMember {
  readonly segment: string;
  readonly buckets: number;
  readonly own: CellCounts;
}

export interface TagFamily {
  readonly tag: string | null;
  readonly members: readonly FamilyMember[];
  readonly shared: CellCounts;
  readonly free: CellCounts;
  readonly freeBuckets: number;
}

export interface BucketMap {
  readonly buckets: number;
  readonly cells: number;
  readonly cellSize: number;
  readonly families: readonly TagFamily[];
}

/** A validateOnly answer's `impact`, asked with `bucketMapCells`. */
export type Impact = Omit<ImpactPreview, 'conditions'> & {
  readonly conditions: readonly { readonly label: string; readonly text: string }[];
  readonly bucketMap?: BucketMap;
};

export interface PreviewAnswer {
  readonly validateOnly: true;
  readonly impact: Impact;
  readonly warnings?: readonly string[];
}
