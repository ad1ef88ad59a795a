/** Queued ingestion: producers (source → validated batch jobs), the batch worker, progress. */
export {
  DEFAULT_PARSE_OPTIONS,
  MAX_ID_BYTES,
  SourceDocSchema,
  encoderInput,
  parseDocumentLine,
  resolveParseOptions,
  validateDocument,
  type DocumentParseOptions,
  type ParseResult,
  type RejectCode,
  type SourceDoc,
  type SourceFormat,
} from './document.js';
export { canonicalJson, contentHash } from './content-hash.js';
export { IngestError, PermanentIngestError, TransientIngestError, classifyError } from './errors.js';
export { readSource, type SourceItem } from './source-reader.js';
export { produceJobSet, type ProduceOptions, type ProduceProgress, type ProduceResult } from './producer.js';
export { runIngestBatch, indexedDocument, type BatchAttempt, type BatchContext, type BulkIndexOptions, type IndexedDocument } from './batch-processor.js';
export { startIngestWorker, type IngestWorkerHandle, type IngestWorkerOptions, type IngestWorkerStats } from './worker.js';
export { reconcileJobSet, settleFailedJob } from './reconcile.js';
export { formatSummary, JobSetStalledError, progressReporter, summarize, waitForJobSet, type IngestSummary, type WaitOptions } from './progress.js';
export { OutageGate, OutageGateClosedError, OutagePatienceError, isClusterUnavailable, type OutageGateOptions } from './outage.js';
export { ingest, modelIdentity, type IngestOptions, type IngestRunResult } from './run-ingest.js';
export { ensureIngestTarget, inspectIngestTarget, IndexUpgradeRequiredError, upgradeCommand, type IngestTarget } from './target.js';
export { serialEncoder } from './serial-encoder.js';
export { cliInvocation, configEnv, spawnWorker, type WorkerProcess } from './spawn-worker.js';
export { benchIngest, type BenchIngestOptions, type BenchIngestResult } from './bench.js';
export { requeueFailed, requeueableDoc, type RequeueOptions, type RequeueResult } from './requeue.js';
