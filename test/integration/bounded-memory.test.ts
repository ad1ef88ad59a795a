/**
 * Memory bounded by bytes (issue 17): batch jobs close at --batch-bytes (the documents as JSON),
 * not only at --batch-size documents (32 × --max-doc-bytes was 32 MiB a job), and `failed <set>`
 * reads one page of the failed record (--limit, default 100, and --offset), not all of it.
 * Real Redis (the producer and the CLI); no worker is needed.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { produceJobSet } from '../../src/ingest/index.js';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('bounded-memory');
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const queue = createIngestQueue(config.queue, redis);
const store = new JobSetStore(redis);
const setIds: string[] = [];
const files: { remove: () => void }[] = [];

afterAll(async () => {
  await queue.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  for (const f of files) f.remove();
});

it('batch jobs are bounded by bytes: a batch closes before a document that would pass --batch-bytes', async () => {
  const LIMIT = 4096;
  const big = JSON.stringify({ _id: 'big-1', text: 'x'.repeat(6000) });
  const lines = [...sampleLines(40, 120), big];
  const f = tempFile('bytes.jsonl', lines);
  files.push(f);
  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store, batchSize: 32, maxBatchBytes: LIMIT });
  setIds.push(produced.setId);
  const jobs = await queue.getJobs(['waiting'], 0, -1);
  const sizes = jobs.map((j) => ({ docs: j.data.docs.length, bytes: j.data.docs.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d)), 0) }));
  console.log(JSON.stringify({ test: 'batch bytes', limit: LIMIT, docs: lines.length, jobs: jobs.length, maxJobBytes: Math.max(...sizes.map((s) => s.bytes)), maxDocsPerJob: Math.max(...sizes.map((s) => s.docs)) }));
  expect(produced).toMatchObject({ read: 41, queued: 41 });
  expect(sizes.reduce((n, s) => n + s.docs, 0)).toBe(41);
  // Every job of several documents stays under the bound; the big document travels alone.
  for (const s of sizes) if (s.docs > 1) expect(s.bytes).toBeLessThanOrEqual(LIMIT);
  expect(jobs.find((j) => j.data.docs.some((d) => d.id === 'big-1'))!.data.docs).toHaveLength(1);
  expect(jobs.length).toBeGreaterThan(41 / 32 + 1);
  await queue.obliterate({ force: true });
});

it('`failed <set>` lists one page (default 100) and pages on with --offset', async () => {
  const lines = Array.from({ length: 150 }, (_, i) => `{"id": "bad-${i}", "text": ""}`);
  const f = tempFile('bad.jsonl', lines);
  files.push(f);
  const produced = await produceJobSet({ source: f.file, index: config.index, queue, store });
  setIds.push(produced.setId);
  expect(produced.rejected).toBe(150);
  const { command, args } = cliInvocation();
  const env = { ...process.env, ...configEnv(config), LOG_LEVEL: 'warn' };
  const run = (extra: string[]) => spawnSync(command, [...args, 'failed', produced.setId, ...extra], { env, encoding: 'utf8', timeout: 60_000 });
  const first = run(['--json']);
  expect(first.status, first.stderr).toBe(0);
  const page = JSON.parse(first.stdout) as { source: string }[];
  expect(page).toHaveLength(100);
  expect(first.stderr).toContain(`--offset 100`);
  const last = run(['--json', '--offset', '140', '--limit', '20']);
  expect((JSON.parse(last.stdout) as { source: string }[]).map((x) => x.source)).toEqual(Array.from({ length: 10 }, (_, i) => `${f.file}:${141 + i}`));
  const human = run([]);
  expect(human.stdout).toMatch(/150 failed documents \(1–100\)/);
  expect(human.stdout).toMatch(/50 more: saesplade failed \S+ --offset 100/);
  console.log(JSON.stringify({ test: 'failed paging', failed: 150, firstPage: page.length, lastPage: 10 }));
});
