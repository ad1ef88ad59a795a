/**
 * A storm of whole-request HTTP 429s (the cluster's write and search thread pools rejecting) is
 * backed off in place without spending the jobs' attempts (src/ingest/busy.ts), so a storm longer
 * than the jobs' 5 attempts (2 + 4 + 8 + 16 s of BullMQ back-off, ~30 s) loses nothing. A fault
 * proxy (test/helpers/fault-proxy.ts) in front of the real node answers every `_bulk` and `_mget`
 * with 429 for 40 s; `GET /` still answers, as on a busy cluster.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { modelIdentity, produceJobSet, startIngestWorker, waitForJobSet, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createRedis } from '../../src/redis.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const STORM_MS = 40_000;
const base = uniqueConfig('fault-429');
const client = createOpenSearchClient(base);
const redis = createRedis(base);
const queue = createIngestQueue(base.queue, redis);
const store = new JobSetStore(redis);
const setIds: string[] = [];
let proxy: FaultProxy;
let worker: IngestWorkerHandle;
const files: { remove: () => void }[] = [];

beforeAll(async () => {
  proxy = await FaultProxy.start(base.opensearchUrl);
  await ensureConceptIndex(client, base.index, modelIdentity(base.modelDir));
  worker = await startIngestWorker({ config: { ...base, opensearchUrl: proxy.url }, concurrency: 2, bulk: { wait: 200 } });
});

afterAll(async () => {
  await proxy?.pass();
  await worker?.close();
  await proxy?.close();
  await queue.close();
  await cleanup(base, client, setIds);
  await redis.quit();
  await client.close();
  for (const f of files) f.remove();
});

it(`a ${STORM_MS / 1000} s storm of whole-request 429s on _bulk and _mget costs time, not documents or attempts`, { timeout: 180_000 }, async () => {
  const lines = sampleLines(16, 340);
  const ids = lines.map((l) => JSON.parse(l)._id as string);
  const f = tempFile('storm.jsonl', lines);
  files.push(f);
  const t0 = Date.now();
  proxy.respond(429, { path: /\/_(bulk|mget)/ });
  const stormEnds = new Promise<void>((r) => setTimeout(() => void proxy.pass().then(r), STORM_MS));
  const produced = await produceJobSet({ source: f.file, index: base.index, queue, store, batchSize: 4 });
  setIds.push(produced.setId);
  const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 150_000 });
  await stormEnds;
  const seconds = (Date.now() - t0) / 1000;
  const failures = await store.failures(produced.setId);
  const jobs = await queue.getJobs(['completed', 'failed']);
  const attempts = jobs.filter((j) => j.data.setId === produced.setId).map((j) => j.attemptsMade);
  await client.indices.refresh({ index: base.index });
  const got = ((await client.mget({ index: base.index, body: { ids }, _source: false } as any)).body as any).docs as { found: boolean; _version?: number }[];
  const figures = {
    fault: `whole-request HTTP 429 on every _bulk and _mget for ${STORM_MS / 1000} s`,
    docs: ids.length,
    indexed: final.indexed,
    skipped: final.skipped,
    failed: final.failed,
    found: got.filter((g) => g.found).length,
    maxVersion: Math.max(...got.map((g) => g._version ?? 0)),
    answered429: proxy.stats.answered[429] ?? 0,
    jobs: attempts.length,
    // attemptsMade counts the run that succeeded too: 1 = done in its first attempt.
    maxAttemptsMade: Math.max(...attempts),
    codes: [...new Set(failures.map((x) => x.code))],
    seconds: Math.round(seconds * 10) / 10,
  };
  console.log(JSON.stringify(figures));
  expect(failures).toEqual([]);
  expect(final).toMatchObject({ done: true, read: 16, failed: 0, indexed: 16 });
  expect(figures.found).toBe(16);
  expect(figures.maxVersion).toBe(1);
  expect(figures.maxAttemptsMade).toBe(1);
  expect(figures.answered429).toBeGreaterThan(8);
  expect(seconds).toBeGreaterThan(STORM_MS / 1000);
});
