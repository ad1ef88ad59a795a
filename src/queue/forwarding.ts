import type { Redis } from 'ioredis';
import type { JobModel } from '../model-identity.js';

/*
 * The contract between a running reindex and every ingest worker (docs/REINDEX.md, "Writes during a
 * reindex"): while a reindex of alias A (or of a source index S) runs, it registers itself in Redis
 * under `saesplade:reindex:active:<A or S>`; a worker that lands a batch in A or S reads that record
 * and forwards the batch to the new index's queue (src/ingest/forward.ts). reindex writes the record
 * (src/reindex/state.ts, ReindexStateStore.activate/deactivate); the worker only reads it, so neither
 * imports the other.
 */

/** Prefix of every Redis key of the reindex state. */
export const STATE_PREFIX = 'saesplade:reindex';

/** What a running reindex registers for its alias and each of its source indexes. */
export interface ActiveReindex {
  alias: string;
  target: string;
  queue: string;
  setId: string;
  model: JobModel;
}

export function activeKey(name: string): string {
  return `${STATE_PREFIX}:active:${name}`;
}

/** The reindex registered for `name` (an alias or a source index), if one runs. */
export async function activeReindex(redis: Redis, name: string): Promise<ActiveReindex | undefined> {
  const raw = await redis.get(activeKey(name));
  return raw ? (JSON.parse(raw) as ActiveReindex) : undefined;
}
