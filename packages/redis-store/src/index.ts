/**
 * @allot/redis-store: sticky assignments (Confidence materializations) in Redis, for a fleet
 * of servers running `@allot/openfeature-provider`.
 *
 * ```ts
 * const provider = new AllotProvider({ source, stickyStore: new RedisStore({ redis: 'redis://127.0.0.1:6379' }) });
 * ```
 */
export { RedisStore, CorruptEntryError, redisOptions, NINETY_DAYS_S, type RedisStoreOptions } from './redis-store.js';
export { READ_SCRIPT, WRITE_SCRIPT } from './scripts.js';
