/**
 * The server's own settings (`saesplade serve`), beside the shared Config (services, model, index,
 * queue): one validated object, from environment variables, then flags. Errors name the flag or
 * the variable, like src/config.ts. API keys come from the environment or a file only, never from a
 * flag (a command line is visible to every user of the machine in `ps`).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config.js';

/** Shortest accepted API key: a guessable key is no key. */
export const MIN_API_KEY_LENGTH = 16;

const boolish = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : ['1', 'true', 'yes', 'on'].includes(v.toLowerCase())));

const int = (min: number, max: number) => z.coerce.number().int(`expected an integer from ${min} to ${max}`).min(min, `expected an integer from ${min} to ${max}`).max(max, `expected an integer from ${min} to ${max}`);

const list = z.union([z.array(z.string()), z.string()]).transform((v) =>
  (Array.isArray(v) ? v : v.split(','))
    .map((s) => s.trim())
    .filter(Boolean),
);

export const ServerOptionsSchema = z.object({
  /** Interface to listen on: loopback unless told otherwise. */
  host: z.string().min(1).default('127.0.0.1'),
  port: int(0, 65535).default(8080),
  /** Bearer keys for the write and admin routes (and, with searchAuth, for search and encode). */
  apiKeys: list
    .default([])
    .superRefine((keys, ctx) => {
      for (const [i, k] of keys.entries()) {
        if (k.length < MIN_API_KEY_LENGTH) ctx.addIssue({ code: 'custom', message: `key ${i + 1} is shorter than ${MIN_API_KEY_LENGTH} characters` });
        else if (!/^[\x21-\x7e]+$/.test(k)) ctx.addIssue({ code: 'custom', message: `key ${i + 1} has a character outside printable ASCII (or a space)` });
      }
    }),
  /** Require a key for /v1/search and /v1/encode too (default: open, like the CLI on the same host). */
  searchAuth: boolish.default(false),
  /** Largest request body, bytes, for every route but /v1/documents (413 above). */
  bodyLimit: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  /** Largest /v1/documents body, bytes. */
  documentsBodyLimit: int(1024, 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Encoder worker threads (each with its own ONNX session). */
  encoderWorkers: int(1, 64).default(2),
  /** onnxruntime threads in total, shared by the encoder workers (default: all cores). */
  encoderThreads: int(1, 256).optional(),
  /**
   * Encode calls that may wait for an encoder thread; one more is answered 503 with Retry-After.
   * 0: none waits (only as many calls as there are threads run).
   */
  encoderQueue: int(0, 100_000).default(64),
  /** Origins allowed by CORS (`*` for any); empty: CORS off. */
  corsOrigins: list.default([]),
  /** POST /v1/documents answers 503 while more batch jobs than this wait in the queue. 0: no limit. */
  maxWaitingJobs: int(0, 10_000_000).default(1000),
  /** Run an ingest worker in the server process (this many batch jobs at once); 0: none. */
  withWorker: int(0, 256).default(0),
  /** Seconds in-flight requests get to finish on SIGTERM before connections are cut. */
  shutdownGraceS: int(0, 3600).default(30),
  /** Port of the OpenSearch-compatible endpoint (docs/COMPAT.md), on the same interface; unset: off. */
  compatPort: int(0, 65535).optional(),
  /** Document fields the compatible endpoint encodes, in order (first = title): those `ingest` stores. */
  compatTextFields: list.default(['title', 'text']).refine((l) => l.length > 0, 'names no field'),
  /** Largest body the compatible endpoint reads (bulk, documents, searches): OpenSearch's own default, 100 MiB. */
  compatBodyLimit: int(1024, 2 * 1024 * 1024 * 1024).default(100 * 1024 * 1024),
});

export type ServerOptions = z.infer<typeof ServerOptionsSchema>;

export const SERVER_ENV_VARS: Record<keyof ServerOptions, string | undefined> = {
  host: 'SAESPLADE_HOST',
  port: 'SAESPLADE_PORT',
  apiKeys: 'SAESPLADE_API_KEYS',
  searchAuth: 'SAESPLADE_SEARCH_AUTH',
  bodyLimit: 'SAESPLADE_BODY_LIMIT',
  documentsBodyLimit: 'SAESPLADE_DOCUMENTS_BODY_LIMIT',
  encoderWorkers: 'SAESPLADE_ENCODER_WORKERS',
  encoderThreads: 'SAESPLADE_ENCODER_THREADS',
  encoderQueue: 'SAESPLADE_ENCODER_QUEUE',
  corsOrigins: 'SAESPLADE_CORS_ORIGINS',
  maxWaitingJobs: 'SAESPLADE_MAX_WAITING_JOBS',
  withWorker: undefined,
  shutdownGraceS: 'SAESPLADE_SHUTDOWN_GRACE',
  compatPort: 'SAESPLADE_COMPAT_PORT',
  compatTextFields: 'SAESPLADE_COMPAT_TEXT_FIELDS',
  compatBodyLimit: 'SAESPLADE_COMPAT_BODY_LIMIT',
};

export const SERVER_FLAGS: Partial<Record<keyof ServerOptions, string>> = {
  host: '--host',
  port: '--port',
  searchAuth: '--search-auth',
  bodyLimit: '--body-limit',
  documentsBodyLimit: '--documents-body-limit',
  encoderWorkers: '--encoder-workers',
  encoderThreads: '--threads',
  encoderQueue: '--encoder-queue',
  corsOrigins: '--cors-origin',
  maxWaitingJobs: '--max-waiting-jobs',
  withWorker: '--with-worker',
  shutdownGraceS: '--shutdown-grace',
  compatPort: '--compat-port',
  compatTextFields: '--compat-text-fields',
  compatBodyLimit: '--compat-body-limit',
};

/** Keys of a file: one a line; blank lines and `#` comments ignored. */
export function readKeyFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`apiKeys (SAESPLADE_API_KEYS_FILE): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * The server options from the environment and flags (flags win). Keys: SAESPLADE_API_KEYS
 * (comma-separated) plus the lines of SAESPLADE_API_KEYS_FILE (or `--api-keys-file`).
 * Throws ConfigError naming the setting, never echoing a key.
 */
export function loadServerOptions(
  flags: Partial<Record<keyof ServerOptions, unknown>> & { apiKeysFile?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
): ServerOptions {
  const raw: Record<string, unknown> = {};
  const fromFlag = new Set<string>();
  for (const [key, envName] of Object.entries(SERVER_ENV_VARS) as [keyof ServerOptions, string | undefined][]) {
    const v = envName ? env[envName] : undefined;
    if (v !== undefined && v !== '') raw[key] = v;
    if (flags[key] !== undefined) {
      raw[key] = flags[key];
      fromFlag.add(key);
    }
  }
  const keyFile = flags.apiKeysFile ?? env.SAESPLADE_API_KEYS_FILE;
  if (keyFile) {
    const own = raw.apiKeys === undefined ? [] : Array.isArray(raw.apiKeys) ? (raw.apiKeys as string[]) : String(raw.apiKeys).split(',');
    raw.apiKeys = [...own, ...readKeyFile(keyFile)];
  }
  const parsed = ServerOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof ServerOptions;
      const envName = key === 'apiKeys' ? 'SAESPLADE_API_KEYS / SAESPLADE_API_KEYS_FILE' : SERVER_ENV_VARS[key];
      const where = fromFlag.has(key) && SERVER_FLAGS[key] ? `${SERVER_FLAGS[key]}${envName ? `; env ${envName}` : ''}` : (envName ?? SERVER_FLAGS[key] ?? '?');
      return `${key} (${where}): ${i.message}`;
    });
    throw new ConfigError('invalid server configuration: ' + problems.join('; '));
  }
  return parsed.data;
}
