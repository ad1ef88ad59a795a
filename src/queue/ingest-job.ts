import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { redisUrlOf, reportRedisError } from '../redis.js';
import { JobModelSchema } from '../model-identity.js';
import { SourceDocSchema } from './source-doc.js';

/** BullMQ job name of a batch of documents to encode and index. */
export const INGEST_BATCH_JOB = 'ingest-batch';

/**
 * The ingest job contract: a batch of validated documents, the target index, the model the
 * producer expects (a worker with another model refuses the job) and the job set it belongs to.
 */
export const IngestBatchJobSchema = z.object({
  setId: z.string().min(1),
  index: z.string().min(1),
  /** 0-based batch number within the job set. */
  batch: z.number().int().nonnegative(),
  /** The producer's model (src/model-identity.ts); older jobs carry name and version only. */
  model: JobModelSchema.optional(),
  docs: z.array(SourceDocSchema).min(1),
  /**
   * Create-only (reindex copy jobs): a document already in the target index is left alone (counted
   * as skipped, not encoded) and documents are written with the bulk `create` action, so a copy
   * read from an older snapshot never overwrites a newer write that reached the index first.
   */
  createOnly: z.boolean().optional(),
});
export type IngestBatchJob = z.infer<typeof IngestBatchJobSchema>;

/** What a batch job returns (kept on the completed job). */
export interface IngestBatchResult {
  indexed: number;
  skipped: number;
  failed: number;
  encodeMs: number;
  indexMs: number;
}

/**
 * Default job options: 5 attempts with exponential back-off from 2 s (2, 4, 8, 16 s) for transient
 * failures; completed jobs are trimmed (the job set's counters are the record), failed ones kept
 * for a week so `failed` and BullMQ dashboards can show them.
 */
export const INGEST_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Job id of a batch: deterministic, so re-adding the same batch of a job set is a no-op. */
export function batchJobId(setId: string, batch: number): string {
  return `${setId}-${batch}`;
}

export function createIngestQueue(name: string, connection: ConnectionOptions): Queue<IngestBatchJob, IngestBatchResult> {
  const queue = new Queue<IngestBatchJob, IngestBatchResult>(name, { connection, defaultJobOptions: INGEST_JOB_OPTIONS });
  // Without a listener BullMQ prints each connection error's stack (console.error): one line per outage instead.
  queue.on('error', (err: unknown) => reportRedisError(redisUrlOf(connection), err));
  return queue;
}
