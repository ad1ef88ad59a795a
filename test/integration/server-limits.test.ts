/**
 * The server under pressure and with services gone, against the real services and the real model:
 * the bounded encoder queue (503 + Retry-After, and the event loop stays free meanwhile), /readyz
 * naming a dead Redis and a dead OpenSearch, a spawned `saesplade worker --metrics-port` serving
 * metrics while it indexes what POST /v1/documents queued, and SIGTERM on a spawned `saesplade
 * serve` finishing the request in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { createEncoder } from '../../src/encoder/index.js';
import type { Encoder } from '../../src/encoder/types.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { ensureIngestTarget } from '../../src/ingest/target.js';
import type { RunningServer } from '../../src/server/serve.js';
import { cleanup, sampleLines, uniqueConfig } from './ingest-helpers.js';
import { API_KEY, call, deadPort, metricValue, startTestServer, waitForSet } from './server-helpers.js';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli.js');
const config = uniqueConfig('server-limits');
const texts = sampleLines(8, 0).map((l) => {
  const d = JSON.parse(l) as { title: string; text: string };
  return `${d.title} ${d.text}`;
});
let encoder: Encoder;
let client: Client;
let busy: RunningServer;
const setIds: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  client = createOpenSearchClient(config);
  // One encoder thread shared by the servers of this file (the gate takes its size from the pool).
  encoder = await createEncoder({ modelDir: config.modelDir, workers: 1, threads: 1 });
  busy = await startTestServer(config, { encoderQueue: 1 }, { encoder });
  // The index exists (empty), so that a search gets as far as the encoder.
  await ensureIngestTarget(client, config.index, encoder.model, config.modelDir);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await busy?.close();
  await encoder?.close();
  if (client) await cleanup(config, client, setIds);
  await client?.close();
});

/** Spawns the built CLI with the test's config in its environment; resolves with the first JSON line on stdout. */
function spawnCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; first: Promise<any>; lines: any[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', SAESPLADE_INDEX: config.index, SAESPLADE_QUEUE: config.queue, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: any[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const rl = createInterface({ input: child.stdout! });
  const first = new Promise<any>((resolve, reject) => {
    rl.on('line', (l) => {
      const j = JSON.parse(l);
      lines.push(j);
      if (lines.length === 1) resolve(j);
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code} before its first line: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, first, lines, exited };
}

describe('bounded encoder queue', () => {
  it('answers 503 with Retry-After when every encoder thread is busy and the queue (bound 1) is full; the event loop stays free', async () => {
    const body = { texts, mode: 'document' };
    const answeredAt: number[] = [];
    const calls = Array.from({ length: 6 }, () =>
      call(busy.url, 'POST', '/v1/encode', { json: body }).then((a) => {
        if (a.status === 200) answeredAt.push(performance.now());
        return a;
      }),
    );
    // While the thread encodes, the process still answers: encoding runs off the event loop, so
    // /healthz comes back before the encode call that was running when it was asked.
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const h = await call(busy.url, 'GET', '/healthz');
    const healthAt = performance.now();
    const healthMs = healthAt - t0;
    expect(h.status).toBe(200);
    const search = await call(busy.url, 'POST', '/v1/search', { json: { query: 'stem cells' } });
    const answers = await Promise.all(calls);
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 503);
    expect(ok.length + refused.length).toBe(6);
    // one runs, one waits, the rest are refused (the search came while both slots were taken)
    expect(ok.length).toBe(2);
    expect(refused.length).toBe(4);
    expect(search.status).toBe(503);
    for (const r of [...refused, search]) {
      expect(r.body.error).toBe('encoder_busy');
      const retry = Number(r.headers.get('retry-after'));
      expect(Number.isInteger(retry)).toBe(true);
      expect(retry).toBeGreaterThanOrEqual(1);
    }
    expect(answeredAt.length).toBe(2);
    expect(healthAt).toBeLessThan(Math.min(...answeredAt));
    console.log(JSON.stringify({ healthzMsWhileEncoding: healthMs })); // the ordering above is the check; no wall-clock bound
    const m = (await call(busy.url, 'GET', '/metrics')).text;
    expect(metricValue(m, 'saesplade_encoder_rejected_total')).toBe(5);
    expect(metricValue(m, 'saesplade_http_request_duration_seconds_count', { route: '/v1/encode', status_code: '503' })).toBe(4);
    // and once the burst is over, requests pass again
    expect((await call(busy.url, 'POST', '/v1/encode', { json: { texts: ['again'] } })).status).toBe(200);
  });
});

describe('options', () => {
  it('--search-auth puts search and encode behind a key; --cors-origin allows the listed origins only', async () => {
    const server = await startTestServer(config, { searchAuth: true, corsOrigins: 'https://app.example' }, { encoder });
    try {
      const open = await call(server.url, 'POST', '/v1/search', { json: { query: 'x', mode: 'bm25' } });
      expect(open.status).toBe(401);
      expect((await call(server.url, 'POST', '/v1/encode', { json: { texts: ['x'] } })).status).toBe(401);
      expect((await call(server.url, 'POST', '/v1/search', { json: { query: 'x', mode: 'bm25' }, key: API_KEY })).status).toBe(200);
      const pre = await fetch(server.url + '/v1/search', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(pre.status).toBeLessThan(300);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
      const other = await call(server.url, 'POST', '/v1/search', { json: { query: 'x', mode: 'bm25' }, key: API_KEY, headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    } finally {
      await server.close();
    }
  });
});

describe('readiness with services gone', () => {
  it('/readyz answers 503 naming a dead Redis and a dead OpenSearch (no password shown); the routes that need them answer 503', async () => {
    const [rp, op] = [await deadPort(), await deadPort()];
    const dead = loadConfig({ index: config.index, queue: config.queue, redisUrl: `redis://:s3cret-pw@127.0.0.1:${rp}`, opensearchUrl: `http://127.0.0.1:${op}`, logLevel: 'silent' }, {});
    const server = await startTestServer(dead, {}, { encoder });
    try {
      expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
      const r = await call(server.url, 'GET', '/readyz');
      expect(r.status).toBe(503);
      expect(r.body.status).toBe('not_ready');
      expect(r.body.checks.redis.ok).toBe(false);
      expect(r.body.checks.redis.error).toContain(`127.0.0.1:${rp}`);
      expect(r.body.checks.redis.error).toMatch(/refused/i);
      expect(r.body.checks.opensearch.ok).toBe(false);
      expect(r.body.checks.opensearch.error).toContain(`127.0.0.1:${op}`);
      expect(r.body.checks.model.ok).toBe(true);
      expect(r.text).not.toContain('s3cret-pw');

      const s = await call(server.url, 'POST', '/v1/search', { json: { query: 'x', mode: 'bm25' } });
      expect(s.status).toBe(503);
      expect(s.headers.get('retry-after')).toBeTruthy();
      const d = await call(server.url, 'POST', '/v1/documents', { json: [{ id: 'a', text: 'b' }], key: API_KEY });
      expect(d.status).toBe(503);
      expect(d.text).not.toContain('s3cret-pw');
      const m = await call(server.url, 'GET', '/metrics');
      expect(m.status).toBe(200);
      expect(metricValue(m.text, 'saesplade_queue_up')).toBe(0);
    } finally {
      await server.close();
    }
  });
});

describe('spawned processes', () => {
  it('worker --metrics-port serves the worker metrics while it indexes what POST /v1/documents queued', async () => {
    const w = spawnCli(['worker', '--metrics-port', '0', '--json', '--encoder-workers', '1', '--threads', '1', '--concurrency', '1']);
    const ready = await w.first;
    expect(ready.event).toBe('ready');
    expect(ready.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const lines = sampleLines(4, 352);
    const posted = await call(busy.url, 'POST', '/v1/documents?format=beir', { body: lines.join('\n'), key: API_KEY });
    expect(posted.status).toBe(202);
    setIds.push(posted.body.setId);
    const done = await waitForSet(busy.url, posted.body.setId);
    expect(done.indexed).toBe(4);
    const m = await (await fetch(ready.metricsUrl)).text();
    expect(metricValue(m, 'saesplade_documents_total', { outcome: 'indexed' })).toBe(4);
    expect(metricValue(m, 'saesplade_ingest_jobs_total', { outcome: 'completed' })).toBe(1);
    expect(metricValue(m, 'saesplade_encode_duration_seconds_count', { mode: 'document' })).toBeGreaterThan(0);
    expect(metricValue(m, 'saesplade_encoder_threads')).toBe(1);
    expect(metricValue(m, 'saesplade_queue_jobs', { queue: config.queue, state: 'waiting' })).toBe(0);
    expect(metricValue(m, 'saesplade_build_info', { role: 'worker' })).toBe(1);
    expect(metricValue(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.lines.at(-1)).toMatchObject({ event: 'closed', indexed: 4 });
  });

  it('serve on SIGTERM stops accepting, finishes the request in flight, then exits 0', async () => {
    const s = spawnCli(['serve', '--port', '0', '--json', '--encoder-workers', '1', '--threads', '1', '--shutdown-grace', '60']);
    const ready = await s.first;
    expect(ready.event).toBe('ready');
    const inFlight = call(ready.url, 'POST', '/v1/encode', { json: { texts, mode: 'document' } });
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(8);
    const t0 = Date.now();
    expect(await s.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000); // not the grace period: nothing else held it
    expect(s.lines.at(-1)).toMatchObject({ event: 'closed' });
    await expect(fetch(ready.url + '/healthz')).rejects.toThrow();
  });
});
