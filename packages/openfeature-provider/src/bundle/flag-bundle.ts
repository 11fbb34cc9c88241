/**
 * Every flag of the client resolved for one context (Confidence's resolve-all), for hot
 * request paths: resolve once per request, then read typed values with no further
 * evaluation. Reading a value logs its exposure, as evaluating it would.
 */
import { resolveFlag, type EvaluationContext as CoreContext, type ResolvedFlag } from '@allot/core';
import { ErrorCode, StandardResolutionReasons, type JsonValue, type ResolutionDetails } from '@openfeature/server-sdk';
import { detailsOf, flagNotFound, unexpected } from '../evaluation/details.js';
import type { Evaluation } from '../evaluation/evaluation.js';
import type { FlagKey } from '../evaluation/flag-key.js';
import type { FlagValueType, StickyStoreStatus } from '../types.js';

/** What a bundle needs from the provider that made it. */
export interface BundleOwner {
  expose(key: FlagKey, resolved: ResolvedFlag, context: CoreContext): void;
}

export class FlagBundle {
  constructor(
    private readonly owner: BundleOwner,
    private readonly evaluation: Evaluation | null,
    /** Each flag's result, in the client's order; a hole where the flag failed (in `failures`). */
    private readonly results: readonly ResolvedFlag[],
    /** What each flag that could not be resolved threw, by its position; null when none did. */
    private readonly failures: ReadonlyMap<number, unknown> | null,
    /** The context the flags were resolved for, as the caller gave it. */
    readonly context: CoreContext,
    /** How the sticky store answered the bundle's one read. */
    readonly stickyStore: StickyStoreStatus,
  ) {}

  /** Names (`flags/x`) of the flags in the bundle. */
  get flags(): string[] {
    const flags = this.evaluation?.state.flagsOf(this.evaluation.client) ?? [];
    return flags.map((f) => f.name);
  }

  getBooleanValue(flagKey: string, defaultValue: boolean): boolean {
    return this.details(flagKey, 'boolean', defaultValue).value;
  }

  getStringValue(flagKey: string, defaultValue: string): string {
    return this.details(flagKey, 'string', defaultValue).value;
  }

  getNumberValue(flagKey: string, defaultValue: number): number {
    return this.details(flagKey, 'number', defaultValue).value;
  }

  getObjectValue<T extends JsonValue>(flagKey: string, defaultValue: T): T {
    return this.details(flagKey, 'object', defaultValue).value;
  }

  /** The full result, as the provider's `resolve…Evaluation` would return it. */
  details<T>(flagKey: string, type: FlagValueType, defaultValue: T): ResolutionDetails<T> {
    const evaluation = this.evaluation;
    if (evaluation === null) {
      return { value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.PROVIDER_NOT_READY, errorMessage: 'allot has no state yet' };
    }
    let key: FlagKey | null;
    try {
      key = evaluation.keys.lookup(flagKey); // describes the flag: its first compile, if resolving did not
    } catch (error) {
      return unexpected(defaultValue, error);
    }
    if (key === null) return flagNotFound(flagKey, defaultValue);
    if (this.failures?.has(key.index) === true) return unexpected(defaultValue, this.failures.get(key.index));
    // Archived flags are not in the client's list; resolving one is a constant lookup.
    const resolved = key.index === -1 ? resolveFlag(evaluation.state, evaluation.client, key.flag, this.context) : this.results[key.index]!;
    if (resolved.shouldApply) this.owner.expose(key, resolved, this.context);
    const details = detailsOf(key, resolved, type, defaultValue, this.context);
    if (this.stickyStore === 'ok' || !key.usesStore) return details;
    return { ...details, flagMetadata: { ...details.flagMetadata, stickyStore: this.stickyStore } };
  }
}
