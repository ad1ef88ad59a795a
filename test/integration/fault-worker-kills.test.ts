/**
 * Workers SIGKILLed again and again (issue 17's fault suite): ten worker processes in a row are
 * each killed at a random point of an ingest, and ten more during a reindex (seeded, printed), the next one picking up the jobs
 * the dead one held once their locks expire; a last worker finishes the set. Nothing is lost and
 * nothing is written twice: every document is in the index exactly once (`_count`, the ids) with
 * `_version` 1, and the set counts them as indexed (not skipped). A fault proxy adds 150 ms to
 * each OpenSearch request so the kills fall mid-run. The tiny model keeps it to about a minute;
 * opt-in: SAESPLADE_TEST_FAULTS=1 (.ci/run sets it).
 */
import { afterAll, expect, it } from 'vitest';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { produceJobSet, spawnWorker, startIngestWorker, waitForJobSet, type IngestWorkerHandle, type WorkerProcess } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { createRedis } from '../../src/redis.js';
import { ingest } from '../../src/ingest/index.js';
import { reindex, ReindexStateStore } from '../../src/reindex/index.js';
import { cleanupFixtures, TINY_MODEL, tinyVariant } from '../helpers/encoder-fixture.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { rng } from '../../src/bench/scale-generate.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const ON = process.env.SAESPLADE_TEST_FAULTS === '1';
const config = { ...uniqueConfig('worker-kills'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const queue = createIngestQueue(config.queue, redis);
const store = new JobSetStore(redis);
const N = 240;
const KILLS = 10;
const setIds: string[] = [];
let proxy: FaultProxy | undefined;
let survivor: IngestWorkerHandle | undefined;
let current: WorkerProcess | undefined;
const f = tempFile('kills.jsonl', sampleLines(N, 0));
const TIMINGS = { lockDuration: 3000, stalledInterval: 1000 };
const extraIndexes: string[] = [];
const extraQueues: string[] = [];
const extraStates: string[] = [];
const rconfig = { ...uniqueConfig('worker-kills-rx'), modelDir: TINY_MODEL };

afterAll(async () => {
  if (current && current.child.exitCode === null && current.child.signalCode === null) current.child.kill('SIGKILL');
  await survivor?.close();
  await proxy?.close();
  await queue.close();
  await cleanup(config, client, setIds);
  await cleanup(rconfig, client, []);
  if (extraIndexes.length > 0) await client.indices.delete({ index: extraIndexes.join(','), ignore_unavailable: true } as any).catch(() => {});
  for (const q of extraQueues) {
    const queue2 = createIngestQueue(q, redis);
    await queue2.obliterate({ force: true }).catch(() => {});
    await queue2.close();
  }
  for (const t of extraStates) await new ReindexStateStore(redis).delete(t);
  cleanupFixtures();
  await redis.quit();
  await client.close();
  f.remove();
});

it.skipIf(!ON)(`${KILLS} workers SIGKILLed at random points: 0 lost, 0 duplicated`, async () => {
  const seed = Number(process.env.SAESPLADE_TEST_SEED ?? Date.now() % 1_000_000);
  const random = rng(seed);
  proxy = await FaultProxy.start(config.opensearchUrl);
  proxy.latency(150);
  const t0 = Date.now();
  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 2 });
  setIds.push(produced.setId);
  const atKill: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    current = spawnWorker({ ...config, opensearchUrl: proxy.url }, ['--concurrency', '2', '--lock-duration', String(TIMINGS.lockDuration), '--stalled-interval', String(TIMINGS.stalledInterval)]);
    await current.ready;
    await new Promise((r) => setTimeout(r, 500 + random() * 2500));
    current.child.kill('SIGKILL');
    await current.closed;
    atKill.push((await store.get(produced.setId))!.jobsDone);
  }
  expect((await store.get(produced.setId))!.done).toBe(false); // every kill fell mid-run
  survivor = await startIngestWorker({ config, client, concurrency: 2, ...TIMINGS });
  const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 300_000 });
  await client.indices.refresh({ index: config.index });
  const ids = sampleLines(N, 0).map((l) => JSON.parse(l)._id as string);
  const docs = ((await client.mget({ index: config.index, body: { ids }, _source: false } as any)).body as any).docs as { _id: string; found: boolean; _version?: number }[];
  const count = ((await client.count({ index: config.index })).body as any).count as number;
  const failures = await store.failures(produced.setId);
  const found = docs.filter((d) => d.found);
  const failedIds = new Set(failures.map((x) => x.id));
  const lost = docs.filter((d) => !d.found && !failedIds.has(d._id)).length;
  const versions = found.map((d) => d._version ?? 0);
  const figures = {
    fault: `${KILLS} workers SIGKILLed at random points (seed ${seed})`,
    docs: N,
    jobs: produced.jobs,
    jobsDoneAtKills: atKill,
    indexed: final.indexed,
    skipped: final.skipped,
    failed: final.failed,
    count,
    lost,
    written2x: versions.filter((v) => v > 1).length,
    maxVersion: Math.max(...versions),
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  console.log(JSON.stringify(figures));
  expect(lost).toBe(0);
  expect(count).toBe(found.length); // no document beside the ids
  expect(figures.written2x).toBe(0);
  expect(final).toMatchObject({ done: true, read: N, failed: 0, skipped: 0, indexed: N });
  expect(found).toHaveLength(N);
}, 600_000);

/** Kills `kills` workers (config `cfg`) in a row, each at a random point; returns the set's jobsDone at each kill. */
async function killWorkers(cfg: typeof config, setId: string, kills: number, random: () => number): Promise<number[]> {
  const atKill: number[] = [];
  for (let k = 0; k < kills; k++) {
    current = spawnWorker(cfg, ['--concurrency', '2', '--lock-duration', String(TIMINGS.lockDuration), '--stalled-interval', String(TIMINGS.stalledInterval)]);
    await current.ready;
    await new Promise((r) => setTimeout(r, 500 + random() * 2500));
    current.child.kill('SIGKILL');
    await current.closed;
    atKill.push((await store.get(setId))!.jobsDone);
  }
  return atKill;
}

it.skipIf(!ON)(`${KILLS} workers SIGKILLed at random points of a reindex: 0 lost, 0 duplicated, then the alias switches`, async () => {
  const seed = Number(process.env.SAESPLADE_TEST_SEED ?? (Date.now() + 1) % 1_000_000);
  const random = rng(seed);
  const t0 = Date.now();
  // The source: the alias over the tiny model's index.
  const src = await ingest({ config: rconfig, source: f.file, withWorker: { concurrency: 2 }, progress: false });
  setIds.push(src.setId);
  expect(src.final).toMatchObject({ done: true, indexed: N });
  // The reindex to a 'newer' tiny model (the same graph): pages queued, workers killed, then resumed.
  const newer = tinyVariant((m) => void (m.version = '0.0.2'));
  const rcfg = { ...rconfig, modelDir: newer };
  const queued = await reindex({ config: rcfg, source: rconfig.index, pageSize: 2, slices: 1, progress: false });
  setIds.push(queued.setId);
  extraIndexes.push(queued.target, ...queued.sources);
  extraQueues.push(queued.queue);
  extraStates.push(queued.target);
  expect(queued.status).toBe('queued');
  proxy ??= await FaultProxy.start(config.opensearchUrl);
  proxy.latency(150);
  const atKill = await killWorkers({ ...rcfg, queue: queued.queue, opensearchUrl: proxy.url }, queued.setId, KILLS, random);
  expect((await store.get(queued.setId))!.done).toBe(false);
  const res = await reindex({ config: rcfg, source: rconfig.index, progress: false, sampleSize: 8, withWorker: { concurrency: 2, ...TIMINGS } });
  expect(res.status).toBe('switched');
  const ids = sampleLines(N, 0).map((l) => JSON.parse(l)._id as string);
  const docs = ((await client.mget({ index: res.target, body: { ids }, _source: false } as any)).body as any).docs as { _id: string; found: boolean; _version?: number }[];
  await client.indices.refresh({ index: res.target });
  const count = ((await client.count({ index: res.target })).body as any).count as number;
  const versions = docs.filter((d) => d.found).map((d) => d._version ?? 0);
  const final = (await store.get(queued.setId))!;
  const figures = {
    fault: `${KILLS} workers SIGKILLed at random points of a reindex (seed ${seed})`,
    docs: N,
    pages: queued.pagesThisRun,
    jobsDoneAtKills: atKill,
    indexed: final.indexed,
    skipped: final.skipped,
    failed: final.failed,
    count,
    lost: docs.filter((d) => !d.found).length,
    written2x: versions.filter((v) => v > 1).length,
    maxVersion: Math.max(...versions),
    switched: res.status,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  console.log(JSON.stringify(figures));
  expect(figures.lost).toBe(0);
  expect(count).toBe(N);
  expect(figures.written2x).toBe(0);
  expect(final).toMatchObject({ done: true, failed: 0, skipped: 0, indexed: N });
}, 600_000);
