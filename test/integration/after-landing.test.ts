/**
 * A batch whose bulk write landed is counted as indexed even when what comes after the write fails
 * (issue 17): forwarding the batch to a reindex in progress (`afterBatch`) or committing its counts
 * in the job set. Before, such a failure on the last attempt counted the batch's documents as
 * failed although they were in the index. Real OpenSearch, real Redis and the tiny fixture model;
 * the failure is injected in the step after the write.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEncoder } from '../../src/encoder/index.js';
import type { Encoder } from '../../src/encoder/types.js';
import { runIngestBatch, settleFailedJob, type BatchContext } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createIngestQueue, INGEST_BATCH_JOB, JobSetStore, newJobSetId, type IngestBatchJob } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { cleanup, uniqueConfig } from './ingest-helpers.js';

const config = { ...uniqueConfig('after-landing'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const store = new JobSetStore(redis);
const queue = createIngestQueue(config.queue, redis);
const setIds: string[] = [];
let encoder: Encoder;

beforeAll(async () => {
  encoder = await createEncoder({ modelDir: TINY_MODEL, workers: 0 });
  await ensureConceptIndex(client, config.index, encoder.model);
});

afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  await encoder?.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
});

async function newSet(name: string, n: number): Promise<IngestBatchJob> {
  const id = newJobSetId();
  setIds.push(id);
  await store.create({ id, source: name, index: config.index, queue: config.queue });
  await store.addProduced(id, { read: n, queued: n, jobs: 1, rejected: [] });
  await store.markProducerDone(id);
  const docs = Array.from({ length: n }, (_, i) => ({ id: `${name}-${i}`, text: `document ${i} of ${name} about heart disease`, source: `${name}.jsonl:${i + 1}` }));
  return { setId: id, index: config.index, batch: 0, model: { name: encoder.model.name, version: encoder.model.version }, docs };
}

function ctx(over: Partial<BatchContext>): BatchContext {
  return { client, encoder, store, ensureIndex: async () => {}, ...over };
}

const finalAttempt = (jobId: string) => ({ jobId, final: true, indexedBefore: new Set<string>(), saveIndexed: async () => {} });

async function found(job: IngestBatchJob): Promise<number> {
  await client.indices.refresh({ index: config.index });
  const docs = ((await client.mget({ index: config.index, body: { ids: job.docs.map((d) => d.id) }, _source: false } as any)).body as any).docs;
  return docs.filter((d: any) => d.found).length;
}

it('forwarding fails after the write landed (last attempt): the documents count as indexed, not failed', async () => {
  const job = await newSet('fwd', 4);
  const c = ctx({ afterBatch: async () => { throw new Error('forward: cannot add the job to the reindex queue'); } });
  await expect(runIngestBatch(c, job, finalAttempt(`${job.setId}-0`))).rejects.toThrow(/forward/);
  const s = (await store.get(job.setId))!;
  const failures = await store.failures(job.setId);
  console.log(JSON.stringify({ fault: 'forwarding failed after the bulk write landed (last attempt)', docs: 4, inIndex: await found(job), indexed: s.indexed, failed: s.failed }));
  expect(await found(job)).toBe(4);
  expect(s).toMatchObject({ done: true, indexed: 4, skipped: 0, failed: 0 });
  expect(failures).toEqual([]);
});

it('the counter commit fails once after the write landed (last attempt): the documents count as indexed, not failed', async () => {
  const job = await newSet('commit', 4);
  let calls = 0;
  const flaky = Object.create(store) as JobSetStore;
  flaky.commitBatch = async (...args: Parameters<JobSetStore['commitBatch']>) => {
    if (calls++ === 0) throw new Error('ERR commit lost (injected)');
    return store.commitBatch(...args);
  };
  await expect(runIngestBatch(ctx({ store: flaky }), job, finalAttempt(`${job.setId}-0`))).rejects.toThrow(/commit lost/);
  const s = (await store.get(job.setId))!;
  console.log(JSON.stringify({ fault: 'counter commit failed once after the bulk write landed (last attempt)', docs: 4, inIndex: await found(job), indexed: s.indexed, failed: s.failed }));
  expect(await found(job)).toBe(4);
  expect(s).toMatchObject({ done: true, indexed: 4, skipped: 0, failed: 0 });
});

it('forwarding fails on an earlier attempt: the retry counts the documents as indexed, not skipped', async () => {
  const job = await newSet('retry', 4);
  const jobId = `${job.setId}-0`;
  let sent: string[] = [];
  let indexed: string[] = [];
  const first = { jobId, final: false, indexedBefore: new Set<string>(), saveIndexed: async (ids: string[]) => void (indexed = ids), saveSent: async (ids: string[]) => void (sent = ids) };
  await expect(runIngestBatch(ctx({ afterBatch: async () => { throw new Error('forward: Redis busy'); } }), job, first)).rejects.toThrow(/Redis busy/);
  const r = await runIngestBatch(ctx({}), job, { jobId, final: false, indexedBefore: new Set(indexed), sentBefore: new Set(sent), saveIndexed: async () => {} });
  expect(r).toMatchObject({ indexed: 4, skipped: 0, failed: 0 });
  expect((await store.get(job.setId))!).toMatchObject({ done: true, indexed: 4, skipped: 0, failed: 0 });
});

it('a job failed after stalling too often counts what its killed runs wrote as indexed, not failed', async () => {
  // The job's runs were killed after writing (progress.sent), BullMQ then failed it ("job stalled
  // more than allowable limit"); settling it with the cluster at hand finds its documents in the index.
  const data = await newSet('stalled', 4);
  const job = await queue.add(INGEST_BATCH_JOB, data, { jobId: `${data.setId}-0` });
  const jobId = job.id!;
  await expect(runIngestBatch(ctx({ afterBatch: async () => { throw new Error('killed'); } }), data, { jobId, final: false, indexedBefore: new Set(), saveIndexed: async () => {}, saveSent: (ids) => job.updateProgress({ sent: ids }) })).rejects.toThrow(/killed/);
  const fresh = (await queue.getJob(jobId))!;
  const withoutClient = await newSet('stalled-no-client', 4);
  const other = await queue.add(INGEST_BATCH_JOB, withoutClient, { jobId: `${withoutClient.setId}-0` });
  await settleFailedJob(store, other, 'job stalled more than allowable limit');
  await settleFailedJob(store, fresh, 'job stalled more than allowable limit', undefined, client);
  const s = (await store.get(data.setId))!;
  const n = (await store.get(withoutClient.setId))!;
  console.log(JSON.stringify({ fault: 'job failed after too many stalls, its documents written before', docs: 4, indexed: s.indexed, failed: s.failed, withoutCluster: { indexed: n.indexed, failed: n.failed } }));
  expect(s).toMatchObject({ done: true, indexed: 4, skipped: 0, failed: 0 });
  expect(n).toMatchObject({ done: true, indexed: 0, failed: 4 }); // never written: failed, as before
});
