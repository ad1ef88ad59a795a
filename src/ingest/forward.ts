import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createIngestQueue, INGEST_BATCH_JOB, type IngestBatchJob, type IngestBatchResult, type JobSetStore } from '../queue/index.js';
import { activeReindex } from '../queue/forwarding.js';

/**
 * Writes during a reindex (docs/REINDEX.md): while a reindex of alias A (or of a source index S)
 * is registered in Redis (src/queue/forwarding.ts: reindex writes the record, this only reads it), every ingest batch that lands in A or S is forwarded, after it landed, as
 * a job on the reindex queue targeting the new index, where workers running the new model encode
 * it. Forwarded jobs are upserts (content-hash checked); the reindex's own copy jobs are
 * create-only, so a copy read from the older point in time never overwrites a forwarded write.
 *
 * Idempotent: the forwarded job's id derives from the ingest job's id, and it is counted in the
 * reindex job set once (JobSetStore.addProducedOnce: HSETNX on `<set>:forwarded` and the counters in
 * one Lua step), so an ingest job retried after forwarding forwards nothing twice.
 */
export function reindexForwarder(redis: Redis, store: JobSetStore): {
  afterBatch: (job: IngestBatchJob, jobId: string) => Promise<void>;
  close: () => Promise<void>;
} {
  const queues = new Map<string, Queue<IngestBatchJob, IngestBatchResult>>();
  return {
    async afterBatch(job, jobId) {
      if (job.createOnly) return; // a reindex copy job: nothing to forward
      const a = await activeReindex(redis, job.index);
      if (!a || a.target === job.index) return;
      let queue = queues.get(a.queue);
      if (!queue) {
        queue = createIngestQueue(a.queue, redis);
        queues.set(a.queue, queue);
      }
      const fwdId = `${a.setId}-fwd-${jobId}`;
      // Count first, then add: a forwarded job can never complete before it is counted. One atomic
      // step (marker + counters): a crash can no longer leave it marked but uncounted.
      await store.addProducedOnce(a.setId, fwdId, { read: job.docs.length, queued: job.docs.length, jobs: 1 });
      const data: IngestBatchJob = { setId: a.setId, index: a.target, batch: job.batch, model: a.model, docs: job.docs };
      await queue.add(INGEST_BATCH_JOB, data, { jobId: fwdId });
    },
    async close() {
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
    },
  };
}
