import type { JobModel } from '../model-identity.js';
import type { Readable } from 'node:stream';
import type { Queue } from 'bullmq';
import {
  INGEST_BATCH_JOB,
  batchJobId,
  newJobSetId,
  type FailedDoc,
  type IngestBatchJob,
  type IngestBatchResult,
  type JobSetStore,
} from '../queue/index.js';
import { resolveParseOptions, type DocumentParseOptions, type SourceDoc } from './document.js';
import { openSource } from './source-open.js';
import { readSource } from './source-reader.js';
import { SeenIds } from './seen-ids.js';
import { DEFAULT_JOB_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES } from '../defaults.js';

export interface ProduceOptions {
  /** A JSON Lines path, `-` for stdin, or a readable stream. */
  source: string | Readable;
  /** Name used in `file:line` locations (default: the path, `stdin` for `-`). */
  sourceName?: string;
  index: string;
  queue: Queue<IngestBatchJob, IngestBatchResult>;
  store: JobSetStore;
  /** Field names, format and size limit; see DocumentParseOptions. */
  parse?: Partial<DocumentParseOptions>;
  /** Documents per batch job (default 32). */
  batchSize?: number;
  /**
   * Bytes per batch job (default 4 MiB, the documents as JSON): a batch closes before a document
   * that would take it past this, as the bulk helper's `flushBytes` does, so memory is bounded by
   * bytes, not by 32 × --max-doc-bytes. A document bigger than this travels alone.
   */
  maxBatchBytes?: number;
  /** Batch jobs per `addBulk` round trip (default 16; fewer when they pass 4 × maxBatchBytes). */
  jobsPerAdd?: number;
  /**
   * Pause reading while more than this many jobs of the queue wait for a worker (default 1000),
   * so a huge file is not copied into Redis much faster than workers drain it. 0: no limit.
   */
  maxWaitingJobs?: number;
  /** The model the producer expects workers to use (recorded in each job). */
  model?: JobModel;
  /** Use this job set id instead of a fresh one. */
  setId?: string;
  /** Called after each `addBulk` with the running totals. */
  onProgress?: (p: ProduceProgress) => void;
}

/** Default bytes per batch job: under the bulk helper's 5 MB flushBytes, so a batch is one bulk request. */
export { DEFAULT_MAX_BATCH_BYTES } from '../defaults.js';

export interface ProduceProgress {
  setId: string;
  read: number;
  queued: number;
  rejected: number;
  jobs: number;
}

export type ProduceResult = ProduceProgress;

/**
 * Reads a source, validates each line, and queues the valid documents in batch jobs of one job
 * set; invalid lines go to the job set's failed record with their location and are never queued.
 * Streaming end to end: at most `jobsPerAdd` batches are held in memory, each `addBulk` is awaited
 * before reading on (Redis paces the reader), and a deep queue pauses reading (`maxWaitingJobs`).
 */
export async function produceJobSet(opts: ProduceOptions): Promise<ProduceResult> {
  const batchSize = opts.batchSize ?? DEFAULT_JOB_BATCH_SIZE;
  const jobsPerAdd = opts.jobsPerAdd ?? 16;
  const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  if (!Number.isInteger(maxBatchBytes) || maxBatchBytes < 1) throw new Error(`max batch bytes must be a positive integer, got ${maxBatchBytes}`);
  // What the producer holds before an addBulk: a few batches' worth of bytes at most.
  const maxPendingBytes = 4 * maxBatchBytes;
  const maxWaiting = opts.maxWaitingJobs ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(jobsPerAdd) || jobsPerAdd < 1) throw new Error(`jobsPerAdd must be a positive integer, got ${jobsPerAdd}`);
  const parse = resolveParseOptions(opts.parse);
  const setId = opts.setId ?? newJobSetId();
  const sourceName = opts.sourceName ?? (typeof opts.source === 'string' ? (opts.source === '-' ? 'stdin' : opts.source) : 'stream');
  const { store, queue } = opts;

  // A missing file, a directory or binary input fails here, before the job set exists.
  const input = await openSource(opts.source, sourceName);
  await store.create({ id: setId, source: sourceName, index: opts.index, queue: queue.name });

  const totals: ProduceProgress = { setId, read: 0, queued: 0, rejected: 0, jobs: 0 };
  let pendingJobs: { name: string; data: IngestBatchJob; opts: { jobId: string } }[] = [];
  let pendingRejected: FailedDoc[] = [];
  let pendingRead = 0;
  let pendingQueued = 0;
  let batch: SourceDoc[] = [];
  let batchBytes = 0;
  let pendingBytes = 0;

  const closeBatch = () => {
    if (batch.length === 0) return;
    const n = totals.jobs + pendingJobs.length;
    const data: IngestBatchJob = { setId, index: opts.index, batch: n, docs: batch };
    if (opts.model) data.model = opts.model;
    pendingJobs.push({ name: INGEST_BATCH_JOB, data, opts: { jobId: batchJobId(setId, n) } });
    pendingQueued += batch.length;
    pendingBytes += batchBytes;
    batch = [];
    batchBytes = 0;
  };

  const flush = async () => {
    if (maxWaiting > 0 && pendingJobs.length > 0) await waitForRoom(queue, maxWaiting);
    // Counters first would let a fast worker finish "all jobs" before they are counted: add the
    // jobs, then count them; the job set is not done before producer_done anyway.
    if (pendingJobs.length > 0) await queue.addBulk(pendingJobs);
    await store.addProduced(setId, { read: pendingRead, queued: pendingQueued, jobs: pendingJobs.length, rejected: pendingRejected });
    totals.read += pendingRead;
    totals.queued += pendingQueued;
    totals.jobs += pendingJobs.length;
    totals.rejected += pendingRejected.length;
    pendingJobs = [];
    pendingRejected = [];
    pendingRead = 0;
    pendingQueued = 0;
    pendingBytes = 0;
    opts.onProgress?.({ ...totals });
  };

  // One id once per source: a later line with an id already read is refused, so the count of
  // documents is the count of ids and the first line is the one indexed (bounded memory: seen-ids.ts).
  const seen = new SeenIds();
  const reject = (location: string, code: string, reason: string, id?: string) => {
    const f: FailedDoc = { source: location, code, reason, at: new Date().toISOString() };
    if (id !== undefined) f.id = id;
    pendingRejected.push(f);
  };

  for await (const item of readSource(input, parse, sourceName)) {
    pendingRead++;
    const first = item.ok ? seen.firstLineOf(item.doc.id, item.line) : undefined;
    if (item.ok && first !== undefined) {
      reject(item.location, 'duplicate_id', `id ${JSON.stringify(item.doc.id)} was already read on line ${first} of ${sourceName}; only the first line with an id is indexed`, item.doc.id);
    } else if (item.ok) {
      const bytes = Buffer.byteLength(JSON.stringify(item.doc));
      if (batch.length > 0 && batchBytes + bytes > maxBatchBytes) closeBatch();
      batch.push(item.doc);
      batchBytes += bytes;
      if (batch.length >= batchSize || batchBytes >= maxBatchBytes) closeBatch();
    } else {
      reject(item.location, item.code, item.reason, item.id);
    }
    if (pendingJobs.length >= jobsPerAdd || pendingBytes >= maxPendingBytes || pendingRejected.length >= 1000) await flush();
  }
  closeBatch();
  await flush();
  await store.markProducerDone(setId);
  return totals;
}

/** Waits (polling once a second) until fewer than `max` jobs of the queue are waiting. */
export async function waitForRoom(queue: Queue<IngestBatchJob, IngestBatchResult>, max: number): Promise<void> {
  for (;;) {
    const waiting = await queue.getWaitingCount();
    if (waiting < max) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
