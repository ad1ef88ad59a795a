import type { Redis } from 'ioredis';
import { redactUrl, SaespladeError } from '../errors.js';
import { useLogLevel } from '../log.js';
import { JobSetStore, type JobSetInfo } from '../queue/index.js';
import { checkRedis, createRedis } from '../redis.js';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';

/**
 * Options every service-touching command shares. Each maps to one config key; values given here
 * win over the environment variables listed in the README.
 */
export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('--opensearch-url <url>', 'OpenSearch URL (env OPENSEARCH_URL, default http://127.0.0.1:9200)')
    .option('--redis-url <url>', 'Redis URL for the job queue (env REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--model <dir>', 'model package directory (env SAESPLADE_MODEL, default: the bundled models/default)')
    .option('-i, --index <name>', 'index or alias (env SAESPLADE_INDEX, default concepts-docs)')
    .option('--queue <name>', 'BullMQ queue name (env SAESPLADE_QUEUE, default saesplade-ingest)')
    .option('--device <device>', 'encoder device: cpu, cuda or cuda:N (env SAESPLADE_DEVICE, default cpu)');
}

/**
 * Settings of the indexes a command creates and writes in bulk (ingest, reindex): shards, replicas
 * and the refresh interval while it writes. Each maps to a config key (README, Configuration).
 */
export function withIndexSettingsOptions(cmd: Command): Command {
  return cmd
    .option('--shards <n>', 'primary shards of an index this command creates (env SAESPLADE_SHARDS, default 1)')
    .option('--replicas <n>', 'replicas of an index this command creates (env SAESPLADE_REPLICAS, default 0; 1 or more on a real cluster)')
    .option(
      '--bulk-refresh-interval <time>',
      'refresh_interval while this command writes, restored after it: -1 (none) or e.g. 30s (env SAESPLADE_BULK_REFRESH_INTERVAL; default: unchanged)',
    );
}

/** Resolves the validated config from a command's parsed options. */
export function configFrom(opts: Record<string, unknown>): Config {
  const config = loadConfig({
    opensearchUrl: opts.opensearchUrl,
    redisUrl: opts.redisUrl,
    modelDir: opts.model,
    index: opts.index,
    queue: opts.queue,
    device: opts.device,
    shards: opts.shards,
    replicas: opts.replicas,
    bulkRefreshInterval: opts.bulkRefreshInterval,
  });
  useLogLevel(config.logLevel);
  return config;
}

/** Prints a result: JSON for scripts, or the human rendering. */
export function emit(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
}

export class JobSetNotFoundError extends SaespladeError {
  override name = 'JobSetNotFoundError';
}

/**
 * Runs `fn` on a job set read from Redis (`status`, `failed`): Redis down or a wrong URL is one line
 * naming it and exit 69 instead of reconnecting forever; an unknown id is JobSetNotFoundError.
 */
export async function withJobSet<T>(config: Config, setId: string, fn: (a: { redis: Redis; store: JobSetStore; info: JobSetInfo }) => Promise<T>): Promise<T> {
  await checkRedis(config);
  const redis = createRedis(config);
  try {
    const store = new JobSetStore(redis);
    const info = await store.get(setId);
    if (!info) throw new JobSetNotFoundError(`job set ${setId} not found in ${redactUrl(config.redisUrl)} (it expires 7 days after its last update)`);
    return await fn({ redis, store, info });
  } finally {
    await redis.quit();
  }
}
