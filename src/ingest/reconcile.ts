import type { Job, Queue } from 'bullmq';
import { IngestBatchJobSchema, type IngestBatchJob, type IngestBatchResult, type JobSetStore } from '../queue/index.js';
import { failedDoc } from './batch-processor.js';

/**
 * Counts a finally-failed batch job whose outcome the processor could not count itself (a job
 * failed by BullMQ after stalling too often, or with invalid data): its documents, except those an
 * earlier run reported indexed, become failed documents with the job's failure reason. Idempotent.
 */
export async function settleFailedJob(store: JobSetStore, job: Job<IngestBatchJob>, reason: string): Promise<boolean> {
  const data = IngestBatchJobSchema.safeParse(job.data);
  if (!data.success || !job.id) return false;
  const { setId, docs } = data.data;
  if (await store.isCommitted(setId, job.id)) return false;
  const before = new Set(indexedInProgress(job.progress));
  const failed = docs.filter((d) => !before.has(d.id)).map((d) => failedDoc(d, 'job_failed', reason));
  return store.commitBatch(setId, job.id, { indexed: docs.length - failed.length, skipped: 0, failed });
}

/**
 * Settles the failed jobs of a job set still in the queue's failed list (normally none). Called by
 * `status` and `ingest --wait`, so that a job failed while no worker was listening (e.g. stalled
 * beyond maxStalledCount) still ends the job set instead of leaving it pending forever.
 */
export async function reconcileJobSet(queue: Queue<IngestBatchJob, IngestBatchResult>, store: JobSetStore, setId: string): Promise<number> {
  let settled = 0;
  const pageSize = 200;
  for (let start = 0; ; start += pageSize) {
    const jobs = await queue.getFailed(start, start + pageSize - 1);
    for (const job of jobs) {
      if (job?.id?.startsWith(`${setId}-`) && (await settleFailedJob(store, job, job.failedReason ?? 'job failed'))) settled++;
    }
    if (jobs.length < pageSize) return settled;
  }
}

/** Ids that earlier runs of a job reported as indexed (kept in the job's progress). */
export function indexedInProgress(progress: unknown): string[] {
  const p = progress as { indexed?: unknown } | undefined;
  return Array.isArray(p?.indexed) ? p.indexed.filter((x): x is string => typeof x === 'string') : [];
}
