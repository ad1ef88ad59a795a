/**
 * Metrics of `saesplade worker --metrics-port`: the same registry and names as the server's
 * (src/server/metrics.ts): documents by outcome, jobs, queue counts, encode durations and busy
 * encoder threads, the process defaults; served by a bare HTTP listener at /metrics.
 */
import type { Config } from '../config.js';
import { createEncoder, WorkerPoolEncoder } from '../encoder/index.js';
import type { Encoder } from '../encoder/types.js';
import type { IngestWorkerHandle } from '../ingest/worker.js';
import { modelIdentity } from '../ingest/run-ingest.js';
import type { Logger } from 'pino';
import { createIngestQueue } from '../queue/index.js';
import { createRedis } from '../redis.js';
import { EncoderGate } from './encoder-gate.js';
import { createMetrics, gateObservers, observeEncoderGate, observeIngestWorker, observeQueue, type Metrics } from './metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

export interface WorkerMetrics {
  metrics: Metrics;
  server: MetricsServer;
  /**
   * The worker's encoder, created here so that its calls are measured (busy threads, durations):
   * pass it to startIngestWorker as `encoder`; close() closes it.
   */
  encoder: Encoder;
  /** Counts the jobs and documents of the worker. */
  attach(handle: Pick<IngestWorkerHandle, 'worker'>): void;
  close(): Promise<void>;
}

export async function startWorkerMetrics(opts: {
  config: Config;
  port: number;
  host?: string;
  encoderOptions?: { batchSize?: number; threads?: number; workers?: number };
  log?: Logger;
}): Promise<WorkerMetrics> {
  const { config } = opts;
  const metrics = createMetrics({ model: modelIdentity(config.modelDir), role: 'worker' });
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  observeQueue(metrics, queue);
  const e = opts.encoderOptions ?? {};
  const base = await createEncoder({
    modelDir: config.modelDir,
    device: config.device,
    workers: e.workers ?? 1,
    ...(e.threads !== undefined ? { threads: e.threads } : {}),
    ...(e.batchSize !== undefined ? { batchSize: e.batchSize } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  // The worker takes its encoder one call at a time (serialEncoder); the gate only measures.
  const gate = new EncoderGate(base, {
    concurrency: base instanceof WorkerPoolEncoder ? Math.max(1, base.workers) : 1,
    maxQueue: 0,
    textsPerThread: e.batchSize ?? 8,
    ...gateObservers(metrics),
  });
  observeEncoderGate(metrics, gate);
  let server: MetricsServer;
  try {
    server = await startMetricsServer(metrics.registry, opts.port, opts.host ?? '127.0.0.1');
  } catch (err) {
    await Promise.allSettled([base.close(), queue.close().then(() => redis.quit())]);
    throw err;
  }
  return {
    metrics,
    server,
    encoder: gate.encoder('background'),
    attach: (handle) => observeIngestWorker(metrics, handle.worker),
    async close() {
      await server.close();
      gate.close();
      await Promise.allSettled([base.close(), queue.close().then(() => redis.quit())]);
    },
  };
}
