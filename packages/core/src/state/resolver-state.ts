/**
 * A loaded, compiled, immutable resolver state: what `loadState` returns and every resolve
 * reads.
 */
import type { HashPrefix } from '../hash/bucket.js';
import type { CompiledFlag } from './flags.js';
import type { CompiledSegment, SegmentFrame } from './segments.js';

/** A client and the credential (secret) it resolves with. */
export interface CompiledClient {
  /** `clients/<id>` */
  readonly name: string;
  readonly secret: string;
  /** `clients/<id>/credentials/<id>` */
  readonly credential: string;
  /** Environments of the credential; rules restricted to environments need one of these. */
  readonly environments: ReadonlySet<string>;
}

export interface StateSummary {
  readonly accountId: string;
  readonly flags: number;
  readonly archivedFlags: number;
  readonly rules: number;
  readonly segments: number;
  readonly segmentsWithBitsets: number;
  readonly clients: number;
}

export class ResolverState {
  readonly accountId: string;
  readonly flags: ReadonlyMap<string, CompiledFlag>;
  readonly segments: ReadonlyMap<string, CompiledSegment>;
  /** By client secret. */
  readonly clients: ReadonlyMap<string, CompiledClient>;
  /** Hashes `"MegaSalt-" + accountId + "|" + unit` for segment membership. */
  readonly salt: HashPrefix;
  /** Scratch frame for targeting, reused by every (non-reentrant) resolve. */
  readonly frame: SegmentFrame = { context: {}, unit: null, access: null, saltUnit: null, saltBucket: 0, unrecognized: false };
  /** Depth of resolves in progress (above 1 only if a store callback resolves again). */
  busy = 0;
  /** See `LoadOptions.targetingKeyAlias` ("" for none); specialized walks are written with it. */
  targetingKeyAlias = '';
  /** Loaded from the proto-JSON shape, where flags read differently (a flag without `state` is archived). */
  proto = false;
  /** See `LoadOptions.specialize`: how its flags' walks are specialized. */
  specialize: 'hot' | 'all' | 'none' = 'hot';
  private readonly clientFlags = new Map<string, readonly CompiledFlag[]>();

  constructor(
    accountId: string,
    flags: ReadonlyMap<string, CompiledFlag>,
    segments: ReadonlyMap<string, CompiledSegment>,
    clients: ReadonlyMap<string, CompiledClient>,
    salt: HashPrefix,
  ) {
    this.accountId = accountId;
    this.flags = flags;
    this.segments = segments;
    this.clients = clients;
    this.salt = salt;
  }

  /** The client a secret belongs to. */
  client(secret: string): CompiledClient | undefined {
    return this.clients.get(secret);
  }

  /** A flag by name, `flags/x` or `x`. */
  flag(name: string): CompiledFlag | undefined {
    return this.flags.get(name) ?? this.flags.get(`flags/${name}`);
  }

  /** The flags a client can resolve (not archived, listing the client), in state order. */
  flagsOf(client: CompiledClient): readonly CompiledFlag[] {
    let list = this.clientFlags.get(client.name);
    if (list === undefined) {
      list = [...this.flags.values()].filter((f) => !f.archived && f.clients.has(client.name));
      this.clientFlags.set(client.name, list);
    }
    return list;
  }

  /** Counts of what the state holds; compiles every flag not compiled yet (see `CompiledFlag`) to count its rules. */
  summary(): StateSummary {
    let archived = 0;
    let rules = 0;
    for (const f of this.flags.values()) {
      if (f.archived) archived++;
      rules += f.rules.length;
    }
    let withBits = 0;
    for (const s of this.segments.values()) if (s.bitset !== null) withBits++;
    return {
      accountId: this.accountId,
      flags: this.flags.size,
      archivedFlags: archived,
      rules,
      segments: this.segments.size,
      segmentsWithBitsets: withBits,
      clients: this.clients.size,
    };
  }
}
