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

/** Resolves the validated config from a command's parsed options. */
export function configFrom(opts: Record<string, unknown>): Config {
  return loadConfig({
    opensearchUrl: opts.opensearchUrl,
    redisUrl: opts.redisUrl,
    modelDir: opts.model,
    index: opts.index,
    queue: opts.queue,
    device: opts.device,
  });
}

/** Prints a result: JSON for scripts, or the human rendering. */
export function emit(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
}
