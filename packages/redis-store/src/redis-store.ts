/**
 * Sticky assignments in Redis, shared by a fleet of application servers. One round trip per
 * read batch (a Lua script that reads and renews every key) and per write batch; writes are
 * idempotent so the provider's queue can retry any whose outcome is unknown. The connection
 * is set up for a hot path, per measurements on loopback Redis: a bounded command timeout, no
 * offline queue (a down Redis fails fast instead of buffering), no resending of commands
 * after a reconnect, and a capped reconnect back-off. `ready` lets a new provider wait for the
 * connection before it answers, so a deploy does not serve stored users from the hash.
 */
import type {
  MaterializationKey,
  MaterializationRecord,
  MaterializationStore,
  MaterializationStoreWrite,
} from '@allot/core';
import { Redis, type RedisOptions } from 'ioredis';
import { READ_SCRIPT, WRITE_SCRIPT } from './scripts.js';

export const NINETY_DAYS_S: number = 90 * 24 * 60 * 60;

/**
 * Where the store logs: OpenFeature's `Logger` shape (`console` fits too). The provider hands
 * the store its own logger when the store was given none.
 */
export interface Logger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export interface RedisStoreOptions {
  /**
   * A Redis URL (`redis://host:6379/0`) or ioredis options, for a connection the store opens
   * and closes; or an ioredis client you own (configure it as `redisOptions` does).
   */
  readonly redis?: string | RedisOptions | Redis;
  /** Prefix of every key; default `allot:m:`. */
  readonly keyPrefix?: string;
  /** Entry lifetime since its last read or write; default 90 days. */
  readonly ttlSeconds?: number;
  /**
   * Per-command timeout for a connection the store opens; default 100 ms. A backstop for
   * writes and for reads the provider gave up on: each evaluation's read is bounded by the
   * provider's `sticky.timeoutMs` (25 ms), which must stay below this one. ioredis checks its
   * timeouts before it reads replies already received, so after a busy stretch (a burst at
   * start-up) a timeout close to the provider's fails commands whose answers are waiting.
   */
  readonly commandTimeoutMs?: number;
  /**
   * Called for connection errors (at most once per `errorIntervalMs`) and corrupt entries
   * (`CorruptEntryError`). Default: a warning to `logger`.
   */
  readonly onError?: (error: Error) => void;
  /**
   * Where warnings go when there is no `onError`. Default: the logger of the provider the store
   * is given to (its `logger` option, or the OpenFeature SDK's); nothing before that: the
   * store never writes to the console on its own.
   */
  readonly logger?: Logger;
  /** Least time between two reported connection errors; default 10,000 ms. */
  readonly errorIntervalMs?: number;
}

/** A stored entry that is not what this store writes; read as absent and repaired on the next write. */
export class CorruptEntryError extends Error {
  readonly code = 'CORRUPT_ENTRY' as const;
  readonly key: string;

  constructor(key: string, why: string) {
    super(`sticky-assignment entry ${JSON.stringify(key)} is corrupt (${why}); treated as absent, rewritten on the next assignment`);
    this.name = 'CorruptEntryError';
    this.key = key;
  }
}

/** ioredis options the store uses for connections it opens. */
export function redisOptions(commandTimeoutMs = 100): RedisOptions {
  return {
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    // Reconnect quickly after an outage: 50 ms, 100 ms, … capped at 500 ms, with jitter.
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 500) + Math.floor(Math.random() * 50),
  };
}

type ScriptClient = Redis & {
  allotRead(...args: (string | number)[]): Promise<(string[] | string)[]>;
  allotWrite(...args: (string | number)[]): Promise<number>;
};

export class RedisStore implements MaterializationStore {
  private readonly client: ScriptClient;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly onError: (error: Error) => void;
  private logger: Logger | undefined;
  private readonly ownLogger: boolean;
  private lastErrorAt = -Infinity;
  private lastConnectionError: Error | undefined;

  constructor(options: RedisStoreOptions = {}) {
    const redis = options.redis;
    const timeout = options.commandTimeoutMs ?? 100;
    if (redis instanceof Redis) {
      this.client = redis as ScriptClient;
      this.owned = false;
    } else if (typeof redis === 'string') {
      // ioredis' overloads do not accept its own RedisOptions under exactOptionalPropertyTypes.
      this.client = new Redis(redis, redisOptions(timeout) as never) as ScriptClient;
      this.owned = true;
    } else {
      this.client = new Redis({ host: '127.0.0.1', ...redis, ...redisOptions(timeout) } as never) as ScriptClient;
      this.owned = true;
    }
    this.prefix = options.keyPrefix ?? 'allot:m:';
    this.ttl = options.ttlSeconds ?? NINETY_DAYS_S;
    if (!(Number.isInteger(this.ttl) && this.ttl > 0)) throw new RangeError(`RedisStore ttlSeconds must be a positive integer, got ${this.ttl}`);
    this.logger = options.logger;
    this.ownLogger = options.logger !== undefined;
    const report = options.onError ?? ((error: Error) => this.logger?.warn(`allot: redis store ${this.address}: ${error.message}`));
    this.onError = report;
    const interval = options.errorIntervalMs ?? 10_000;
    // Without an 'error' listener ioredis prints every failed reconnect; report them at a bounded rate.
    this.client.on('error', (error: Error) => {
      this.lastConnectionError = error;
      const now = Date.now();
      if (now - this.lastErrorAt < interval) return;
      this.lastErrorAt = now;
      report(error);
    });
    this.client.on('ready', () => {
      this.lastConnectionError = undefined;
    });
    this.client.defineCommand('allotRead', { lua: READ_SCRIPT });
    this.client.defineCommand('allotWrite', { lua: WRITE_SCRIPT });
  }

  /** The ioredis client (for health checks and tests). */
  get redis(): Redis {
    return this.client;
  }

  /** The provider's logger, used when the store was given no `logger` of its own. */
  setDefaultLogger(logger: Logger): void {
    if (!this.ownLogger) this.logger = logger;
  }

  /**
   * Resolves once the connection is ready for commands (at once if it is). Commands fail
   * fast until then (no offline queue), so a provider waits for this before it answers.
   * Rejects when `signal` aborts, saying why the connection is not up, or when the
   * connection was closed. Connects a client created with `lazyConnect`.
   */
  ready(signal?: AbortSignal): Promise<void> {
    const client = this.client;
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end') return Promise.reject(new Error(`redis store ${this.address}: the connection is closed`));
    if (signal?.aborted === true) return Promise.reject(this.notReady(signal));
    return new Promise((resolve, reject) => {
      const settle = (error: Error | null): void => {
        client.off('ready', onReady);
        client.off('end', onEnd);
        signal?.removeEventListener('abort', onAbort);
        if (error === null) resolve();
        else reject(error);
      };
      const onReady = (): void => {
        settle(null);
      };
      const onEnd = (): void => {
        settle(new Error(`redis store ${this.address}: the connection was closed before it was ready`));
      };
      const onAbort = (): void => {
        settle(this.notReady(signal!));
      };
      client.on('ready', onReady);
      client.on('end', onEnd);
      signal?.addEventListener('abort', onAbort);
      // A client you passed in with `lazyConnect` waits for a first command; commands fail
      // without an offline queue, so connect it here.
      if (client.status === 'wait') client.connect().catch(() => undefined);
    });
  }

  /** Where the store connects, for messages: `127.0.0.1:6379`. */
  get address(): string {
    const { host, port, path } = this.client.options;
    return path !== undefined && path !== '' ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
  }

  /** The Redis key of a (unit, materialization) entry. */
  keyOf(key: MaterializationKey): string {
    // The materialization's length delimits it, so no unit can make two entries collide.
    return `${this.prefix}${key.materialization.length}:${key.materialization}:${key.unit}`;
  }

  async read(keys: readonly MaterializationKey[]): Promise<readonly (MaterializationRecord | null)[]> {
    if (keys.length === 0) return [];
    const redisKeys = keys.map((k) => this.keyOf(k));
    const replies = await this.client.allotRead(redisKeys.length, ...redisKeys, this.ttl);
    return replies.map((reply, i) => this.decode(redisKeys[i]!, reply));
  }

  async write(writes: readonly MaterializationStoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const args: (string | number)[] = [writes.length];
    for (const w of writes) args.push(this.keyOf(w));
    args.push(this.ttl);
    for (const w of writes) args.push(w.rule, w.variant, w.replaces === undefined ? '-' : `=${w.replaces}`);
    await this.client.allotWrite(...args);
  }

  /** Closes a connection the store opened; a client you passed in stays open. */
  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private notReady(signal: AbortSignal): Error {
    const reason: unknown = signal.reason;
    const stopped = reason instanceof Error ? reason.message : 'not ready';
    const connection = this.lastConnectionError?.message ?? `still ${this.client.status}`;
    return new Error(`redis store ${this.address}: ${stopped}; connection: ${connection}`, { cause: this.lastConnectionError });
  }

  private decode(key: string, reply: string[] | string): MaterializationRecord | null {
    if (typeof reply === 'string') {
      this.onError(new CorruptEntryError(key, `a Redis ${reply.slice('corrupt:'.length)}, not a hash`));
      return null;
    }
    if (reply.length === 0) return null;
    let inMaterialization = false;
    const ruleToVariant: Record<string, string> = {};
    for (let i = 0; i < reply.length; i += 2) {
      const field = reply[i]!;
      const value = reply[i + 1]!;
      if (field === 'in') {
        if (value !== '1' && value !== '0') {
          this.onError(new CorruptEntryError(key, `field "in" is ${JSON.stringify(value.slice(0, 40))}`));
          return null;
        }
        inMaterialization = value === '1';
      } else if (field.startsWith('r:')) {
        Object.defineProperty(ruleToVariant, field.slice(2), { value, enumerable: true });
      } // other fields: written by a newer version; ignored
    }
    return { isUnitInMaterialization: inMaterialization, ruleToVariant };
  }
}
