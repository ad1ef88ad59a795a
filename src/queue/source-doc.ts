import { z } from 'zod';

/*
 * The document contract of a batch job, below the pipeline: producers (src/ingest/document.ts parses
 * lines into it, reindex builds it from source hits) and the job schema (./ingest-job.ts) share it.
 * Pure: zod only.
 */

/** A validated document as it travels in a job: the caller's id and the index's text fields. */
export const SourceDocSchema = z.object({
  id: z.string().min(1),
  /** Present when two or more text fields are configured: the first of them. */
  title: z.string().optional(),
  text: z.string(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** Where the document came from, e.g. `corpus.jsonl:17`, for the failed-documents record. */
  source: z.string(),
  /**
   * Other fields stored as they are beside the product's own (reindex carries a source index's
   * other fields this way). Not encoded, not part of the content hash.
   */
  fields: z.record(z.string(), z.unknown()).optional(),
});
export type SourceDoc = z.infer<typeof SourceDocSchema>;
