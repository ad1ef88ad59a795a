import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { readManifest } from '../encoder/index.js';
import type { ModelIdentity } from '../encoder/types.js';
import { log as defaultLog } from '../log.js';
import { indexSettingsOf, relaxRefreshInterval, restoreAbandonedRefresh, type RelaxedRefresh } from '../opensearch/bulk-settings.js';
import { checkOpenSearch, createOpenSearchClient } from '../opensearch/client.js';
import { checkRedis, createRedis } from '../redis.js';
import { describeNetworkError } from '../errors.js';
import { JobSetStore, createIngestQueue, type JobSetInfo } from '../queue/index.js';
import type { DocumentParseOptions } from './document.js';
import { produceJobSet, type ProduceResult } from './producer.js';
import { openSource } from './source-open.js';
import { progressReporter, summarize, waitForJobSet, type IngestSummary } from './progress.js';
import { ensureIngestTarget } from './target.js';
import { startIngestWorker, type IngestWorkerHandle, type IngestWorkerOptions } from './worker.js';
import { OutagePatienceError } from './outage.js';

export interface IngestOptions {
  config: Config;
  /** A JSON Lines path, `-` for stdin, or a stream. */
  source: string | Readable;
  parse?: Partial<DocumentParseOptions>;
  /** Documents per batch job (default 32). */
  batchSize?: number;
  /** Bytes per batch job (default 4 MiB; see ProduceOptions.maxBatchBytes). */
  maxBatchBytes?: number;
  /** Wait until every document is indexed, skipped or failed (default false). */
  wait?: boolean;
  /** Run a worker in this process for the duration of the ingest (implies `wait`). */
  withWorker?: boolean | Omit<IngestWorkerOptions, 'config'>;
  /** Show progress while waiting (default: on stderr, a bar on a TTY). */
  progress?: boolean;
  /** Refresh the index once everything is done, so the documents are searchable (default true when waiting). */
  refresh?: boolean;
  /** Give up waiting when no counter moved for this long, ms (waitForJobSet's default: 30 minutes). */
  stallTimeoutMs?: number;
  log?: Logger;
}

export interface IngestRunResult {
  setId: string;
  produced: ProduceResult;
  /** Present when waited for. */
  final?: JobSetInfo;
  summary?: IngestSummary;
}

/** The model identity recorded in the index, read from the package manifest (no ONNX session needed). */
export function modelIdentity(modelDir: string): ModelIdentity {
  const m = readManifest(modelDir);
  return { name: m.name, version: m.version, dictionarySize: m.dictionary_size };
}

/**
 * `saesplade ingest`: checks the services; when the index name does not exist, creates the concept
 * index `<name>-<model>-<version>` behind the alias `<name>` (src/ingest/target.ts); refuses a name
 * built with another model (IndexUpgradeRequiredError, naming the `reindex` command that upgrades
 * it); queues the source as a job set, and optionally waits for it with a progress bar and an
 * in-process worker. Returns the job set id (and the final counters when waited for).
 */
export async function ingest(opts: IngestOptions): Promise<IngestRunResult> {
  const { config } = opts;
  const log = opts.log ?? defaultLog;
  const wait = Boolean(opts.wait || opts.withWorker);
  const model = modelIdentity(config.modelDir);
  // The source first: a missing file, a directory or binary input is refused before an index or a
  // job set exists (src/ingest/source-open.ts).
  const sourceName = typeof opts.source === 'string' ? (opts.source === '-' ? 'stdin' : opts.source) : 'stream';
  const source = await openSource(opts.source, sourceName);
  // Then the services, with fail-fast connections and clear messages, before the retrying ones exist.
  const client = createOpenSearchClient(config);
  try {
    await checkRedis(config);
    await checkOpenSearch(client, config.opensearchUrl);
    await ensureIngestTarget(client, config.index, model, config.modelDir, indexSettingsOf(config));
  } catch (err) {
    source.destroy();
    await client.close();
    throw err;
  }
  let worker: IngestWorkerHandle | undefined;
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  const store = new JobSetStore(redis);
  let relaxed: RelaxedRefresh | undefined;
  try {
    // An interval a killed relaxed run left behind is put back first (this run may relax it again).
    await restoreAbandonedRefresh(client, redis, config.index, log);
    // Bulk-load refresh interval: only when this run waits, so it knows when to put it back.
    if (config.bulkRefreshInterval !== undefined) {
      if (wait) relaxed = await relaxRefreshInterval(client, redis, config.index, config.bulkRefreshInterval, log);
      else log.warn('--bulk-refresh-interval (SAESPLADE_BULK_REFRESH_INTERVAL) applies only with --wait or --with-worker: ignored');
    }

    if (opts.withWorker) {
      const wopts = typeof opts.withWorker === 'object' ? opts.withWorker : {};
      worker = await startIngestWorker({ ...wopts, config, client, log });
    }
    const started = Date.now();
    const produced = await produceJobSet({
      source,
      sourceName,
      index: config.index,
      queue,
      store,
      model,
      ...(opts.parse ? { parse: opts.parse } : {}),
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
      ...(opts.maxBatchBytes !== undefined ? { maxBatchBytes: opts.maxBatchBytes } : {}),
    });
    if (!wait) return { setId: produced.setId, produced };

    const reporter = opts.progress === false ? undefined : progressReporter();
    let final: JobSetInfo;
    try {
      final = await waitForJobSet({
        store,
        queue,
        setId: produced.setId,
        client,
        onUpdate: (i) => reporter?.update(i),
        ...(worker ? { failOn: worker.fatal } : {}),
        ...(opts.stallTimeoutMs !== undefined ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
      });
    } catch (err) {
      throw notFinished(err, produced.setId);
    } finally {
      reporter?.stop();
    }
    const summary: IngestSummary = summarize(final, Date.now() - started);
    await relaxed?.restore();
    if (opts.refresh ?? true) {
      // The documents are in; a refresh that fails (cluster gone since) only delays searchability.
      await client.indices.refresh({ index: config.index }).catch((err: unknown) => {
        summary.refreshError = `could not refresh ${config.index} (${describeNetworkError(err).what}); the documents are indexed and searchable after the index's next refresh`;
      });
    }
    return { setId: produced.setId, produced, final, summary };
  } finally {
    await relaxed?.restore().catch((err: unknown) => log.error({ err: (err as Error).message }, 'could not restore refresh_interval; the next ingest, worker or doctor on the index restores it'));
    await worker?.close();
    await queue.close();
    await Promise.allSettled([redis.quit(), client.close()]);
  }
}

/** A wait that ended without the set done: the message says that the set stays queued and how to follow it. */
function notFinished(err: unknown, setId: string): unknown {
  if (err instanceof OutagePatienceError) {
    err.message += ` Job set ${setId} keeps its remaining documents queued: follow it with saesplade status ${setId}.`;
  }
  return err;
}
