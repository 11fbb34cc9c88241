/**
 * Public types of @allot/core. Names follow Confidence's resolver API where one exists
 * (`resolvedFlags`, `shouldApply`, `RESOLVE_REASON_*`).
 */

/** A JSON value, as found in variant values and evaluation contexts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The attributes a flag is resolved for; `targeting_key` is the default randomization unit. */
export type EvaluationContext = Readonly<Record<string, unknown>>;

export type ResolveReason =
  | 'RESOLVE_REASON_MATCH'
  | 'RESOLVE_REASON_NO_SEGMENT_MATCH'
  | 'RESOLVE_REASON_TARGETING_KEY_ERROR'
  | 'RESOLVE_REASON_FLAG_ARCHIVED'
  | 'RESOLVE_REASON_ERROR';

/** A `fallthrough` assignment the unit passed through: exposed for analysis, not served. */
export interface FallthroughRecord {
  readonly rule: string;
  readonly assignmentId: string;
}

/** The outcome for one flag. Objects returned by the resolver are frozen and may be shared. */
export interface ResolvedFlag {
  /** `flags/<id>` */
  readonly flag: string;
  readonly reason: ResolveReason;
  /** The served variant's name, or `""` (no match, or a client-default assignment). */
  readonly variant: string;
  /** The served variant's value, or `null`. */
  readonly value: JsonValue;
  /** Whether the assignment should be logged as an exposure (Confidence's `apply`). */
  readonly shouldApply: boolean;
  /** Name of the rule that decided, or `""`. */
  readonly rule: string;
  /** Name of that rule's segment, or `""`. */
  readonly segment: string;
  /** Id of the assignment that decided, or `""`. */
  readonly assignmentId: string;
  /** How the unit got its variant: a hashed split, a full rollout, or a stored (sticky) assignment. */
  readonly assignmentKind: AssignmentKind;
  /** Fallthrough assignments passed on the way, in rule order. */
  readonly fallthroughs: readonly FallthroughRecord[];
}

/**
 * `split`: a hash bucket chose among several assignments; `rollout`: one assignment covers
 * every bucket; `sticky`: read from a materialization; `none`: nothing was served.
 */
export type AssignmentKind = 'split' | 'rollout' | 'sticky' | 'none';

export interface ResolveRequest {
  /** Flag names (`flags/x` or `x`); empty or absent means every flag of the client. */
  readonly flags?: readonly string[];
  readonly evaluationContext: EvaluationContext;
  readonly clientSecret: string;
  /** Accepted for compatibility with Confidence's API; does not change the result. */
  readonly apply?: boolean;
}

/** What a materialization (sticky-assignment store entry) says about one unit. */
export interface MaterializationRecord {
  readonly isUnitInMaterialization: boolean;
  /** Rule name → variant name assigned to the unit by that rule. */
  readonly ruleToVariant: Readonly<Record<string, string>>;
}

/** A (unit, materialization) pair: the key of one store read. */
export interface MaterializationKey {
  readonly unit: string;
  readonly materialization: string;
}

/** A new sticky assignment a resolve produced, for the caller to store. */
export interface MaterializationWrite extends MaterializationKey {
  readonly rule: string;
  readonly variant: string;
}

/**
 * How the synchronous resolver reaches sticky assignments the caller has already read.
 * `read` returns the record, `null` when the store has none, or `undefined` when the caller
 * did not read that key (the resolver then treats it as absent and reports it to `missing`).
 */
export interface MaterializationAccess {
  read(unit: string, materialization: string): MaterializationRecord | null | undefined;
  write?(write: MaterializationWrite): void;
  missing?(key: MaterializationKey): void;
}

/**
 * A write as a sticky-assignment store receives it. Without `replaces` it is a first write:
 * it sets the rule's variant only when the unit has none for that rule yet (so concurrent
 * first exposures on two servers agree). With `replaces` it is a compare-and-set that
 * replaces a stored variant the flag no longer has.
 */
export interface MaterializationStoreWrite extends MaterializationWrite {
  readonly replaces?: string;
}

/**
 * Where sticky assignments live (in memory, Redis, ...). The resolver never calls it: a
 * provider reads every key a resolve needs in one batch, resolves synchronously, then writes.
 * Writes must be idempotent: a write whose outcome was unknown (a timeout) is sent again.
 */
export interface MaterializationStore {
  /** The records for `keys`, in the same order; `null` where the store has none. */
  read(keys: readonly MaterializationKey[]): Promise<readonly (MaterializationRecord | null)[]>;
  /** Stores the writes; resolves once all are durable in the store. */
  write(writes: readonly MaterializationStoreWrite[]): Promise<void>;
  /**
   * Answers a read synchronously when the store can (an in-process store): the provider then
   * skips the promise and the timeout. Returns `undefined` to fall back to `read`.
   */
  readSync?(keys: readonly MaterializationKey[]): readonly (MaterializationRecord | null)[] | undefined;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}

export interface ResolveResponse {
  readonly resolvedFlags: ResolvedFlag[];
  readonly materializationWrites: MaterializationWrite[];
  /** Reads the resolve needed but the caller did not supply (treated as absent). */
  readonly missingMaterializations: MaterializationKey[];
}

/** One problem found in a state, at a JSON path such as `flags["flags/x"].rules[1]`. */
export interface StateIssue {
  readonly path: string;
  readonly message: string;
}
