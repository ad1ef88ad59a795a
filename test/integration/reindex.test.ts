/**
 * Reindex end to end against the real OpenSearch, Redis and default model: a plain text index
 * (no concept field) into a concept index behind a new alias; then that alias from the default
 * model to a second package (other version, other pruning) while writes arrive through the alias
 * and searches through it are polled the whole time; then rollback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash, ingest, startIngestWorker, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { aliasIndices, reindex, rollback, targetIndexName, type ReindexResult } from '../../src/reindex/index.js';
import { modelIdentity } from '../../src/ingest/index.js';
import { createRedis } from '../../src/redis.js';
import { sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';
import { cleanupReindex, createPlainIndex, modelVariant } from './reindex-helpers.js';

const config = uniqueConfig('reindex');
const plain = `${config.index}-plain`;
const alias = `${config.index}-alias`;
const ingestQueue = `${config.queue}-ingest`;
const client = createOpenSearchClient(config);
const N = 16;
const lines = sampleLines(N, 200);
const modelA = modelIdentity(config.modelDir);
const variant = modelVariant('0.1.0-k64', 64);
const configB = { ...config, modelDir: variant.dir };
const modelB = modelIdentity(variant.dir);
const targetA = targetIndexName(alias, modelA);
const targetB = targetIndexName(alias, modelB);
const files: (() => void)[] = [];
let ids: string[] = [];
let ingestWorker: IngestWorkerHandle | undefined;
const ingestSets: string[] = [];

beforeAll(async () => {
  ids = await createPlainIndex(client, plain, lines);
});

afterAll(async () => {
  await ingestWorker?.close();
  await client.indices.deleteAlias({ index: '_all', name: alias } as any).catch(() => undefined);
  await cleanupReindex(config, client, { indices: [plain], aliases: [alias], targets: [targetA, targetB], queues: [ingestQueue] });
  const redis = createRedis(config);
  await Promise.allSettled(ingestSets.map((id) => new JobSetStore(redis).delete(id)));
  await redis.quit();
  await client.close();
  variant.remove();
  files.forEach((rm) => rm());
});

async function source(index: string, id: string) {
  return ((await client.get({ index, id })).body as any)._source as Record<string, any>;
}

describe('reindex', () => {
  it('reindexes a plain text index (no concept field) into a concept index behind a new alias', async () => {
    const mappingBefore = (await client.indices.getMapping({ index: plain })).body;
    const res = await reindex({ config, source: plain, alias, slices: 2, pageSize: 4, withWorker: { concurrency: 2 }, progress: false });
    expect(res).toMatchObject({ status: 'switched', target: targetA, sources: [plain], created: true, resumed: false, previous: [] });
    expect(res.final).toMatchObject({ done: true, read: N, queued: N, indexed: N, failed: 0 });
    expect(res.verification).toMatchObject({ ok: true, sourceCount: N, targetCount: N, sampled: N, hashMismatches: [] });
    expect(res.verification!.minCosine).toBeGreaterThan(0.999);
    expect(await aliasIndices(client, alias)).toEqual([targetA]);

    // The source is untouched; the new index carries its other fields and their mappings.
    expect((await client.indices.getMapping({ index: plain })).body).toEqual(mappingBefore);
    const props = ((await client.indices.getMapping({ index: targetA })).body as any)[targetA].mappings.properties;
    expect(props).toMatchObject({ concepts: { type: 'rank_features' }, year: { type: 'integer' }, venue: { type: 'keyword' } });
    const d = await source(targetA, ids[3]!);
    const s = await source(plain, ids[3]!);
    expect(d).toMatchObject({ title: s.title, text: s.text, year: s.year, venue: s.venue, model_version: modelA.version });
    expect(d.content_hash).toBe(contentHash(modelA, { title: s.title, text: s.text }));
    expect(Object.keys(d.concepts).length).toBeGreaterThan(64);

    // Concept search through the alias works.
    const top = Object.entries(d.concepts as Record<string, number>).sort((a, b) => b[1] - a[1])[0]![0];
    const hits = ((await client.search({ index: alias, body: { query: { rank_feature: { field: `concepts.${top}`, linear: {} } } } as any })).body as any).hits.hits;
    expect(hits.length).toBeGreaterThan(0);

    // Nothing to roll back to: the alias is new.
    await expect(rollback({ config, alias })).rejects.toThrow(/no previous index/);
    // Running it again is a no-op.
    expect((await reindex({ config, source: plain, alias, progress: false })).status).toBe('already-switched');
  });

  it('moves the alias to another model version while writes arrive and searches keep answering; rollback moves it back', async () => {
    // Searches through the alias, polled during the whole run.
    const poll = { n: 0, errors: [] as string[], empty: 0, stop: false };
    const poller = (async () => {
      while (!poll.stop) {
        try {
          const r = await client.search({ index: alias, body: { size: 3, track_total_hits: true, query: { match: { text: 'cells patients study results' } } } as any });
          poll.n++;
          if ((r.body as any).hits.total.value === 0) poll.empty++;
        } catch (e) {
          poll.errors.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // 1. Queue the copy only (no worker yet): the run is registered, writes to the alias are forwarded.
    const first = await reindex({ config: configB, source: alias, slices: 2, pageSize: 4, progress: false });
    expect(first).toMatchObject({ status: 'queued', target: targetB, sources: [targetA], created: true });

    // 2. Writes through the alias, by an ingest worker of the old model: two new documents, one changed.
    const changed = JSON.parse(lines[0]!) as { _id: string; title: string; text: string };
    changed.text = `${changed.text} UPDATED during the reindex.`;
    const extra = sampleLines(2, 300);
    const f = tempFile('writes.jsonl', [JSON.stringify(changed), ...extra]);
    files.push(f.remove);
    ingestWorker = await startIngestWorker({ config: { ...config, queue: ingestQueue }, client, concurrency: 1 });
    const w = await ingest({ config: { ...config, index: alias, queue: ingestQueue }, source: f.file, wait: true, progress: false, batchSize: 8 });
    ingestSets.push(w.setId);
    expect(w.final).toMatchObject({ done: true, indexed: 3, failed: 0 });
    const redis = createRedis(config);
    const bq = createIngestQueue(first.queue, redis);
    expect((await bq.getJobs(['waiting'])).filter((j) => j.id?.includes('-fwd-')).length).toBe(1);
    await bq.close();
    await redis.quit();

    // 3. Run again with a worker of the new model: it resumes (nothing left to read), waits, verifies, switches.
    const res: ReindexResult = await reindex({ config: configB, source: alias, withWorker: { concurrency: 2 }, progress: false });
    poll.stop = true;
    await poller;
    expect(res).toMatchObject({ status: 'switched', resumed: true, pagesThisRun: 0, previous: [targetA] });
    expect(res.final).toMatchObject({ done: true, read: N + 3, failed: 0 });
    expect(res.verification).toMatchObject({ ok: true, sourceCount: N + 2, targetCount: N + 2 });
    expect(await aliasIndices(client, alias)).toEqual([targetB]);

    // The forwarded write won over the older copy; new documents arrived; the other pruning applies.
    const d = await source(targetB, changed._id);
    expect(d.text).toBe(changed.text);
    expect(d.model_version).toBe(modelB.version);
    expect(d.content_hash).toBe(contentHash(modelB, changed));
    for (const e of extra) expect((await source(targetB, JSON.parse(e)._id)).model_version).toBe(modelB.version);
    const all = ((await client.search({ index: targetB, body: { size: 100, _source: ['concepts'] } as any })).body as any).hits.hits;
    expect(all).toHaveLength(N + 2);
    for (const h of all) expect(Object.keys(h._source.concepts).length).toBeLessThanOrEqual(64);
    const meta = ((await client.indices.getMapping({ index: targetB })).body as any)[targetB].mappings._meta;
    expect(meta).toMatchObject({ model_version: modelB.version, reindex: { alias, previous: [targetA] } });

    // Searches through the alias answered all along.
    expect(poll.errors).toEqual([]);
    expect(poll.empty).toBe(0);
    expect(poll.n).toBeGreaterThan(10);

    // Rollback: the alias goes back to the old index, which was kept.
    const rb = await rollback({ config, alias });
    expect(rb).toEqual({ alias, from: targetB, to: [targetA] });
    expect(await aliasIndices(client, alias)).toEqual([targetA]);
    await expect(reindex({ config: configB, source: alias, progress: false })).rejects.toThrow(/--restart/);
  });
});
