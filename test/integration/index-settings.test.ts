/**
 * Production index settings (issue 17): shards and replicas of the indexes saesplade creates come
 * from the config (SAESPLADE_SHARDS / SAESPLADE_REPLICAS, --shards / --replicas), and
 * `--bulk-refresh-interval` relaxes refresh_interval while a waiting ingest writes, restored after
 * it. On the single dev node a replica cannot be assigned: the index is yellow, and fine.
 * Real OpenSearch and Redis, the tiny fixture model.
 */
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ingest } from '../../src/ingest/index.js';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { BULK_REFRESH_META, refreshHoldersKey } from '../../src/opensearch/bulk-settings.js';
import { readMeta } from '../../src/opensearch/meta.js';
import { createRedis } from '../../src/redis.js';
import { createIngestQueue } from '../../src/queue/index.js';
import { reindex, ReindexStateStore } from '../../src/reindex/index.js';
import { cleanupFixtures, TINY_MODEL, tinyVariant } from '../helpers/encoder-fixture.js';
import { cleanup, indicesBehind, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const lib = loadConfig({ ...uniqueConfig('settings-lib'), modelDir: TINY_MODEL, replicas: 1, bulkRefreshInterval: '-1' });
const cli = { ...uniqueConfig('settings-cli'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(lib);
const redis = createRedis(lib);
const setIds: string[] = [];
const files: { remove: () => void }[] = [];

afterAll(async () => {
  await cleanup(lib, client, setIds);
  await cleanup(cli, client, []);
  await redis.quit();
  await client.close();
  for (const f of files) f.remove();
  cleanupFixtures();
});

async function settingsOf(index: string): Promise<Record<string, string>> {
  const body = (await client.indices.getSettings({ index, flat_settings: true } as any)).body as Record<string, { settings: Record<string, string> }>;
  return body[index]!.settings;
}

it('ingest with replicas 1 and a bulk refresh interval: the index has one replica (yellow), refresh_interval -1 while writing, restored after', async () => {
  const lines = sampleLines(8, 60);
  const source = new PassThrough();
  source.write(lines.slice(0, 4).join('\n') + '\n');
  const run = ingest({ config: lib, source, withWorker: { concurrency: 1 }, batchSize: 4, progress: false });
  run.catch(() => {});
  // While the source is still open, the run is writing: the interval is relaxed.
  let index: string | undefined;
  for (const t0 = Date.now(); !index; ) {
    index = (await indicesBehind(client, lib.index))[0];
    if (Date.now() - t0 > 60_000) throw new Error('no index behind the alias');
    await new Promise((r) => setTimeout(r, 100));
  }
  let during: Record<string, string> = {};
  for (const t0 = Date.now(); during['index.refresh_interval'] !== '-1' && Date.now() - t0 < 30_000; ) {
    during = await settingsOf(index);
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(during['index.refresh_interval']).toBe('-1');
  expect((await readMeta(client, index))[BULK_REFRESH_META]).toMatchObject({ original: null, relaxed: '-1' });
  expect(await redis.zcard(refreshHoldersKey(index))).toBe(1);
  source.end(lines.slice(4).join('\n') + '\n');
  const res = await run;
  setIds.push(res.setId);
  const after = await settingsOf(index);
  const health = ((await client.cluster.health({ index } as any)).body as any).status;
  const count = ((await client.count({ index })).body as any).count;
  console.log(JSON.stringify({ test: 'ingest --replicas 1 --bulk-refresh-interval -1', index, replicas: after['index.number_of_replicas'], shards: after['index.number_of_shards'], duringRefresh: during['index.refresh_interval'], afterRefresh: after['index.refresh_interval'] ?? '(default)', health, count }));
  expect(after['index.number_of_replicas']).toBe('1');
  expect(after['index.refresh_interval']).toBeUndefined();
  expect((await readMeta(client, index))[BULK_REFRESH_META]).toBeUndefined();
  expect(await redis.zcard(refreshHoldersKey(index))).toBe(0);
  expect(['yellow', 'green']).toContain(health);
  expect(res.final).toMatchObject({ done: true, indexed: 8, failed: 0 });
  expect(count).toBe(8);
});

it('the CLI takes --shards and --replicas, and refuses a bad value in one line', () => {
  const f = tempFile('settings.jsonl', sampleLines(4, 70));
  files.push(f);
  const { command, args } = cliInvocation();
  const env = { ...process.env, ...configEnv(cli), LOG_LEVEL: 'warn' };
  const ok = spawnSync(command, [...args, 'ingest', f.file, '--with-worker', '--shards', '2', '--replicas', '1', '--json'], { env, encoding: 'utf8', timeout: 120_000 });
  expect(ok.status, ok.stderr).toBe(0);
  const bad = spawnSync(command, [...args, 'ingest', f.file, '--replicas', 'two'], { env, encoding: 'utf8', timeout: 60_000 });
  expect(bad.status).toBe(1);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  expect(bad.stderr).toMatch(/--replicas.*integer from 0 to 1024/);
  return (async () => {
    const [index] = await indicesBehind(client, cli.index);
    const s = await settingsOf(index!);
    expect([s['index.number_of_shards'], s['index.number_of_replicas']]).toEqual(['2', '1']);
  })();
});

it("reindex creates the new index with the config's shards and replicas, and restores the relaxed refresh_interval before it verifies", async () => {
  // The index of the first test (replicas 1), re-encoded by a 'newer' tiny model (same graph).
  const newer = tinyVariant((m) => void (m.version = '0.0.2'));
  const cfg = loadConfig({ ...lib, modelDir: newer, shards: 2, replicas: 0, bulkRefreshInterval: '30s' });
  const res = await reindex({ config: cfg, source: lib.index, withWorker: { concurrency: 1 }, progress: false, sampleSize: 4 });
  setIds.push(res.setId);
  expect(res.status).toBe('switched');
  const s = await settingsOf(res.target);
  console.log(JSON.stringify({ test: 'reindex --shards 2 --replicas 0 --bulk-refresh-interval 30s', target: res.target, shards: s['index.number_of_shards'], replicas: s['index.number_of_replicas'], afterRefresh: s['index.refresh_interval'] ?? '(default)' }));
  expect([s['index.number_of_shards'], s['index.number_of_replicas']]).toEqual(['2', '0']);
  expect(s['index.refresh_interval']).toBeUndefined();
  expect((await readMeta(client, res.target))[BULK_REFRESH_META]).toBeUndefined();
  expect(((await client.count({ index: res.target })).body as any).count).toBe(8);
  await client.indices.delete({ index: res.target, ignore_unavailable: true } as any);
  const q = createIngestQueue(res.queue, redis);
  await q.obliterate({ force: true }).finally(() => q.close());
  await new ReindexStateStore(redis).delete(res.target);
});

it('POST /v1/documents creates its index with the configured shards and replicas; the compatible endpoint\'s queued bulk refuses a name that is not a concept index', async () => {
  const { startTestServer, API_KEY, call } = await import('./server-helpers.js');
  const cfg = loadConfig({ ...uniqueConfig('settings-http'), modelDir: TINY_MODEL, shards: 2, replicas: 1 });
  const server = await startTestServer(cfg, { compatPort: 0, encoderWorkers: 1, encoderThreads: 1 });
  try {
    const [doc] = sampleLines(1, 70);
    const r = await call(server.url, 'POST', '/v1/documents?format=beir', { body: doc + '\n', key: API_KEY });
    expect(r.status).toBe(202);
    setIds.push(r.body.setId);
    const [index] = await indicesBehind(client, cfg.index);
    const s = await settingsOf(index!);
    expect([s['index.number_of_shards'], s['index.number_of_replicas']]).toEqual(['2', '1']);

    const other = `${cfg.index}-compat`;
    const q = await fetch(`${server.compatUrl}/${other}/_bulk?saesplade_queue=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'x-saesplade-api-key': API_KEY },
      body: '{"index":{"_id":"x"}}\n{"text":"hello"}\n',
    });
    // A name that does not exist is not a concept index yet: the queued route refuses it rather than guess.
    expect(q.status).toBe(400);
  } finally {
    await server.close();
    await cleanup(cfg, client, []);
  }
}, 120_000);
