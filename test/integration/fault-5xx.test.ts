/**
 * One retry rule for OpenSearch's answers (docs/INGEST.md, "Job fate"): 408, 429 and any 5xx are
 * retried, whether they answer the whole bulk request or one item of it; any other 4xx is the
 * document's own fault and is recorded with OpenSearch's reason. A fault proxy
 * (test/helpers/fault-proxy.ts) in front of the real node injects the answers.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { modelIdentity, produceJobSet, startIngestWorker, waitForJobSet, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createRedis } from '../../src/redis.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const base = uniqueConfig('fault-5xx');
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

async function ingestThrough(name: string, lines: string[]) {
  const f = tempFile(`${name}.jsonl`, lines);
  files.push(f);
  const produced = await produceJobSet({ source: f.file, index: base.index, queue, store, batchSize: 4 });
  setIds.push(produced.setId);
  const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 120_000 });
  const failures = await store.failures(produced.setId);
  await client.indices.refresh({ index: base.index });
  const ids = lines.map((l) => JSON.parse(l)._id as string);
  const got = ((await client.mget({ index: base.index, body: { ids }, _source: false } as any)).body as any).docs as { _id: string; found: boolean }[];
  return { final, failures, found: got.filter((g) => g.found).map((g) => g._id), ids };
}

it('a whole-request HTTP 500 on _bulk is retried like any 5xx: every document ends indexed', async () => {
  const lines = sampleLines(12, 300);
  proxy.respond(500, { path: /\/_bulk/, times: 3 });
  const { final, failures, found } = await ingestThrough('whole-500', lines);
  await proxy.pass();
  expect(failures).toEqual([]);
  expect(final).toMatchObject({ done: true, read: 12, failed: 0, indexed: 12 });
  expect(found).toHaveLength(12);
  expect(proxy.stats.answered[500]).toBe(3);
  console.log(JSON.stringify({ fault: 'three _bulk requests answered HTTP 500 (whole request)', docs: 12, indexed: final.indexed, skipped: final.skipped, failed: final.failed }));
});

it('per-item 500, 503 and 429 are retried, a per-item 400 is recorded with its reason: nothing is lost', async () => {
  const lines = sampleLines(24, 320);
  const ids = lines.map((l) => JSON.parse(l)._id as string);
  const pick = (k: number) => new Set(ids.filter((_, i) => i % 6 === k));
  const [i500, i503, i429, i400] = [pick(0), pick(1), pick(2), pick(3)];
  const seen = new Set<string>();
  proxy.failBulkItems({
    status: (id) => (i500.has(id) ? 500 : i503.has(id) ? 503 : i429.has(id) ? 429 : 400),
    // A 400 is the document's own fault: it fails every time; the others fail once.
    match: (id) => i400.has(id) || ((i500.has(id) || i503.has(id) || i429.has(id)) && !seen.has(id) && seen.add(id) !== undefined),
    timesPerId: Infinity,
  });
  const { final, failures, found } = await ingestThrough('items', lines);
  await proxy.pass();
  const rejected = new Set(failures.map((f) => f.id));
  // Every document is either in the index or recorded as failed, and only the 400s failed.
  expect([...rejected].sort()).toEqual([...i400].sort());
  expect(failures.every((f) => f.code === 'index_rejected' && /400 proxy_injected_exception/.test(f.reason))).toBe(true);
  expect(found.sort()).toEqual(ids.filter((id) => !i400.has(id)).sort());
  expect(final).toMatchObject({ done: true, read: 24, failed: i400.size, indexed: 24 - i400.size });
  console.log(
    JSON.stringify({
      fault: 'bulk items failed: 4 × 500, 4 × 503, 4 × 429 once each, 4 × 400 every time',
      docs: 24,
      indexed: final.indexed,
      skipped: final.skipped,
      failed: final.failed,
      lost: 24 - found.length - rejected.size,
      proxy: proxy.stats.bulkItemsFailed,
    }),
  );
});
