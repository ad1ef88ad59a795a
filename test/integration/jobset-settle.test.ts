/**
 * A job set always ends (docs/RELIABILITY.md, "No hang"): a batch job failed as unrecoverable
 * because its data is invalid is settled (its documents failed as `invalid_job`), so the set is
 * done instead of waiting forever; and waitForJobSet is bounded: a set that cannot finish (its job
 * removed from the queue) ends in JobSetStalledError after the stall timeout. Real Redis; no model
 * is needed (a bare BullMQ worker stands for a worker of another version).
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, expect, it } from 'vitest';
import { JobSetStalledError, produceJobSet, waitForJobSet } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('jobset-settle');
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const queue = createIngestQueue(config.queue, redis);
const store = new JobSetStore(redis);
const setIds: string[] = [];
const files: { remove: () => void }[] = [];
let bare: Worker | undefined;

afterAll(async () => {
  await bare?.close();
  await queue.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  for (const f of files) f.remove();
});

async function produce(n: number, from: number) {
  const f = tempFile('settle.jsonl', sampleLines(n, from));
  files.push(f);
  const p = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 4 });
  setIds.push(p.setId);
  return p;
}

it('a job failed as unrecoverable for invalid data is settled: the set ends done, its documents failed as invalid_job', async () => {
  const produced = await produce(8, 390);
  expect(produced.jobs).toBe(2);
  // One job's data is broken (as an incompatible producer would write it).
  const [a, b] = await queue.getJobs(['waiting'], 0, -1);
  const broken = [a, b].find((j) => j!.id!.endsWith('-1'))!;
  await broken.updateData({ ...(broken.data as any), docs: (broken.data as any).docs.map((d: any) => ({ id: d.id, body: d.text })) });

  // A worker of another version: it refuses what it cannot read as unrecoverable, as ours does.
  bare = new Worker(
    config.queue,
    async (job) => {
      if (!Array.isArray(job.data.docs) || typeof job.data.docs[0]?.text !== 'string') throw new UnrecoverableError('invalid ingest-batch job data: docs[0].text: expected string');
      throw new UnrecoverableError('this worker cannot index');
    },
    { connection: createRedis(config) },
  );
  const t0 = Date.now();
  const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 100, stallTimeoutMs: 60_000 });
  const failures = await store.failures(produced.setId);
  expect(final).toMatchObject({ done: true, read: 8, queued: 8, indexed: 0, failed: 8, jobsDone: 2 });
  expect(failures.filter((f) => f.code === 'invalid_job')).toHaveLength(4);
  expect(failures.filter((f) => f.code === 'job_failed')).toHaveLength(4);
  const invalid = failures.find((f) => f.code === 'invalid_job')!;
  expect(invalid.reason).toMatch(/^invalid job data \(invalid ingest-batch job data/);
  expect(invalid.id).toBeDefined();
  console.log(JSON.stringify({ fault: 'a batch job with invalid data, failed as unrecoverable', docs: 8, failed: final.failed, invalidJob: 4, done: final.done, settledInS: (Date.now() - t0) / 1000 }));
  await bare.close();
  bare = undefined;
});

it('waitForJobSet gives up with JobSetStalledError when the set cannot finish (its job was removed from the queue)', async () => {
  const produced = await produce(4, 398 - 4);
  const [job] = await queue.getJobs(['waiting'], 0, -1);
  await job!.remove();
  const t0 = Date.now();
  const err = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 100, stallTimeoutMs: 3000 }).catch((e: unknown) => e);
  const s = (Date.now() - t0) / 1000;
  expect(err).toBeInstanceOf(JobSetStalledError);
  expect((err as Error).message).toMatch(new RegExp(`^job set ${produced.setId} made no progress for 3 s \\(read 4, indexed 0, skipped 0, failed 0; jobs done 0 of 1\\)`));
  expect(s).toBeGreaterThanOrEqual(2.9);
  expect(s).toBeLessThan(10);
  console.log(JSON.stringify({ fault: 'a job set whose job was removed', stalledAfterS: s }));
});
