import { Redis } from 'ioredis';
import type { Config } from './config.js';
import { describeNetworkError, redactUrl, ServiceUnreachableError } from './errors.js';

const REDIS_HINT = 'start the local Redis with scripts/services.sh start, or set REDIS_URL to your Redis';

/**
 * A Redis connection for BullMQ (which requires `maxRetriesPerRequest: null`: its blocking commands
 * must wait across reconnects instead of failing).
 */
export function createRedis(config: Config): Redis {
  return new Redis(config.redisUrl, { maxRetriesPerRequest: null });
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
