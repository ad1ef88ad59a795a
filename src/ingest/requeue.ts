import type { JobModel } from '../model-identity.js';
import type { Queue } from 'bullmq';
import { INGEST_BATCH_JOB, batchJobId, newJobSetId, type FailedDoc, type IngestBatchJob, type IngestBatchResult, type JobSetStore } from '../queue/index.js';
import { SourceDocSchema, type SourceDoc } from './document.js';
import { DEFAULT_MAX_BATCH_BYTES } from './producer.js';
import { DEFAULT_JOB_BATCH_SIZE } from '../defaults.js';

export interface RequeueOptions {
  store: JobSetStore;
  /** The queue to add the jobs to (normally the failed set's own queue). */
  queue: Queue<IngestBatchJob, IngestBatchResult>;
  /** The job set whose failed documents are queued again. */
  setId: string;
  /** The model the new jobs expect (the configured one). */
  model?: JobModel;
  /** Documents per batch job (default 32) and bytes per batch job (default 4 MiB), as ingest. */
  batchSize?: number;
  maxBatchBytes?: number;
}

export interface RequeueResult {
  /** The new job set that holds the requeued documents (follow it with `status`). */
  setId: string;
  from: string;
  index: string;
  queue: string;
  /** Failed records read. */
  failed: number;
  /** Documents queued again, in `jobs` batch jobs. */
  requeued: number;
  jobs: number;
  /** Records without the document (lines rejected at entry, records of an older version): fix the source. */
  notRequeueable: number;
}

/**
 * `failed <set> --requeue`: queues the documents of a set's failed records again, as a new job set
 * on the same index and queue (its source is `requeue:<set>`, each document keeps its `file:line`).
 * Only records that kept their document can be requeued: failures after entry (index rejected,
 * unavailable, batch or job failed). Lines rejected at entry (bad JSON, no id, ...) are counted as
 * not requeueable. A document listed twice (failed in two runs) is queued once. Writes are
 * idempotent: a document that made it meanwhile is skipped as unchanged.
 */
export async function requeueFailed(opts: RequeueOptions): Promise<RequeueResult> {
  const { store, queue } = opts;
  const info = await store.get(opts.setId);
  if (!info) throw new Error(`job set ${opts.setId} not found (it expires 7 days after its last update)`);
  const batchSize = opts.batchSize ?? DEFAULT_JOB_BATCH_SIZE;
  const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  const setId = newJobSetId();
  await store.create({ id: setId, source: `requeue:${opts.setId}`, index: info.index, queue: queue.name });
  const result: RequeueResult = { setId, from: opts.setId, index: info.index, queue: queue.name, failed: 0, requeued: 0, jobs: 0, notRequeueable: 0 };
  const seen = new Set<string>();
  let batch: SourceDoc[] = [];
  let bytes = 0;
  let pending: { name: string; data: IngestBatchJob; opts: { jobId: string } }[] = [];
  const close = () => {
    if (batch.length === 0) return;
    const n = result.jobs + pending.length;
    const data: IngestBatchJob = { setId, index: info.index, batch: n, docs: batch };
    if (opts.model) data.model = opts.model;
    pending.push({ name: INGEST_BATCH_JOB, data, opts: { jobId: batchJobId(setId, n) } });
    batch = [];
    bytes = 0;
  };
  const flush = async () => {
    if (pending.length === 0) return;
    await queue.addBulk(pending);
    const docs = pending.reduce((n, j) => n + j.data.docs.length, 0);
    await store.addProduced(setId, { read: docs, queued: docs, jobs: pending.length, rejected: [] });
    result.jobs += pending.length;
    result.requeued += docs;
    pending = [];
  };
  for await (const f of store.iterateFailures(opts.setId)) {
    result.failed++;
    const doc = requeueableDoc(f);
    if (!doc) {
      result.notRequeueable++;
      continue;
    }
    if (seen.has(doc.id)) continue;
    seen.add(doc.id);
    const size = Buffer.byteLength(JSON.stringify(doc));
    if (batch.length > 0 && bytes + size > maxBatchBytes) close();
    batch.push(doc);
    bytes += size;
    if (batch.length >= batchSize || bytes >= maxBatchBytes) close();
    if (pending.length >= 16) await flush();
  }
  close();
  await flush();
  await store.markProducerDone(setId);
  return result;
}

/** The document a failed record kept, if it is one that can be queued again. */
export function requeueableDoc(f: FailedDoc): SourceDoc | undefined {
  const p = SourceDocSchema.safeParse(f.doc);
  return p.success ? p.data : undefined;
}
