/**
 * OpenSearch outages (docs/RELIABILITY.md, "Outages"): a fault proxy (test/helpers/fault-proxy.ts)
 * sits between the worker and the real node and goes away mid-ingest, first refusing connections,
 * then answering 503, for longer than the 5 attempts of a job last (about 31 s). The worker must
 * pause, probe, resume, and end with every document indexed: an outage costs time, never documents.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { cliInvocation, modelIdentity, produceJobSet, startIngestWorker, waitForJobSet, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { OutagePatienceError } from '../../src/ingest/outage.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createRedis } from '../../src/redis.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const base = uniqueConfig('fault-outage');
const client = createOpenSearchClient(base);
const redis = createRedis(base);
const queue = createIngestQueue(base.queue, redis);
const store = new JobSetStore(redis);
const setIds: string[] = [];
const workers: IngestWorkerHandle[] = [];
let proxy: FaultProxy | undefined;
const files: { remove: () => void }[] = [];

afterAll(async () => {
  await proxy?.pass();
  for (const w of workers) await w.close();
  await proxy?.close();
  await queue.close();
  await cleanup(base, client, setIds);
  await redis.quit();
  await client.close();
  for (const f of files) f.remove();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function indexedIds(ids: string[]): Promise<{ missing: string[]; count: number; maxVersion: number }> {
  await client.indices.refresh({ index: base.index });
  const got = ((await client.mget({ index: base.index, body: { ids }, _source: false } as any)).body as any).docs as { _id: string; found: boolean; _version?: number }[];
  const count = ((await client.count({ index: base.index })).body as any).count as number;
  return { missing: got.filter((g) => !g.found).map((g) => g._id), count, maxVersion: Math.max(0, ...got.map((g) => g._version ?? 0)) };
}

it(
  'a 40 s OpenSearch outage mid-ingest (20 s refused, 20 s HTTP 503) ends with every document indexed, none failed',
  async () => {
    proxy = await FaultProxy.start(base.opensearchUrl);
    const config = { ...base, opensearchUrl: proxy.url };
    await ensureConceptIndex(client, base.index, modelIdentity(base.modelDir));
    const N = 48;
    const lines = sampleLines(N, 200);
    const f = tempFile('outage.jsonl', lines);
    files.push(f);
    const worker = await startIngestWorker({ config, concurrency: 2, outageProbeMs: 1000, outagePatienceMs: 180_000 });
    workers.push(worker);
    const t0 = Date.now();
    const produced = await produceJobSet({ source: f.file, index: base.index, queue, store, batchSize: 4 });
    setIds.push(produced.setId);

    await until(async () => ((await store.get(produced.setId))!.jobsDone >= 2), 120_000, 'two batches done');
    const atFault = (await store.get(produced.setId))!;
    await proxy.refuse();
    await sleep(20_000);
    expect(worker.outage.isDown).toBe(true);
    expect(worker.worker.isPaused()).toBe(true);
    // While down the worker holds at most its `concurrency` jobs and takes no new one.
    expect(await queue.getActiveCount()).toBeLessThanOrEqual(2);
    proxy.respond(503);
    await proxy.accept();
    await sleep(20_000);
    const during = (await store.get(produced.setId))!;
    expect(during.failed).toBe(0);
    // Nothing lands while the cluster is away, beyond the batches in flight when it went.
    expect(during.jobsDone).toBeLessThanOrEqual(atFault.jobsDone + 2);
    await proxy.pass();

    const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 240_000 });
    const elapsedS = (Date.now() - t0) / 1000;
    expect(final).toMatchObject({ done: true, read: N, queued: N, failed: 0 });
    expect(final.indexed + final.skipped).toBe(N);
    expect(await queue.getFailedCount()).toBe(0);
    const { missing, count, maxVersion } = await indexedIds(lines.map((l) => JSON.parse(l)._id as string));
    expect(missing).toEqual([]);
    expect(count).toBe(N);
    const jobs = await queue.getJobs(['completed'], 0, -1);
    // No attempt spent on the outage: every job completed in its first attempt.
    expect(Math.max(...jobs.map((j) => j.attemptsMade))).toBeLessThanOrEqual(1);
    console.log(
      JSON.stringify({
        fault: 'OpenSearch away 40 s mid-ingest (20 s connection refused, then 20 s HTTP 503)',
        docs: N,
        indexed: final.indexed,
        skipped: final.skipped,
        failed: final.failed,
        inIndex: count,
        duplicated: count - N,
        maxVersion,
        outages: worker.outage.stats.outages,
        downS: Math.round(worker.outage.stats.downMs / 100) / 10,
        proxy: proxy.stats,
        elapsedS,
      }),
    );
    await worker.close();
  },
  300_000,
);

it(
  'past its outage patience the worker stops and puts its jobs back: no attempt spent, no document failed; a later worker finishes',
  async () => {
    proxy ??= await FaultProxy.start(base.opensearchUrl);
    await proxy.pass();
    const config = { ...base, opensearchUrl: proxy.url };
    await ensureConceptIndex(client, base.index, modelIdentity(base.modelDir));
    const N = 16;
    const lines = sampleLines(N, 260);
    const f = tempFile('patience.jsonl', lines);
    files.push(f);
    const worker = await startIngestWorker({ config, concurrency: 2, outageProbeMs: 500, outagePatienceMs: 4000 });
    workers.push(worker);
    await proxy.refuse();
    const produced = await produceJobSet({ source: f.file, index: base.index, queue, store, batchSize: 4 });
    setIds.push(produced.setId);
    const t0 = Date.now();
    const err = await worker.fatal.catch((e: unknown) => e);
    const gaveUpAfterS = (Date.now() - t0) / 1000;
    expect(err).toBeInstanceOf(OutagePatienceError);
    expect((err as Error).message).toMatch(/outage patience/);
    expect((err as Error).message).toContain(`127.0.0.1:${proxy.port}`);
    await worker.close();
    const held = (await store.get(produced.setId))!;
    expect(held).toMatchObject({ failed: 0, indexed: 0, jobsDone: 0, jobs: 4 });
    expect(await queue.getFailedCount()).toBe(0);
    const waiting = await queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1);
    expect(waiting.filter((j) => j.id?.startsWith(produced.setId)).length).toBe(4);
    expect(waiting.every((j) => j.attemptsMade === 0)).toBe(true);

    await proxy.pass();
    const second = await startIngestWorker({ config, concurrency: 2 });
    workers.push(second);
    const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 120_000 });
    expect(final).toMatchObject({ done: true, failed: 0, indexed: N });
    console.log(JSON.stringify({ fault: 'OpenSearch refused past a 4 s outage patience, then back', docs: N, indexed: final.indexed, failed: final.failed, gaveUpAfterS }));
  },
  180_000,
);

it('a worker started with a wrong OpenSearch URL exits at once with one line and exit code 69, never "ready"', async () => {
  const port = await unusedPort();
  const { command, args } = cliInvocation();
  const t0 = Date.now();
  const child = spawn(command, [...args, 'worker', '--json', '--opensearch-url', `http://u:sekrit@127.0.0.1:${port}`, '--queue', base.queue], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errText = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (errText += d));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const seconds = (Date.now() - t0) / 1000;
  const lines = errText.trim().split('\n');
  expect(code).toBe(69);
  expect(out).not.toContain('ready');
  expect(errText).not.toContain('worker ready');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^error: OpenSearch at http://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}/? is not usable: connection refused`));
  expect(errText).not.toContain('sekrit');
  console.log(JSON.stringify({ wrongUrlExitSeconds: seconds })); // a hang fails by the test timeout; no wall-clock assertion
  expect(await queue.getFailedCount()).toBe(0);
});

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
