/**
 * Redis connections for BullMQ, made here (BullMQ's ESM build cannot load ioredis itself):
 * every one reconnects forever with a back-off capped at 2 s, so workers and a waiting
 * submitter ride out a Redis restart. Each connection is closed by whoever made it.
 */
import { Redis } from 'ioredis';

export class QueueConnectionError extends Error {
  readonly code = 'QUEUE_UNREACHABLE';
  override readonly name = 'QueueConnectionError';
}

/** Checks a `--queue` URL: `redis://[user:password@]host[:port][/db]` or `rediss://…`. */
export function parseQueueUrl(text: string): URL {
  let url: URL;
  // Messages quote the URL without its password.
  const shown = JSON.stringify(text.replace(/(\/\/[^/@:]*:)[^/@]*@/, '$1***@'));
  try {
    url = new URL(text);
  } catch {
    throw new QueueConnectionError(`${shown} is not a URL: give the Redis server as redis://host:port (or rediss:// for TLS), e.g. redis://127.0.0.1:6379`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new QueueConnectionError(`${shown}: the queue is a Redis server, redis://host:port or rediss://host:port, not ${url.protocol}//`);
  }
  if (url.hostname === '') throw new QueueConnectionError(`${shown} names no host: redis://host:port`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) {
    throw new QueueConnectionError(`${shown}: the path must be a database number (redis://host:port/2), got ${url.pathname}`);
  }
  return url;
}

/** The URL without its password, for messages. */
export function displayUrl(url: URL): string {
  const shown = new URL(url.href);
  if (shown.password !== '') shown.password = '***';
  return shown.href;
}

/** A connection BullMQ can block on (`maxRetriesPerRequest: null`: commands wait out an outage). */
export function connect(url: URL): Redis {
  const redis = new Redis(url.href, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 2_000),
  });
  // Errors surface as failed or waiting commands; an 'error' listener keeps ioredis from logging each retry.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Waits until Redis answers a PING, or throws a QueueConnectionError that says what the
 * connection attempts got: after `timeoutMs`, or as soon as 3 attempts in a row were refused
 * (nothing listens there: waiting longer would only delay the message).
 */
export async function reachable(redis: Redis, url: URL, timeoutMs = 5_000): Promise<void> {
  let last = '';
  let refused = 0;
  let fail: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const problem = (): string => (last === '' ? '' : ` (${last})`);
  const onError = (error: Error & { code?: string }): void => {
    last = error.message;
    refused = error.code === 'ECONNREFUSED' ? refused + 1 : 0;
    if (refused >= 3) fail(new QueueConnectionError(`cannot reach Redis at ${displayUrl(url)}${problem()}: is redis-server running there, and is the URL right?`));
  };
  redis.on('error', onError);
  const timer = setTimeout(() => {
    fail(new QueueConnectionError(`cannot reach Redis at ${displayUrl(url)} within ${timeoutMs / 1000} s${problem()}: is redis-server running there, and is the URL right?`));
  }, timeoutMs);
  try {
    await Promise.race([redis.ping(), failed]);
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}
