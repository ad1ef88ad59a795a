import type { Job, Queue } from 'bullmq';
import { IngestBatchJobSchema, type FailedDoc, type IngestBatchJob, type IngestBatchResult, type JobSetStore } from '../queue/index.js';
import type { Client } from '../opensearch/client.js';
import { canonicalJson, contentHash } from './content-hash.js';
import { failedDoc } from './batch-processor.js';

/**
 * Counts a finally-failed batch job whose outcome the processor could not count itself (a job
 * failed by BullMQ after stalling too often, or with invalid data): its documents, except those an
 * earlier run reported indexed, become failed documents with the job's failure reason. Idempotent.
 *
 * A job whose data does not pass the schema (an older or newer producer, a hand-edited job) is
 * settled too, as far as its data can be read: its set from `setId` in the data (or `setIdHint`,
 * the set being reconciled), each readable document as failed with code `invalid_job`, or one
 * `invalid_job` record for the job when none is readable. Before, such a job was never counted and
 * its set never done.
 */
/** How often, and how far apart, a failed job's sent-but-missing documents are looked for again. */
const SENT_GRACE_CHECKS = 30;
const SENT_GRACE_MS = 1000;

export async function settleFailedJob(store: JobSetStore, job: Job<IngestBatchJob>, reason: string, setIdHint?: string, client?: Client): Promise<boolean> {
  if (!job.id) return false;
  const data = IngestBatchJobSchema.safeParse(job.data);
  if (data.success) {
    const { setId, docs } = data.data;
    if (await store.isCommitted(setId, job.id)) return false;
    const before = new Set(indexedInProgress(job.progress));
    // With the cluster at hand (a worker, ingest --wait, reindex, status), a job failed after its
    // runs were killed (stalled too often) counts what its killed runs wrote as indexed and what
    // was already there as skipped: only the documents not in the index are failed.
    const sent = new Set(sentInProgress(job.progress));
    let found = client ? await inIndex(client, data.data, sent).catch(() => undefined) : undefined;
    // A run killed with its bulk request in flight: the cluster goes on with the request after the
    // client died, so documents it had sent can land a moment after the job was failed as stalled.
    // Look again for a while before calling them failed (CI saw 4 of 240 land after the first look, and
    // again after 10 s on cores loaded by a training run beside the tests: 30 s now; only this rare path waits).
    for (let i = 0; client && found && i < SENT_GRACE_CHECKS && docs.some((d) => sent.has(d.id) && !found!.has(d.id)); i++) {
      await new Promise((r) => setTimeout(r, SENT_GRACE_MS));
      found = (await inIndex(client, data.data, sent).catch(() => undefined)) ?? found;
    }
    let indexed = 0;
    let skipped = 0;
    const failed: FailedDoc[] = [];
    for (const d of docs) {
      const f = found?.get(d.id);
      if (before.has(d.id) || f === 'written') indexed++;
      else if (f === 'unchanged') skipped++;
      else failed.push(failedDoc(d, 'job_failed', reason));
    }
    return store.commitBatch(setId, job.id, { indexed, skipped, failed });
  }
  const raw = (job.data ?? {}) as { setId?: unknown; docs?: unknown };
  const setId = typeof raw.setId === 'string' && raw.setId.length > 0 ? raw.setId : setIdHint;
  // Only a set that exists is counted in (a made-up setId must not create a half set).
  if (!setId || !(await store.get(setId)) || (await store.isCommitted(setId, job.id))) return false;
  const at = new Date().toISOString();
  const why = `invalid job data (${reason})`;
  const docs = Array.isArray(raw.docs) ? (raw.docs as unknown[]) : [];
  const failed: FailedDoc[] = docs.map((d, i) => {
    const o = (d ?? {}) as { id?: unknown; source?: unknown };
    const f: FailedDoc = { source: typeof o.source === 'string' ? o.source : `job ${job.id} document ${i + 1}`, code: 'invalid_job', reason: why, at };
    if (typeof o.id === 'string' || typeof o.id === 'number') f.id = String(o.id);
    return f;
  });
  if (failed.length === 0) failed.push({ source: `job ${job.id}`, code: 'invalid_job', reason: `${why}; its documents cannot be read`, at });
  return store.commitBatch(setId, job.id, { indexed: 0, skipped: 0, failed });
}

/**
 * Settles the failed jobs of a job set still in the queue's failed list (normally none). Called by
 * `status` and `ingest --wait`, so that a job failed while no worker was listening (e.g. stalled
 * beyond maxStalledCount) still ends the job set instead of leaving it pending forever.
 */
export async function reconcileJobSet(queue: Queue<IngestBatchJob, IngestBatchResult>, store: JobSetStore, setId: string, client?: Client): Promise<number> {
  let settled = 0;
  const pageSize = 200;
  for (let start = 0; ; start += pageSize) {
    const jobs = await queue.getFailed(start, start + pageSize - 1);
    for (const job of jobs) {
      if (job?.id?.startsWith(`${setId}-`) && (await settleFailedJob(store, job, job.failedReason ?? 'job failed', setId, client))) settled++;
    }
    if (jobs.length < pageSize) return settled;
  }
}

/**
 * Which documents of a job are in the index as the job would have written them (same content hash
 * and metadata; any stored copy for a create-only job): `written` when a run of this job sent them,
 * `unchanged` when they were there already. Needs the job's model (producers record it).
 */
async function inIndex(client: Client, job: IngestBatchJob, sent: ReadonlySet<string>): Promise<Map<string, 'written' | 'unchanged'>> {
  const out = new Map<string, 'written' | 'unchanged'>();
  if (!job.model && !job.createOnly) return out;
  const res = await client.mget({ index: job.index, body: { ids: job.docs.map((d) => d.id) }, _source_includes: ['content_hash', 'metadata'] } as any, { requestTimeout: 5000, maxRetries: 0 } as any);
  const stored = new Map<string, { hash?: string; metadata: string }>();
  for (const d of (res.body as any).docs ?? []) if (d.found) stored.set(d._id, { hash: d._source?.content_hash, metadata: canonicalJson(d._source?.metadata ?? null) });
  for (const d of job.docs) {
    const s = stored.get(d.id);
    if (!s) continue;
    const same = job.createOnly === true || (s.hash === contentHash(job.model!, d) && s.metadata === canonicalJson(d.metadata ?? null));
    if (same) out.set(d.id, sent.has(d.id) ? 'written' : 'unchanged');
  }
  return out;
}

/** Ids that earlier runs of a job reported as indexed (kept in the job's progress). */
export function indexedInProgress(progress: unknown): string[] {
  const p = progress as { indexed?: unknown } | undefined;
  return Array.isArray(p?.indexed) ? p.indexed.filter((x): x is string => typeof x === 'string') : [];
}

/** Ids that earlier runs of a job sent to the index before counting them (kept in the job's progress). */
export function sentInProgress(progress: unknown): string[] {
  const p = progress as { sent?: unknown } | undefined;
  return Array.isArray(p?.sent) ? p.sent.filter((x): x is string => typeof x === 'string') : [];
}
