/**
 * OpenFeature flag keys: a flag name, with or without `flags/`, optionally followed by a
 * dotted path into the variant's value (`checkout.enabled`, `flags/banner.copy.title`).
 * Keys are parsed once per state and cached, with what evaluation needs to know about the flag.
 */
import type { CompiledClient, CompiledFlag, CompiledRule, ResolvedFlag, ResolverState } from '@allot/core';
import type { ResolutionDetails } from '@openfeature/server-sdk';

/** Most distinct keys cached per state; past it keys are parsed on every call (still correct). */
const MAX_CACHED_KEYS = 10_000;

export interface FlagKey {
  readonly key: string;
  readonly flag: CompiledFlag;
  /** Position in the client's flag list (`state.flagsOf(client)`), -1 for an archived flag. */
  readonly index: number;
  /** The path into the variant value; empty for the whole value. */
  readonly path: readonly string[];
  /** Whether resolving may read or write the sticky store (a rule uses a materialization). */
  readonly usesStore: boolean;
  /** Whether a rule randomizes on `targeting_key` (so a missing key is worth reporting). */
  readonly randomizesOnTargetingKey: boolean;
  readonly rules: ReadonlyMap<string, CompiledRule>;
  /** Successful details by value type, per shared result object (see details.ts). */
  readonly details: readonly Map<ResolvedFlag, ResolutionDetails<unknown>>[];
}

/** The key an app calls for a flag of the state: `flags/search-ranking` → `search-ranking`. */
export function flagKeyOf(name: string): string {
  return name.startsWith('flags/') ? name.slice('flags/'.length) : name;
}

/** Flag keys of one state and one client. Discarded with the state. */
export class FlagKeys {
  private readonly cache = new Map<string, FlagKey | null>();
  /** Built with the first key parsed: a state may be replaced before any key is. */
  private indexes: Map<CompiledFlag, number> | null = null;

  constructor(
    private readonly state: ResolverState,
    private readonly client: CompiledClient,
  ) {}

  /** The flag a key names, or null when the client has no such flag. */
  lookup(key: string): FlagKey | null {
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const parsed = this.parse(key);
    if (this.cache.size < MAX_CACHED_KEYS) this.cache.set(key, parsed);
    return parsed;
  }

  private parse(key: string): FlagKey | null {
    const bare = key.startsWith('flags/') ? key.slice('flags/'.length) : key;
    const dot = bare.indexOf('.');
    const name = dot === -1 ? bare : bare.slice(0, dot);
    const flag = name === '' ? undefined : this.state.flags.get(`flags/${name}`);
    if (flag === undefined || !flag.clients.has(this.client.name)) return null;
    const path = dot === -1 ? [] : bare.slice(dot + 1).split('.');
    return describeFlag(key, flag, this.indexOf(flag), path);
  }

  /** The flag's position in `state.flagsOf(client)`, -1 when it is not there (archived). */
  private indexOf(flag: CompiledFlag): number {
    if (this.indexes === null) {
      const indexes = new Map<CompiledFlag, number>();
      this.state.flagsOf(this.client).forEach((f, i) => indexes.set(f, i));
      this.indexes = indexes;
    }
    return this.indexes.get(flag) ?? -1;
  }
}

function describeFlag(key: string, flag: CompiledFlag, index: number, path: readonly string[]): FlagKey {
  let randomizesOnTargetingKey = false;
  const rules = new Map<string, CompiledRule>();
  for (const rule of flag.rules) {
    rules.set(rule.name, rule);
    if (rule.enabled && rule.blankSelector && rule.fullRollout === null) randomizesOnTargetingKey = true;
  }
  return {
    key,
    flag,
    index,
    path,
    usesStore: flag.usesStore,
    randomizesOnTargetingKey,
    rules,
    details: [new Map(), new Map(), new Map(), new Map()],
  };
}
