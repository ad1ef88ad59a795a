/**
 * What the routes share: the validated settings, the long-lived clients and the encoder gate. Built
 * once by startServer (serve.ts) or by a test, handed to buildApp (app.ts).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Encoder, ModelIdentity } from '../encoder/types.js';
import type { Client } from '../opensearch/client.js';
import type { IngestBatchJob, IngestBatchResult, JobSetStore } from '../queue/index.js';
import type { ApiKeys } from './auth.js';
import type { EncoderGate } from './encoder-gate.js';
import type { Metrics } from './metrics.js';
import type { ServerOptions } from './options.js';

export interface ServerContext {
  config: Config;
  options: ServerOptions;
  client: Client;
  /** The connection of the queue and the job-set store (BullMQ settings: it waits across reconnects). */
  redis: Redis;
  queue: Queue<IngestBatchJob, IngestBatchResult>;
  store: JobSetStore;
  gate: EncoderGate;
  /** The encoder as searches and /v1/encode see it: through the gate, bounded. */
  encoder: Encoder;
  model: ModelIdentity;
  metrics: Metrics;
  apiKeys: ApiKeys;
  /** Removes URL passwords, configured credentials and API keys from a message. */
  redact: (text: string) => string;
  log: Logger;
  /** Readiness checks (the routes call them; tests may replace them). */
  checks: ReadinessChecks;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
  version?: string;
  model?: string;
}

export interface ReadinessChecks {
  opensearch(): Promise<CheckResult>;
  redis(): Promise<CheckResult>;
  model(): Promise<CheckResult>;
}
