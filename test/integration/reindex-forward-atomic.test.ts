/**
 * A write forwarded during a reindex is counted in the reindex job set in one atomic Redis step
 * (src/ingest/forward.ts → JobSetStore.addProducedOnce), as commitBatch counts a batch: before,
 * the marker (HSETNX), its EXPIRE and the counters (a MULTI) were four round trips, and a crash
 * after the first left the write marked but never counted, so the set read "done" before the
 * forwarded job ran. Checked on the real Redis with MONITOR: every write to the set's keys is
 * inside one script (or one MULTI), and a retry counts nothing twice.
 */
import { afterAll, expect, it } from 'vitest';
import type { IngestBatchJob } from '../../src/queue/index.js';
import { createIngestQueue, JobSetStore, newJobSetId } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { reindexForwarder } from '../../src/ingest/forward.js';
import { ReindexStateStore } from '../../src/reindex/state.js';
import { uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('fwd-atomic');
const redis = createRedis(config);
const store = new JobSetStore(redis);
const state = new ReindexStateStore(redis);
const setId = newJobSetId();
const source = config.index;
const fwdQueue = `${config.queue}-fwd`;

afterAll(async () => {
  await state.deactivate([source], 0);
  await store.delete(setId);
  const q = createIngestQueue(fwdQueue, redis);
  await q.obliterate({ force: true });
  await q.close();
  await redis.quit();
});

it('counts a forwarded write in one atomic step, once', async () => {
  await store.create({ id: setId, source: `reindex:${source}`, index: `${source}-new`, queue: fwdQueue });
  await state.activate([source], { alias: source, target: `${source}-new`, queue: fwdQueue, setId, model: { name: 'm', version: '1' } });
  const job: IngestBatchJob = {
    setId: 'ingest-set',
    index: source,
    batch: 0,
    docs: [
      { id: 'a', text: 'one', source: 'f:1' },
      { id: 'b', text: 'two', source: 'f:2' },
    ],
  };
  const k = { set: store.keys(setId).set, forwarded: `${store.keys(setId).set}:forwarded` };
  const mine = new Set([k.set, k.forwarded]);

  const monitor = await redis.monitor();
  const seen: { cmd: string; args: string[]; source: string }[] = [];
  monitor.on('monitor', (_time: string, args: string[], src: string) => seen.push({ cmd: String(args[0]).toLowerCase(), args: args.slice(1).map(String), source: src }));
  await new Promise((r) => setTimeout(r, 200));
  const forwarder = reindexForwarder(redis, store);
  await forwarder.afterBatch(job, 'ingest-set-0');
  await new Promise((r) => setTimeout(r, 300));
  monitor.disconnect();

  // Commands that touch the set's counters or its forwarded marker, as Redis ran them.
  const WRITES = new Set(['hsetnx', 'hincrby', 'hset', 'expire', 'rpush', 'del']);
  const inMulti = new Set<string>();
  const loose: string[] = [];
  let units = 0;
  for (const c of seen) {
    if (c.cmd === 'multi') inMulti.add(c.source);
    else if (c.cmd === 'exec' || c.cmd === 'discard') inMulti.delete(c.source);
    else if ((c.cmd === 'eval' || c.cmd === 'evalsha') && c.args.some((a) => mine.has(a))) units++;
    else if (WRITES.has(c.cmd) && mine.has(c.args[0]!) && c.source !== 'lua') {
      if (inMulti.has(c.source)) units += c.cmd === 'hincrby' && c.args[1] === 'read' ? 1 : 0;
      else loose.push(`${c.cmd} ${c.args[0]}`);
    }
  }
  console.log(JSON.stringify({ check: 'forwarded write counted', looseWrites: loose, atomicUnits: units, commandsSeen: seen.length }));
  expect(loose, 'writes outside one atomic step').toEqual([]);
  expect(units).toBe(1);

  // A retry of the same batch (BullMQ retries after a later failure) counts nothing twice.
  await forwarder.afterBatch(job, 'ingest-set-0');
  await forwarder.close();
  const info = (await store.get(setId))!;
  expect(info).toMatchObject({ read: 2, queued: 2, jobs: 1 });
  expect(await redis.hexists(k.forwarded, `${setId}-fwd-ingest-set-0`)).toBe(1);
  expect(await redis.ttl(k.forwarded)).toBeGreaterThan(0);
  const q = createIngestQueue(fwdQueue, redis);
  expect((await q.getJobs(['waiting'], 0, -1)).map((j) => j.id)).toEqual([`${setId}-fwd-ingest-set-0`]);
  await q.close();
});
