/**
 * A long-running worker writing through an alias must notice when the alias moves to an index built
 * with another model (a reindex switch): it refuses those writes (failed documents, code
 * `model_mismatch`) instead of storing its own model's vectors in the other model's index.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { modelIdentity, produceJobSet, startIngestWorker, waitForJobSet, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { conceptIndexBody, ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('alias-switch'); // config.index is used as the alias name
const indexA = `${config.index}-a`;
const indexB = `${config.index}-b`;
let client: Client;
let worker: IngestWorkerHandle;
const redis = createRedis(config);
const store = new JobSetStore(redis);
const queue = createIngestQueue(config.queue, redis);
const setIds: string[] = [];
const files: (() => void)[] = [];

beforeAll(async () => {
  client = createOpenSearchClient(config);
  await ensureConceptIndex(client, indexA, modelIdentity(config.modelDir));
  await client.indices.putAlias({ index: indexA, name: config.index });
  // TTL 0: every batch re-checks the model of the index behind the alias.
  worker = await startIngestWorker({ config, client, concurrency: 1, modelCheckTtlMs: 0 });
});

afterAll(async () => {
  await worker?.close();
  await queue.close();
  await cleanup(config, client, setIds);
  await client.indices.delete({ index: [indexA, indexB], ignore_unavailable: true } as any);
  await redis.quit();
  await client?.close();
  files.forEach((rm) => rm());
});

/**
 * Queues straight to the worker, as a producer that checked the alias before the switch would have
 * (`ingest` itself checks the model at start and would refuse up front).
 */
async function run(lines: string[]) {
  const f = tempFile('docs.jsonl', lines);
  files.push(f.remove);
  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 2 });
  setIds.push(produced.setId);
  return waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200 });
}

it('refuses to write through an alias that moved to another model index', async () => {
  const before = await run(sampleLines(2, 360));
  expect(before).toMatchObject({ indexed: 2, failed: 0 });

  const other = { name: 'another-model', version: '9.9.9', dictionarySize: 16384 };
  await client.indices.create({ index: indexB, body: conceptIndexBody(other) });
  await client.indices.updateAliases({
    body: { actions: [{ remove: { index: indexA, alias: config.index } }, { add: { index: indexB, alias: config.index } }] },
  });

  const after = await run(sampleLines(2, 370));
  expect(after).toMatchObject({ indexed: 0, failed: 2 });
  const failures: { code: string; reason: string }[] = [];
  for await (const f of store.iterateFailures(setIds[1]!)) failures.push(f);
  expect(failures.map((f) => f.code)).toEqual(['model_mismatch', 'model_mismatch']);
  expect(failures[0]!.reason).toContain('another-model@9.9.9');

  await client.indices.refresh({ index: [indexA, indexB] });
  expect(((await client.count({ index: indexB })).body as any).count).toBe(0);
  expect(((await client.count({ index: indexA })).body as any).count).toBe(2);
});
