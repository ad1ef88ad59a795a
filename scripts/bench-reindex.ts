/**
 * Reindex throughput beside ingest throughput, same corpus, same run (docs/REINDEX.md):
 *   npx tsx scripts/bench-reindex.ts [N=60] [corpus=/work/shared/datasets/scifact/corpus.jsonl]
 * 1. ingest N documents (in-process worker, concurrency 2, batches of 32) into a fresh concept index;
 * 2. reindex that index with a copy of the model under another version (same graph and pruning, so
 *    the encoding work is the same) behind an alias (in-process worker, concurrency 2, pages of 32).
 * Both rates exclude worker start-up; the reindex rate covers reading + queueing + encoding + indexing
 * until every job is done, verification (counts + 20 re-encoded) is timed separately.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_MODEL_DIR, loadConfig } from '../src/config.js';
import { ingest, modelIdentity } from '../src/ingest/index.js';
import { createOpenSearchClient } from '../src/opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../src/queue/index.js';
import { activeKey, reindex, reindexQueueName, reindexSetId, stateKey, targetIndexName } from '../src/reindex/index.js';
import { machineInfo } from '../src/machine.js';
import { createRedis } from '../src/redis.js';

const n = Number(process.argv[2] ?? 60);
const corpus = process.argv[3] ?? '/work/shared/datasets/scifact/corpus.jsonl';
const id = `bench-reindex-${Date.now().toString(36)}`;
const config = loadConfig({ index: `${id}-src`, queue: `${id}-ingest`, logLevel: 'warn' });
const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-bench-reindex-'));
const file = path.join(dir, 'docs.jsonl');
writeFileSync(file, readFileSync(corpus, 'utf8').split('\n').filter(Boolean).slice(0, n).join('\n') + '\n');
const modelDir = path.join(dir, 'model');
const { mkdirSync } = await import('node:fs');
mkdirSync(modelDir);
for (const f of readdirSync(DEFAULT_MODEL_DIR)) if (f !== 'manifest.json') symlinkSync(path.join(DEFAULT_MODEL_DIR, f), path.join(modelDir, f));
const m = JSON.parse(readFileSync(path.join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8'));
m.version = `${m.version}-bench`;
writeFileSync(path.join(modelDir, 'manifest.json'), JSON.stringify(m));

const alias = `${id}-alias`;
const target = targetIndexName(alias, modelIdentity(modelDir));
const client = createOpenSearchClient(config);
let ingestSet: string | undefined;
try {
  const ing = await ingest({ config, source: file, withWorker: { concurrency: 2 }, batchSize: 32, progress: false });
  ingestSet = ing.setId;
  const t0 = Date.now();
  const rx = await reindex({ config: { ...config, modelDir }, source: config.index, alias, pageSize: 32, slices: 2, withWorker: { concurrency: 2 }, progress: false });
  const total = (Date.now() - t0) / 1000;
  const out = {
    docs: n,
    cpuLoad: (await import('node:os')).loadavg()[0],
    machine: machineInfo(),
    ingest: { docsPerS: ing.summary!.docsPerS, elapsedS: ing.summary!.elapsedS },
    reindex: { docsPerS: rx.docsPerS, elapsedS: rx.elapsedS, withVerifyAndSwitchS: Math.round(total * 10) / 10, status: rx.status, verification: rx.verification },
    ratio: Math.round((rx.docsPerS! / ing.summary!.docsPerS) * 100) / 100,
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  const redis = createRedis(config);
  const store = new JobSetStore(redis);
  const queues = [config.queue, reindexQueueName(target)].map((q) => createIngestQueue(q, redis));
  await Promise.allSettled([
    // ingest made `${config.index}` an alias over the index named for the model (docs/INGEST.md).
    client.indices.delete({ index: `${targetIndexName(config.index, modelIdentity(DEFAULT_MODEL_DIR))},${target}`, ignore_unavailable: true } as any),
    ...queues.map((q) => q.obliterate({ force: true })),
    store.delete(reindexSetId(target)),
    ...(ingestSet ? [store.delete(ingestSet)] : []),
    redis.del(stateKey(target), activeKey(alias), activeKey(config.index)),
  ]);
  await Promise.allSettled(queues.map((q) => q.close()));
  await redis.quit();
  await client.close();
  rmSync(dir, { recursive: true, force: true });
}
