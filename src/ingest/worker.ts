import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ingestBatchProcessor } from './job-processor.js';
import type { Config } from '../config.js';
import { createEncoder } from '../encoder/index.js';
import type { Encoder } from '../encoder/types.js';
import { log as defaultLog } from '../log.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../opensearch/client.js';
import { indexSettingsOf, restoreAbandonedRefresh } from '../opensearch/bulk-settings.js';
import { ensureConceptIndex } from '../opensearch/indexes.js';
import { checkRedis, createRedis, isRedisConnectionError, reportRedisError } from '../redis.js';
import { reindexForwarder } from './forward.js';
import { JobSetStore, type IngestBatchJob, type IngestBatchResult, type JobSetStoreOptions } from '../queue/index.js';
import type { BatchContext, BulkIndexOptions } from './batch-processor.js';
import { OutageGate, type OutagePatienceError } from './outage.js';
import { settleFailedJob } from './reconcile.js';
import { serialEncoder } from './serial-encoder.js';
import { DEFAULT_LOCK_DURATION_MS, DEFAULT_STALLED_INTERVAL_MS, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

export interface IngestWorkerOptions {
  config: Config;
  /**
   * Batch jobs one worker process runs at once (default 2). The encoder takes them one at a time;
   * the second job's encoding overlaps the first one's mget/bulk I/O.
   */
  concurrency?: number;
  /** Encoder options when the worker creates its encoder (ignored with `encoder`). */
  encoderOptions?: { batchSize?: number; threads?: number; workers?: number };
  /** Use this encoder (tests, bench) instead of creating one; the worker does not close it. */
  encoder?: Encoder;
  /** Use this OpenSearch client; the worker does not close it. */
  client?: Client;
  /**
   * BullMQ job lock, ms (default 120 000). A batch of 32 documents encodes in seconds on a CPU, but
   * the lock is renewed every lockDuration/2 only while the event loop runs: generous on purpose,
   * since a lock lost to a slow event loop makes another worker redo the batch.
   */
  lockDuration?: number;
  /** How often the worker looks for stalled jobs of dead workers, ms (default 30 000). */
  stalledInterval?: number;
  /** Times a job may stall before it is failed (default 2). */
  maxStalledCount?: number;
  /**
   * How long a successful index/model check is trusted, ms (default 30 000). Writes go to an index
   * or an alias; after a reindex moves the alias to another model's index, a long-running worker
   * with the old model must start refusing within this time instead of writing old vectors there.
   */
  modelCheckTtlMs?: number;
  /**
   * How long a job waits for an unavailable OpenSearch before the worker gives up, ms (default
   * 600 000). While it waits the worker takes no new job; a job never spends an attempt on an
   * outage. Past it, the jobs in hand go back to the queue and `fatal` rejects (src/ingest/outage.ts).
   */
  outagePatienceMs?: number;
  /** Time between probes of an unavailable cluster, ms (default 2000). */
  outageProbeMs?: number;
  /** Options of the bulk requests. */
  bulk?: BulkIndexOptions;
  store?: JobSetStoreOptions;
  log?: Logger;
}

export interface IngestWorkerStats {
  jobs: number;
  failedJobs: number;
  indexed: number;
  skipped: number;
  failed: number;
  /** Summed over jobs: time from asking the encoder to getting vectors (includes waiting for a turn). */
  encodeMs: number;
  /** Summed over jobs: mget + bulk time. */
  indexMs: number;
  /** Time the encoder actually ran (one call at a time), ms. */
  encoderBusyMs: number;
}

export interface IngestWorkerHandle {
  worker: Worker<IngestBatchJob, IngestBatchResult>;
  encoder: Encoder;
  stats(): IngestWorkerStats;
  /** The outage gate: whether the cluster is seen down now, and the outages seen. */
  outage: OutageGate;
  /**
   * Rejects with OutagePatienceError when the worker gave up on an unavailable cluster (its jobs
   * are back in the queue); never resolves. Callers race it against their own wait.
   */
  fatal: Promise<never>;
  /** Waits for the jobs in hand, then releases the queue, encoder and connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a BullMQ worker for ingest batch jobs: the encoder, the OpenSearch client and the Redis
 * connections are created once here and shared by every job (see ./job-processor.ts). The
 * concept index is created (or its model checked) on first use of each index name, and checked
 * again once the previous check is older than `modelCheckTtlMs`. In steps: check the services
 * (connect), load the encoder, build the batch context (modelChecks, forwarding, the outage gate),
 * start the BullMQ worker and watch its events (watchWorker); `close()` stops them in reverse order.
 */
export async function startIngestWorker(opts: IngestWorkerOptions): Promise<IngestWorkerHandle> {
  const { config } = opts;
  const log = opts.log ?? defaultLog;
  const concurrency = opts.concurrency ?? DEFAULT_WORKER_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);

  const { client, ownClient } = await connect(opts);
  const { encoder: baseEncoder, own: ownEncoder } = await loadEncoder(opts, log);
  const redis: Redis = createRedis(config);
  const store = new JobSetStore(redis, opts.store);
  await restoreAbandonedRefresh(client, redis, config.index, log).catch((err: unknown) =>
    log.warn({ index: config.index, err: (err as Error).message }, 'could not check refresh_interval left relaxed'),
  );

  // Writes to an alias or index under reindex are forwarded to the new index (docs/REINDEX.md).
  const forwarder = reindexForwarder(redis, store);
  const encoder = serialEncoder(baseEncoder);
  let rejectFatal!: (e: OutagePatienceError) => void;
  const fatal = new Promise<never>((_, reject) => (rejectFatal = reject));
  fatal.catch(() => {}); // observed by the callers that want it
  // Set once the BullMQ worker exists (the gate only reports after a job ran).
  let bullWorker: Worker<IngestBatchJob, IngestBatchResult> | undefined;
  const outage = new OutageGate({
    client,
    url: config.opensearchUrl,
    ...(opts.outagePatienceMs !== undefined ? { patienceMs: opts.outagePatienceMs } : {}),
    ...(opts.outageProbeMs !== undefined ? { probeIntervalMs: opts.outageProbeMs } : {}),
    onDown: () => bullWorker?.pause(true),
    onUp: () => bullWorker?.resume(),
    onGiveUp: (e) => rejectFatal(e),
    log,
  });
  const ctx: BatchContext = {
    client,
    encoder,
    store,
    ensureIndex: modelChecks({ client, redis, config, model: baseEncoder.model, ttlMs: opts.modelCheckTtlMs ?? 30_000, log }),
    afterBatch: forwarder.afterBatch,
    outage,
    log,
    ...(opts.bulk ? { bulk: opts.bulk } : {}),
  };

  // BullMQ does not close a connection it was given: close() quits it after the worker.
  const workerConnection = createRedis(config);
  const worker = new Worker<IngestBatchJob, IngestBatchResult>(config.queue, ingestBatchProcessor(ctx), {
    connection: workerConnection,
    concurrency,
    lockDuration: opts.lockDuration ?? DEFAULT_LOCK_DURATION_MS,
    stalledInterval: opts.stalledInterval ?? DEFAULT_STALLED_INTERVAL_MS,
    maxStalledCount: opts.maxStalledCount ?? 2,
  });
  bullWorker = worker;
  const stats = watchWorker(worker, { store, client, redisUrl: config.redisUrl, log });
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  return {
    worker,
    encoder: baseEncoder,
    stats: () => ({ ...stats, encoderBusyMs: encoder.busyMs() }),
    outage,
    fatal,
    close() {
      closing ??= (async () => {
        // Jobs waiting for the cluster go back to the queue now instead of holding close().
        outage.close();
        await worker.close();
        await forwarder.close();
        await Promise.allSettled([
          ownEncoder ? baseEncoder.close() : Promise.resolve(),
          ownClient ? client.close() : Promise.resolve(),
          redis.quit(),
          workerConnection.quit(),
        ]);
      })();
      return closing;
    },
  };
}

/**
 * The OpenSearch client, after Redis and OpenSearch answered: a wrong URL or a cluster that is down
 * at start is one clear error, before the model loads and before "ready" (such a worker must not
 * take jobs and fail them).
 */
async function connect(opts: IngestWorkerOptions): Promise<{ client: Client; ownClient: boolean }> {
  const ownClient = opts.client === undefined;
  const client = opts.client ?? createOpenSearchClient(opts.config);
  try {
    await checkRedis(opts.config);
    await checkOpenSearch(client, opts.config.opensearchUrl);
  } catch (err) {
    if (ownClient) await client.close();
    throw err;
  }
  return { client, ownClient };
}

async function loadEncoder(opts: IngestWorkerOptions, log: Logger): Promise<{ encoder: Encoder; own: boolean }> {
  if (opts.encoder) return { encoder: opts.encoder, own: false };
  const e = opts.encoderOptions;
  const encoder = await createEncoder({
    modelDir: opts.config.modelDir,
    device: opts.config.device,
    workers: e?.workers ?? 1,
    ...(e?.threads !== undefined ? { threads: e.threads } : {}),
    ...(e?.batchSize !== undefined ? { batchSize: e.batchSize } : {}),
    log,
  });
  return { encoder, own: true };
}

/**
 * The batch context's `ensureIndex`: creates the index or checks its model, trusted for `ttlMs`
 * (an alias can move to another model's index during a reindex); a failure (cluster down, other
 * model) is not cached, so the next job checks again.
 */
function modelChecks(o: { client: Client; redis: Redis; config: Config; model: Encoder['model']; ttlMs: number; log: Logger }): (index: string) => Promise<void> {
  const ensured = new Map<string, { p: Promise<void>; at: number }>();
  return (index) => {
    const cached = ensured.get(index);
    if (cached && Date.now() - cached.at <= o.ttlMs) return cached.p;
    const entry = { p: ensureConceptIndex(o.client, index, o.model, indexSettingsOf(o.config)).then(() => undefined), at: Date.now() };
    // With each model check: a refresh_interval that a killed relaxed run left behind is put back
    // once its lease ran out. Best effort: it never fails a job.
    void entry.p
      .then(() => restoreAbandonedRefresh(o.client, o.redis, index, o.log))
      .catch((err: unknown) => o.log.warn({ index, err: (err as Error).message }, 'could not check refresh_interval left relaxed'));
    entry.p.catch(() => {
      if (ensured.get(index) === entry) ensured.delete(index);
    });
    ensured.set(index, entry);
    return entry.p;
  };
}

/** Counts what the worker's jobs did and logs their failures, stalls and connection trouble. */
function watchWorker(
  worker: Worker<IngestBatchJob, IngestBatchResult>,
  o: { store: JobSetStore; client: Client; redisUrl: string; log: Logger },
): Omit<IngestWorkerStats, 'encoderBusyMs'> {
  const stats: Omit<IngestWorkerStats, 'encoderBusyMs'> = { jobs: 0, failedJobs: 0, indexed: 0, skipped: 0, failed: 0, encodeMs: 0, indexMs: 0 };
  const { log } = o;
  worker.on('completed', (_job: Job, r: IngestBatchResult) => {
    stats.jobs++;
    stats.indexed += r.indexed;
    stats.skipped += r.skipped;
    stats.failed += r.failed;
    stats.encodeMs += r.encodeMs;
    stats.indexMs += r.indexMs;
  });
  worker.on('failed', (job: Job<IngestBatchJob> | undefined, err: Error) => {
    if (!job) return;
    const final = job.finishedOn !== undefined;
    log[final ? 'error' : 'warn']({ job: job.id, attempt: job.attemptsMade, err: err.message }, final ? 'batch job failed' : 'batch job will be retried');
    if (final) {
      stats.failedJobs++;
      // Normally the processor already counted the batch; this covers failures outside it.
      settleFailedJob(o.store, job, err.message, undefined, o.client).catch((e) => log.error({ err: (e as Error).message }, 'cannot settle failed job'));
    }
  });
  worker.on('error', (err: Error) => {
    // Redis going away: one line per outage (src/redis.ts), not one per reconnection attempt.
    if (isRedisConnectionError(err)) reportRedisError(o.redisUrl, err, log);
    else log.error({ err: err.message }, 'worker error');
  });
  worker.on('stalled', (jobId: string) => log.warn({ job: jobId }, 'stalled job moved back to wait'));
  return stats;
}
