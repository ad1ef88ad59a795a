/**
 * `failed <set> --requeue` (issue 17): a failed record keeps its document, so the documents a bad
 * bulk response failed (a whole `_bulk` request answered 400, items answered 400) are queued again
 * as a new job set and indexed once the cause is gone. Lines rejected at entry have no document to
 * requeue and are reported as such. Real OpenSearch behind the fault proxy, real Redis, the CLI.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { modelIdentity, produceJobSet, startIngestWorker, waitForJobSet, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = { ...uniqueConfig('failed-requeue'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const queue = createIngestQueue(config.queue, redis);
const store = new JobSetStore(redis);
const setIds: string[] = [];
let proxy: FaultProxy;
let worker: IngestWorkerHandle;
const lines = sampleLines(12, 200);
const ids = lines.map((l) => JSON.parse(l)._id as string);
const f = tempFile('requeue.jsonl', [...lines, '{"_id": "no-text"}']);

beforeAll(async () => {
  proxy = await FaultProxy.start(config.opensearchUrl);
  await ensureConceptIndex(client, config.index, modelIdentity(config.modelDir));
  worker = await startIngestWorker({ config: { ...config, opensearchUrl: proxy.url }, concurrency: 1, bulk: { wait: 100 } });
});

afterAll(async () => {
  await worker?.close();
  await proxy?.close();
  await queue.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  f.remove();
});

it('documents failed by a bad bulk response are requeued with `failed --requeue` and then indexed', async () => {
  const itemFails = new Set([ids[9]!, ids[10]!]);
  proxy.respond(400, { path: /\/_bulk/, times: 1 }); // the first batch: the whole request refused
  proxy.failBulkItems({ status: 400, match: (id) => itemFails.has(id), timesPerId: Infinity });
  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 4, model: { name: worker.encoder.model.name, version: worker.encoder.model.version } });
  setIds.push(produced.setId);
  const first = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 120_000 });
  const failures = await store.failures(produced.setId);
  expect(first).toMatchObject({ done: true, read: 13, indexed: 6, failed: 7, failedAtEntry: 1 });
  expect(failures.filter((x) => x.code === 'batch_rejected')).toHaveLength(4);
  expect(failures.filter((x) => x.code === 'index_rejected')).toHaveLength(2);
  await proxy.pass();

  const { command, args } = cliInvocation();
  const env = { ...process.env, ...configEnv(config), LOG_LEVEL: 'warn' };
  const shown = spawnSync(command, [...args, 'failed', produced.setId, '--json'], { env, encoding: 'utf8', timeout: 60_000 });
  const page = JSON.parse(shown.stdout) as Record<string, unknown>[];
  expect(page.filter((x) => x.requeueable === true)).toHaveLength(6);
  expect(page.every((x) => x.doc === undefined)).toBe(true); // the kept document is not printed
  const r = spawnSync(command, [...args, 'failed', produced.setId, '--requeue', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const requeued = JSON.parse(r.stdout);
  setIds.push(requeued.setId);
  expect(requeued).toMatchObject({ from: produced.setId, failed: 7, requeued: 6, notRequeueable: 1, jobs: 1 });

  const second = await waitForJobSet({ store, queue, setId: requeued.setId, intervalMs: 200, stallTimeoutMs: 120_000 });
  await client.indices.refresh({ index: config.index });
  const got = ((await client.mget({ index: config.index, body: { ids }, _source: false } as any)).body as any).docs as { found: boolean }[];
  console.log(JSON.stringify({ fault: 'bad bulk responses (whole request 400 once, 2 items 400), then failed --requeue', docs: 12, firstRun: { indexed: first.indexed, failed: first.failed }, requeued: requeued.requeued, notRequeueable: requeued.notRequeueable, secondRun: { indexed: second.indexed, failed: second.failed }, inIndex: got.filter((g) => g.found).length }));
  expect(second).toMatchObject({ done: true, read: 6, indexed: 6, failed: 0 });
  expect(got.filter((g) => !g.found)).toEqual([]);
});
