import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { log } from './log.js';
import { describeNetworkError, redactUrl, ServiceUnreachableError } from './errors.js';

const REDIS_HINT = 'start the local Redis with scripts/services.sh start, or set REDIS_URL to your Redis';

/**
 * A Redis connection for BullMQ (which requires `maxRetriesPerRequest: null`: its blocking commands
 * must wait across reconnects instead of failing).
 */
export function createRedis(config: Config): Redis {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  watchRedis(redis, config.redisUrl);
  return redis;
}

/** Per Redis URL: since when it is seen unreachable (undefined: reachable), and when it came back. */
const outages = new Map<string, { since?: number; backAt?: number }>();

/**
 * Says once, in one line, that Redis went away (URL redacted, what failed) and once that it is back,
 * however many connections, clients and reconnection attempts see it: ioredis reconnects on its
 * own, and without a listener it (and BullMQ's queues, through console.error) printed a multi-line
 * stack per attempt. Errors that are not about the connection are logged as they come.
 */
export function isRedisConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; name?: string } | undefined;
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest/i.test(
    `${e?.code ?? ''} ${e?.message ?? String(err)} ${e?.name ?? ''}`,
  );
}

export function reportRedisError(url: string, err: unknown, logger: Logger = log): void {
  if (!isRedisConnectionError(err)) {
    logger.error({ err: (err as Error)?.message ?? String(err) }, 'redis error');
    return;
  }
  const key = redactUrl(url);
  const o = outages.get(key) ?? {};
  if (o.since !== undefined) return;
  // A connection that reconnects right after another one did is the same outage.
  if (o.backAt !== undefined && Date.now() - o.backAt < 5000) return;
  outages.set(key, { since: Date.now() });
  logger.warn({ redis: key }, `Redis at ${key} is unreachable (${describeNetworkError(err).what}): waiting for it, reconnecting`);
}

/** `redis://host:port` of a connection (for messages: no credentials). */
export function redisUrlOf(redis: unknown): string {
  const o = (redis as { options?: { host?: string; port?: number; tls?: unknown } } | undefined)?.options;
  return o?.host ? `${o.tls ? 'rediss' : 'redis'}://${o.host}:${o.port ?? 6379}` : 'redis';
}

function reportRedisReady(url: string, logger: Logger = log): void {
  const key = redactUrl(url);
  const o = outages.get(key);
  if (o?.since === undefined) return;
  outages.set(key, { backAt: Date.now() });
  logger.warn({ redis: key, downS: Math.round((Date.now() - o.since) / 100) / 10 }, `Redis at ${key} answers again after ${Math.round((Date.now() - o.since) / 1000)} s`);
}

/** Attaches the one-line outage reporting to a connection (and keeps ioredis from printing stacks). */
export function watchRedis(redis: Redis, url: string, logger: Logger = log): Redis {
  redis.on('error', (err: unknown) => reportRedisError(url, err, logger));
  redis.on('ready', () => reportRedisReady(url, logger));
  return redis;
}

/**
 * Connects with a short timeout, PINGs and disconnects. Fails fast (no reconnect loop) with a
 * ServiceUnreachableError that names the URL, what failed and what to try.
 */
export async function checkRedis(config: Config, timeoutMs = 3000): Promise<{ version: string }> {
  const url = config.redisUrl;
  let lastError: unknown;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', (err: unknown) => {
    lastError = err;
  });
  try {
    await redis.connect();
    const pong = await redis.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    const info = await redis.info('server');
    return { version: /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown' };
  } catch (err) {
    const cause = lastError ?? err;
    const msg = (cause as Error)?.message ?? String(cause);
    let what: string;
    let hint: string | undefined;
    if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
      what = `authentication failed (${msg})`;
      hint = 'put the user and password in REDIS_URL (redis://user:password@host:port)';
    } else {
      ({ what, hint } = describeNetworkError(cause));
    }
    throw new ServiceUnreachableError(
      'redis',
      url,
      `Redis at ${redactUrl(url)} is not usable: ${what}. Try: ${hint ? hint + '; or ' : ''}${REDIS_HINT}.`,
      { cause },
    );
  } finally {
    redis.disconnect();
  }
}
