/**
 * A reindex interrupted halfway (the reading stopped after a few pages) while its worker process is
 * killed with SIGKILL mid-job, then run again: it continues where it stopped and ends with every
 * document present exactly once, each page counted once.
 */
import { afterAll, expect, it } from 'vitest';
import { modelIdentity, spawnWorker } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { JobSetStore } from '../../src/queue/index.js';
import { ReindexStateStore, reindex, reindexQueueName, reindexSetId, targetIndexName } from '../../src/reindex/index.js';
import { createRedis } from '../../src/redis.js';
import { sampleLines, uniqueConfig } from './ingest-helpers.js';
import { cleanupReindex, createPlainIndex } from './reindex-helpers.js';

const config = uniqueConfig('reindex-resume');
const plain = `${config.index}-plain`;
const alias = `${config.index}-alias`;
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const target = targetIndexName(alias, modelIdentity(config.modelDir));
const N = 20;
const TIMINGS = { lockDuration: 3000, stalledInterval: 1500 };
let victim: ReturnType<typeof spawnWorker> | undefined;

afterAll(async () => {
  // A failed assertion must not leave the worker child running (it would recreate the index).
  if (victim && victim.child.exitCode === null && victim.child.signalCode === null) {
    victim.child.kill('SIGKILL');
    await victim.closed;
  }
  await client.indices.deleteAlias({ index: '_all', name: alias } as any).catch(() => undefined);
  await cleanupReindex(config, client, { indices: [plain], aliases: [alias], targets: [target] });
  await redis.quit();
  await client.close();
});

it('a run stopped after a few pages, with its worker killed mid-job, resumes and ends complete without duplicates', async () => {
  const ids = await createPlainIndex(client, plain, sampleLines(N, 320));
  const store = new JobSetStore(redis);
  const state = new ReindexStateStore(redis);

  // Run 1: a worker child process; the reading stops after 3 pages of 2 documents.
  victim = spawnWorker({ ...config, queue: reindexQueueName(target) }, [
    '--concurrency', '1', '--lock-duration', String(TIMINGS.lockDuration), '--stalled-interval', String(TIMINGS.stalledInterval),
  ]);
  await victim.ready;
  const stop = new AbortController();
  const first = await reindex({
    config,
    source: plain,
    alias,
    slices: 2,
    pageSize: 2,
    progress: false,
    signal: stop.signal,
    onPage: (p) => p.pagesThisRun >= 3 && stop.abort(),
  });
  expect(first).toMatchObject({ status: 'interrupted', created: true });
  // The other slice may finish the page it was reading when the stop came.
  expect(first.pagesThisRun).toBeGreaterThanOrEqual(3);
  expect(first.pagesThisRun).toBeLessThanOrEqual(4);
  const mid = (await state.get(target))!;
  expect(mid.status).toBe('copying');
  expect(mid.cursors.reduce((s, c) => s + c.page, 0)).toBe(first.pagesThisRun);

  // Kill the worker while it holds a job.
  for (;;) {
    const s = (await store.get(reindexSetId(target)))!;
    if (s.jobsDone >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  victim.child.kill('SIGKILL');
  await victim.closed;
  const atKill = (await store.get(reindexSetId(target)))!;
  expect(atKill.jobsDone).toBeLessThan(atKill.jobs);

  // Run 2: the same command with a worker: reads the remaining pages only, recovers the dead worker's job.
  const second = await reindex({ config, source: plain, alias, slices: 7, pageSize: 5, progress: false, withWorker: { concurrency: 2, ...TIMINGS } });
  expect(second).toMatchObject({ status: 'switched', resumed: true, created: false, slices: 2, pageSize: 2 }); // the stored plan wins
  expect(second.pagesThisRun).toBeGreaterThan(0);
  expect(first.pagesThisRun + second.pagesThisRun).toBeGreaterThanOrEqual(N / 2);
  expect(second.final).toMatchObject({ done: true, read: N, queued: N, failed: 0 });
  expect(second.final!.indexed + second.final!.skipped).toBe(N);
  expect(second.verification).toMatchObject({ ok: true, sourceCount: N, targetCount: N });

  await client.indices.refresh({ index: target });
  const all = ((await client.search({ index: target, body: { size: 100, _source: false } as any })).body as any).hits.hits.map((h: any) => h._id);
  expect(all.length).toBe(N);
  expect(new Set(all).size).toBe(N);
  expect([...all].sort()).toEqual([...ids].sort());
  // Each document written once: no version above 1 (create-only copy jobs never overwrite).
  const versions = ((await client.mget({ index: target, body: { ids } })).body as any).docs.map((d: any) => d._version);
  expect(versions.every((v: number) => v === 1)).toBe(true);
});
