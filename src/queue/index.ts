export {
  INGEST_BATCH_JOB,
  INGEST_JOB_OPTIONS,
  IngestBatchJobSchema,
  batchJobId,
  createIngestQueue,
  type IngestBatchJob,
  type IngestBatchResult,
} from './ingest-job.js';
export {
  JobSetStore,
  newJobSetId,
  type FailedDoc,
  type JobSetCounters,
  type JobSetInfo,
  type JobSetStoreOptions,
} from './job-set-store.js';
export { SourceDocSchema, type SourceDoc } from './source-doc.js';
