/**
 * A chained audit entry: the store's `AuditEntry` (revision, time, actor, operation, request,
 * the changed resources before and after, the impact summary) with its place in the hash
 * chain. Entries form a chain (see `chain.ts`), so an entry edited, deleted, inserted or moved
 * afterwards is found by `verifyChain`.
 */
import type { AuditEntry } from '../store/audit-hook.js';

export interface ChainedEntry extends AuditEntry {
  /**
   * The entry's place in the log: 1 for the first, then one more each (a gap is a deletion).
   * Written by the file store; entries from a store that keeps it beside the entry (a
   * database column) may come without it, and then verify counts positions instead.
   */
  readonly seq?: number;
  /** The previous entry's `hash`; `GENESIS` for the first entry. */
  readonly prev: string;
  /** SHA-256 (hex) of `prev` followed by the canonical JSON of every other field. */
  readonly hash: string;
  /**
   * File store only: the workspace file's etag once this entry's batch was written (on the
   * last entry of each locked update), so the next update can tell whether the file was
   * changed outside the server since.
   */
  readonly etag?: string;
}

/** One resource a change touched, as the API shows it (`null`: absent on that side). */
export interface ResourceChange {
  /** `segments/ID`, `flags/ID` or `groups/ID`. */
  readonly name: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** A share of units: exact, or the bounds that hold for any population. */
export type ShareSummary = number | { readonly low: number; readonly high: number };

/** What a change did to the units (from admin's `previewImpact`), per changed flag and segment. */
export interface ImpactSummary {
  /** Units that start being served a variant, stop being served, or change variant. */
  readonly flags: readonly { readonly flag: string; readonly start: ShareSummary; readonly stop: ShareSummary; readonly change: ShareSummary }[];
  /** Units that enter and leave each segment; buckets (of 1,000,000) before and after. */
  readonly segments: readonly { readonly segment: string; readonly enter: ShareSummary; readonly leave: ShareSummary; readonly buckets: { readonly before: number; readonly after: number } }[];
}

/** The actor (and operation) of changes made to the workspace file outside the server. */
export const FILE_EDIT_ACTOR = 'file edit';
