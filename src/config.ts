import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { INDEX_NAME_RULE, indexNameProblem, QUEUE_NAME_RULE, queueNameProblem } from './names.js';
import { SaespladeError } from './errors.js';

/** Root of the installed package (where models/ and mappings/ live), whether run from src/ or dist/src/. */
export const PACKAGE_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'default');

const boolish = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : ['1', 'true', 'yes', 'on'].includes(v.toLowerCase())));

/** A string checked by a name rule (src/names.ts); the message says what is wrong and the rule. */
function named(kind: string, problemOf: (s: string) => string | undefined, rule: string) {
  return z.string().superRefine((v, ctx) => {
    const problem = problemOf(v);
    if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a valid ${kind} name (${problem}); ${rule}` });
  });
}

/** A whole number from plain decimal text (as src/commands/options.ts reads numbers) within a range. */
function intSetting(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
}

/** OpenSearch time units for `refresh_interval`, or -1 (no refresh). */
export const REFRESH_INTERVAL_RULE = '-1 (no refresh) or a time such as 30s, 500ms, 1m';

/**
 * The one validated configuration. Every value has an environment variable (documented in the
 * README) and most have a CLI flag; flags win over the environment, the environment over defaults.
 */
export const ConfigSchema = z.object({
  opensearchUrl: z.string().url().default('http://127.0.0.1:9200'),
  opensearchUsername: z.string().optional(),
  opensearchPassword: z.string().optional(),
  /** Path to a PEM CA certificate for a cluster whose TLS certificate is not publicly trusted. */
  opensearchCaCert: z.string().optional(),
  /** Skip TLS certificate verification (development clusters only). */
  opensearchInsecure: boolish.default(false),
  redisUrl: z.string().default('redis://127.0.0.1:6379'),
  modelDir: z.string().default(DEFAULT_MODEL_DIR),
  /** An index or alias: OpenSearch's name rules (src/names.ts), so no wildcard, list or `_all`. */
  index: named('index or alias', indexNameProblem, INDEX_NAME_RULE).default('concepts-docs'),
  /** A BullMQ queue: no `:` (BullMQ's key separator) nor Redis key-pattern characters. */
  queue: named('queue', queueNameProblem, QUEUE_NAME_RULE).default('saesplade-ingest'),
  /** `cpu`, `cuda` or `cuda:N`. */
  device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, 'expected cpu, cuda or cuda:N').default('cpu'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Primary shards of the indexes saesplade creates (default 1: a single dev node). */
  shards: intSetting(1, 1024).default(1),
  /** Replicas of the indexes saesplade creates (default 0: a single dev node has nowhere to put one). */
  replicas: intSetting(0, 1024).default(0),
  /**
   * `refresh_interval` while an ingest (with --wait / --with-worker) or a reindex writes, restored
   * after it (OpenSearch's bulk-load advice); unset = the index's own interval is left alone.
   */
  bulkRefreshInterval: z
    .string()
    .regex(/^(-1|\d+(d|h|m|s|ms|micros|nanos))$/, `expected ${REFRESH_INTERVAL_RULE}`)
    .optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variable for each config key. */
export const ENV_VARS: Record<keyof Config, string> = {
  opensearchUrl: 'OPENSEARCH_URL',
  opensearchUsername: 'OPENSEARCH_USERNAME',
  opensearchPassword: 'OPENSEARCH_PASSWORD',
  opensearchCaCert: 'OPENSEARCH_CA_CERT',
  opensearchInsecure: 'OPENSEARCH_INSECURE',
  redisUrl: 'REDIS_URL',
  modelDir: 'SAESPLADE_MODEL',
  index: 'SAESPLADE_INDEX',
  queue: 'SAESPLADE_QUEUE',
  device: 'SAESPLADE_DEVICE',
  logLevel: 'LOG_LEVEL',
  shards: 'SAESPLADE_SHARDS',
  replicas: 'SAESPLADE_REPLICAS',
  bulkRefreshInterval: 'SAESPLADE_BULK_REFRESH_INTERVAL',
};

/** The CLI flag of each config key that has one (named in errors when the value came from it). */
export const CONFIG_FLAGS: Partial<Record<keyof Config, string>> = {
  opensearchUrl: '--opensearch-url',
  redisUrl: '--redis-url',
  modelDir: '--model',
  index: '--index',
  queue: '--queue',
  device: '--device',
  shards: '--shards',
  replicas: '--replicas',
  bulkRefreshInterval: '--bulk-refresh-interval',
};

export class ConfigError extends SaespladeError {
  override name = 'ConfigError';
}

/**
 * Builds the config from the environment and (optionally) CLI flags; throws ConfigError naming the
 * bad setting where its value came from (`index (--index; env SAESPLADE_INDEX): ...` for a flag,
 * `index (SAESPLADE_INDEX): ...` for the environment), on one line.
 */
export function loadConfig(flags: Partial<Record<keyof Config, unknown>> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  const fromFlag = new Set<keyof Config>();
  for (const [key, envName] of Object.entries(ENV_VARS) as [keyof Config, string][]) {
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') raw[key] = fromEnv;
    if (flags[key] !== undefined) {
      raw[key] = flags[key];
      fromFlag.add(key);
    }
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof Config;
      const where = fromFlag.has(key) && CONFIG_FLAGS[key] ? `${CONFIG_FLAGS[key]}; env ${ENV_VARS[key]}` : (ENV_VARS[key] ?? '?');
      return `${key} (${where}): ${i.message}`;
    });
    throw new ConfigError('invalid configuration: ' + problems.join('; '));
  }
  return parsed.data;
}
