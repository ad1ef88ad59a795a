/**
 * The defaults that both the CLI (commander's option defaults, the help text) and the library
 * (when an option is left out) use, in one place, so that the two cannot drift. Values only: no
 * imports, no I/O.
 */

/** Documents per ingest batch job (ingest, eval, bench ingest, failed --requeue). */
export const DEFAULT_JOB_BATCH_SIZE = 32;
/** Bytes per batch job at most: under the bulk helper's 5 MB flushBytes, so a batch is one bulk request. */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Lines (documents) longer than this many UTF-8 bytes are rejected before parsing. */
export const DEFAULT_MAX_DOC_BYTES = 1024 * 1024;
/** Batch jobs a worker runs at once (worker, ingest --with-worker, eval, reindex, bench ingest). */
export const DEFAULT_WORKER_CONCURRENCY = 2;
/** BullMQ job lock, ms: a job whose lock expires is redone by another worker. */
export const DEFAULT_LOCK_DURATION_MS = 120_000;
/** How often a worker looks for the jobs of dead workers, ms. */
export const DEFAULT_STALLED_INTERVAL_MS = 30_000;
/** Seconds a worker waits for an unavailable OpenSearch before it stops (exit 69). */
export const DEFAULT_OUTAGE_PATIENCE_S = 600;
/** Source fields encoded (and searched by BM25), in order; the first of several is the title. */
export const DEFAULT_TEXT_FIELDS: readonly string[] = ['title', 'text'];
/** Reciprocal rank fusion constant (Cormack et al. 2009). */
export const DEFAULT_RRF_K = 60;
/** OpenSearch's default `indices.query.bool.max_clause_count` (Lucene counts leaf clauses of the whole query). */
export const DEFAULT_MAX_CLAUSES = 1024;
