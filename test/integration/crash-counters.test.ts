/**
 * Counters after a crash (issue 17): a worker killed after its bulk write landed but before it
 * counted the batch leaves the job to be run again by another worker. That run finds the
 * documents unchanged in the index; they were written by this very job, so they count as
 * indexed, not as "skipped (unchanged)" (before: a fresh index read 2,968 indexed + 32 skipped).
 * A fault proxy forwards the worker's `_bulk` requests and holds their answers, so the kill falls
 * exactly in that window. The tiny fixture model keeps the test quick.
 */
import { afterAll, expect, it } from 'vitest';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { produceJobSet, spawnWorker, startIngestWorker, waitForJobSet, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { createRedis } from '../../src/redis.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = { ...uniqueConfig('crash-counters'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const queue = createIngestQueue(config.queue, redis);
const store = new JobSetStore(redis);
const N = 16;
const lines = sampleLines(N, 40);
const f = tempFile('crash-counters.jsonl', lines);
const setIds: string[] = [];
let proxy: FaultProxy | undefined;
let survivor: IngestWorkerHandle | undefined;
let victim: ReturnType<typeof spawnWorker> | undefined;
const TIMINGS = { lockDuration: 3000, stalledInterval: 1000 };

afterAll(async () => {
  if (victim && victim.child.exitCode === null && victim.child.signalCode === null) victim.child.kill('SIGKILL');
  await survivor?.close();
  await proxy?.close();
  await queue.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  f.remove();
});

it('a batch that landed before its worker was killed counts as indexed when it is run again, not skipped', async () => {
  proxy = await FaultProxy.start(config.opensearchUrl);
  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 4 });
  setIds.push(produced.setId);
  proxy.holdAnswers(/\/_bulk/);
  victim = spawnWorker({ ...config, opensearchUrl: proxy.url }, ['--concurrency', '2', '--lock-duration', String(TIMINGS.lockDuration), '--stalled-interval', String(TIMINGS.stalledInterval)]);
  await victim.ready;
  // Both jobs in hand wrote their documents; the worker is waiting for the answers.
  const t0 = Date.now();
  while (proxy.stats.held < 2) {
    if (Date.now() - t0 > 120_000) throw new Error('the worker never sent its bulk requests');
    await new Promise((r) => setTimeout(r, 50));
  }
  victim.child.kill('SIGKILL');
  await victim.closed;
  await client.indices.refresh({ index: config.index });
  const landed = ((await client.count({ index: config.index })).body as any).count as number;
  expect(landed).toBe(8);
  expect((await store.get(produced.setId))!.jobsDone).toBe(0);

  survivor = await startIngestWorker({ config, client, concurrency: 2, ...TIMINGS });
  const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 120_000 });
  await client.indices.refresh({ index: config.index });
  const count = ((await client.count({ index: config.index })).body as any).count as number;
  console.log(JSON.stringify({ fault: 'worker SIGKILLed after its bulk write landed, before counting', docs: N, landedBeforeKill: landed, indexed: final.indexed, skipped: final.skipped, failed: final.failed, count }));
  expect(final).toMatchObject({ done: true, read: N, indexed: N, skipped: 0, failed: 0 });
  expect(count).toBe(N);
});
