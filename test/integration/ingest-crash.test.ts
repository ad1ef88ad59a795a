/**
 * A worker process killed with SIGKILL in the middle of a job set loses no document: its active
 * jobs stall (their lock is not renewed), another worker's stalled-job check moves them back to
 * wait, and that worker finishes the set. Short lock and stalled-check timings keep the test quick.
 */
import { afterAll, expect, it } from 'vitest';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import {
  modelIdentity,
  produceJobSet,
  spawnWorker,
  startIngestWorker,
  waitForJobSet,
  type IngestWorkerHandle,
} from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('ingest-crash');
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const queue = createIngestQueue(config.queue, redis);
const store = new JobSetStore(redis);
const N = 24;
const lines = sampleLines(N, 100);
const f = tempFile('crash.jsonl', lines);
const setIds: string[] = [];
let survivor: IngestWorkerHandle | undefined;
let victim: ReturnType<typeof spawnWorker> | undefined;
const TIMINGS = { lockDuration: 3000, stalledInterval: 1500 };

afterAll(async () => {
  // A failed assertion before the kill must not leave the child worker running (it would recreate the index).
  if (victim && victim.child.exitCode === null && victim.child.signalCode === null) victim.child.kill('SIGKILL');
  await survivor?.close();
  await queue.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  f.remove();
});

it('a worker killed with SIGKILL mid-run leaves no document missing once another worker finishes', async () => {
  await ensureConceptIndex(client, config.index, modelIdentity(config.modelDir));
  victim = spawnWorker(config, ['--concurrency', '2', '--lock-duration', String(TIMINGS.lockDuration), '--stalled-interval', String(TIMINGS.stalledInterval)]);
  await victim.ready;

  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 2 });
  setIds.push(produced.setId);
  expect(produced.jobs).toBe(N / 2);

  // Mid-run: some batches done, most not.
  for (;;) {
    const s = (await store.get(produced.setId))!;
    if (s.jobsDone >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  victim.child.kill('SIGKILL');
  await victim.closed;
  const atKill = (await store.get(produced.setId))!;
  expect(atKill.done).toBe(false);
  expect(await queue.getActiveCount()).toBeGreaterThan(0); // jobs held by the dead worker

  survivor = await startIngestWorker({ config, client, concurrency: 2, ...TIMINGS });
  const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200 });
  expect(final).toMatchObject({ done: true, read: N, queued: N, failed: 0 });
  expect(final.indexed + final.skipped).toBe(N);

  await client.indices.refresh({ index: config.index });
  const ids = lines.map((l) => JSON.parse(l)._id as string);
  const got = ((await client.mget({ index: config.index, body: { ids } })).body as any).docs as { found: boolean }[];
  expect(got.filter((g) => !g.found)).toEqual([]);
  expect(((await client.count({ index: config.index })).body as any).count).toBe(N);
});
