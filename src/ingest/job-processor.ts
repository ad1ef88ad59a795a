/**
 * BullMQ processor of `ingest-batch` jobs: a batch of validated documents to encode and index.
 * Thin adapter between BullMQ and the batch logic: checks the job data, tells ./batch-processor.ts how this
 * run relates to earlier ones, and maps a permanent failure to UnrecoverableError (no retries).
 * Transient failures are rethrown as they are, so BullMQ retries with the job's back-off. A job that
 * waited for an unavailable cluster past the outage patience, or while the worker closes, is put
 * back in the queue as it was (no attempt spent) with BullMQ's WaitingError.
 */
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { z } from 'zod';
import { runIngestBatch, type BatchContext } from './batch-processor.js';
import { PermanentIngestError } from './errors.js';
import { OutageGateClosedError, OutagePatienceError } from './outage.js';
import { indexedInProgress, sentInProgress } from './reconcile.js';
import { IngestBatchJobSchema, type IngestBatchJob, type IngestBatchResult } from '../queue/index.js';

export function ingestBatchProcessor(ctx: BatchContext) {
  return async function processIngestBatch(job: Job<IngestBatchJob, IngestBatchResult>, token?: string): Promise<IngestBatchResult> {
    const data = IngestBatchJobSchema.safeParse(job.data);
    if (!data.success) throw new UnrecoverableError(`invalid ingest-batch job data: ${z.prettifyError(data.error)}`);
    // The job's progress keeps what earlier runs did: `indexed` (counted before a transient
    // failure) and `sent` (written, maybe not counted: a run killed between its bulk write and its count).
    const progress = { indexed: indexedInProgress(job.progress), sent: sentInProgress(job.progress) };
    try {
      return await runIngestBatch(ctx, data.data, {
        jobId: job.id!,
        final: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
        indexedBefore: new Set(progress.indexed),
        sentBefore: new Set(progress.sent),
        saveIndexed: (ids) => job.updateProgress({ ...progress, indexed: (progress.indexed = ids) }),
        saveSent: (ids) => job.updateProgress({ ...progress, sent: (progress.sent = ids) }),
      });
    } catch (err) {
      if (err instanceof PermanentIngestError) throw new UnrecoverableError(err.message);
      if (err instanceof OutagePatienceError || err instanceof OutageGateClosedError) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw err;
    }
  };
}
