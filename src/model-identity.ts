import { z } from 'zod';

/**
 * Which model a vector belongs to: the one type for it below the pipeline, so that the encoder, the
 * job contract, the reindex records and the index checks compare the same three things. The index
 * `_meta` stores it snake_case (`model_name`, `model_version`, `dictionary_size`: IndexModelMeta in
 * src/opensearch/indexes.ts, which converts).
 */
export interface ModelIdentity {
  name: string;
  version: string;
  dictionarySize: number;
}

/**
 * A model as a job or a reindex record carries it. Jobs queued before 0.2 of the job contract carry
 * only name and version: read both shapes (dictionarySize optional), write the whole identity.
 */
export const JobModelSchema = z.object({
  name: z.string(),
  version: z.string(),
  dictionarySize: z.number().int().positive().optional(),
});
export type JobModel = z.infer<typeof JobModelSchema>;

/** Whether a job's model is `model`: name and version, and the dictionary size when the job has one. */
export function sameJobModel(job: JobModel, model: ModelIdentity): boolean {
  return job.name === model.name && job.version === model.version && (job.dictionarySize === undefined || job.dictionarySize === model.dictionarySize);
}

export function describeModel(m: JobModel): string {
  return `${m.name}@${m.version}${m.dictionarySize !== undefined ? ` (dictionary of ${m.dictionarySize})` : ''}`;
}
