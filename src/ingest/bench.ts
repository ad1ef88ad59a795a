import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import { createEncoder } from '../encoder/index.js';
import { machineInfo, type MachineInfo } from '../machine.js';
import { createOpenSearchClient } from '../opensearch/client.js';
import { ensureConceptIndex } from '../opensearch/indexes.js';
import { createRedis } from '../redis.js';
import { JobSetStore, createIngestQueue } from '../queue/index.js';
import { encoderInput, resolveParseOptions, type SourceDoc } from './document.js';
import { produceJobSet } from './producer.js';
import { waitForJobSet } from './progress.js';
import { modelIdentity } from './run-ingest.js';
import { readSource } from './source-reader.js';
import { deleteIndexSafely } from '../opensearch/safety.js';
import { spawnWorker } from './spawn-worker.js';
import { DEFAULT_JOB_BATCH_SIZE, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

export interface BenchIngestOptions {
  config: Config;
  /** BEIR corpus.jsonl (or any JSON Lines source the `auto` format reads). */
  corpus: string;
  /** Documents (the first N valid lines). */
  limit: number;
  /** Documents per batch job (default 32). */
  batchSize?: number;
  /** Worker concurrency (default 2). */
  concurrency?: number;
  /** Texts per encoder forward pass (default: the encoder's). */
  encoderBatchSize?: number;
  threads?: number;
  /** Keep the bench index (default: deleted). */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface BenchIngestResult {
  docs: number;
  /** Encoder alone on the same texts, in job-sized calls (docs/s). */
  encoderDocsPerS: number;
  /** File → queue → worker → searchable after refresh (docs/s), worker already warm. */
  endToEndDocsPerS: number;
  /** endToEnd / encoder: 1.0 means queueing and indexing are fully hidden behind encoding. */
  ratio: number;
  encoderS: number;
  endToEndS: number;
  workerStartS: number;
  workerPeakRssMiB: number | null;
  workerEncodeS: number | null;
  workerIndexS: number | null;
  /** Time the worker's encoder actually ran during the end-to-end run (compare with encoderS). */
  workerEncoderBusyS: number | null;
  batchSize: number;
  concurrency: number;
  index: string;
  /** CPU model and vector extensions, memory, Node, OS (src/machine.ts): figures differ by machine. */
  machine: MachineInfo;
}

/**
 * `bench ingest`: in one run, (1) the raw encoder throughput on the texts, (2) the end-to-end
 * throughput of the same documents through a file, the queue, a worker child process (started and
 * warmed up before the clock starts) and the index, until a count after refresh sees them all. The
 * ratio says how much queueing and indexing cost on top of encoding. The worker reports its peak RSS.
 */
export async function benchIngest(opts: BenchIngestOptions): Promise<BenchIngestResult> {
  const say = opts.log ?? (() => {});
  const batchSize = opts.batchSize ?? DEFAULT_JOB_BATCH_SIZE;
  const concurrency = opts.concurrency ?? DEFAULT_WORKER_CONCURRENCY;
  const docs: SourceDoc[] = [];
  const lines: string[] = [];
  for await (const item of readSource(opts.corpus, resolveParseOptions({}))) {
    if (!item.ok) continue;
    docs.push(item.doc);
    lines.push(JSON.stringify({ id: item.doc.id, title: item.doc.title, text: item.doc.text }));
    if (docs.length >= opts.limit) break;
  }
  if (docs.length === 0) throw new Error(`no valid documents in ${opts.corpus}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-bench-'));
  const file = path.join(dir, 'docs.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');

  const runId = `${Date.now().toString(36)}`;
  const config: Config = { ...opts.config, index: `bench-ingest-${runId}`, queue: `bench-ingest-${runId}` };
  const client = createOpenSearchClient(config);
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  const store = new JobSetStore(redis);
  let setId: string | undefined;
  let worker: ReturnType<typeof spawnWorker> | undefined;
  try {
    // 1. The encoder alone, set up as the worker sets it up, fed job-sized calls.
    say(`encoder alone: ${docs.length} documents`);
    const encoder = await createEncoder({
      modelDir: config.modelDir,
      device: config.device,
      workers: 1,
      ...(opts.threads ? { threads: opts.threads } : {}),
      ...(opts.encoderBatchSize ? { batchSize: opts.encoderBatchSize } : {}),
    });
    const texts = docs.map(encoderInput);
    await encoder.encode(texts.slice(0, Math.min(8, texts.length)), 'document'); // warm-up
    const tEnc = performance.now();
    for (let i = 0; i < texts.length; i += batchSize) await encoder.encode(texts.slice(i, i + batchSize), 'document');
    const encoderS = (performance.now() - tEnc) / 1000;
    await encoder.close();

    // 2. End to end, with a warm worker child process.
    await ensureConceptIndex(client, config.index, modelIdentity(config.modelDir));
    const tStart = performance.now();
    const args = ['--concurrency', String(concurrency)];
    if (opts.encoderBatchSize) args.push('--batch-size', String(opts.encoderBatchSize));
    if (opts.threads) args.push('--threads', String(opts.threads));
    worker = spawnWorker(config, args);
    await worker.ready;
    const workerStartS = (performance.now() - tStart) / 1000;
    say(`end to end: worker ready in ${workerStartS.toFixed(1)} s; ingesting`);

    const t0 = performance.now();
    const produced = await produceJobSet({ source: file, index: config.index, queue, store, batchSize, model: encoder.model });
    setId = produced.setId;
    const final = await waitForJobSet({ store, queue, setId, intervalMs: 100 });
    await client.indices.refresh({ index: config.index });
    const count = Number(((await client.count({ index: config.index })).body as any).count);
    const endToEndS = (performance.now() - t0) / 1000;
    if (count !== docs.length - countDuplicates(docs) || final.failed > 0) {
      throw new Error(`bench ingest: expected ${docs.length} documents in ${config.index}, found ${count} (${final.failed} failed)`);
    }

    worker.child.kill('SIGTERM');
    const summary = await worker.closed;
    worker = undefined;
    const encoderDocsPerS = docs.length / encoderS;
    const endToEndDocsPerS = docs.length / endToEndS;
    return {
      docs: docs.length,
      encoderDocsPerS: round(encoderDocsPerS),
      endToEndDocsPerS: round(endToEndDocsPerS),
      ratio: Math.round((endToEndDocsPerS / encoderDocsPerS) * 1000) / 1000,
      encoderS: round(encoderS),
      endToEndS: round(endToEndS),
      workerStartS: round(workerStartS),
      workerPeakRssMiB: summary?.maxRssBytes ? round(summary.maxRssBytes / 2 ** 20) : null,
      workerEncodeS: summary ? round(summary.encodeMs / 1000) : null,
      workerIndexS: summary ? round(summary.indexMs / 1000) : null,
      workerEncoderBusyS: summary ? round(summary.encoderBusyMs / 1000) : null,
      batchSize,
      concurrency,
      index: config.index,
      machine: machineInfo(),
    };
  } finally {
    if (worker) {
      worker.child.kill('SIGKILL');
      await worker.closed;
    }
    if (setId) await store.delete(setId);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    if (!opts.keep) await deleteIndexSafely(client, config.index, 'bench ingest cleanup').catch(() => undefined);
    await Promise.allSettled([redis.quit(), client.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function countDuplicates(docs: SourceDoc[]): number {
  return docs.length - new Set(docs.map((d) => d.id)).size;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
