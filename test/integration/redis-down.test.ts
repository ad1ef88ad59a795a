/**
 * Redis unreachable (docs/RELIABILITY.md, "Outages"): every command says once, in one line, what is
 * down and where (password redacted), and exits with code 69 within a bound instead of retrying
 * forever with ioredis stack traces; a running worker says once that Redis went away and once that
 * it is back, and carries on. The shared Redis is never stopped: a port nothing listens on, and a
 * TCP proxy (test/helpers/tcp-proxy.ts) that goes away, stand for a dead Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { cliInvocation, modelIdentity, produceJobSet, waitForJobSet } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const PW = 'redis-down-sekrit';
const base = uniqueConfig('redis-down');
const client = createOpenSearchClient(base);
const files: { remove: () => void }[] = [];
const setIds: string[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cleanup(base, client, setIds);
  await client.close();
  for (const f of files) f.remove();
});

function run(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; seconds: number }> {
  const { command, args: pre } = cliInvocation();
  const t0 = Date.now();
  const child = spawn(command, [...pre, ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    }),
  );
}

function oneDoc(): string {
  const f = tempFile('one.jsonl', sampleLines(1, 380));
  files.push(f);
  return f.file;
}

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('a Redis URL nothing listens on', () => {
  it.each([
    ['status', () => ['status', 'some-set']],
    ['failed', () => ['failed', 'some-set']],
    ['ingest --wait', () => ['ingest', oneDoc(), '--wait', '-i', base.index, '--queue', base.queue]],
    ['worker', () => ['worker', '--queue', base.queue]],
  ] as const)('%s: one line naming Redis (password redacted), exit code 69, no hang', async (_name, args) => {
    const port = await unusedPort();
    const r = await run([...args(), '--redis-url', `redis://:${PW}@127.0.0.1:${port}`], {}, 60_000);
    const lines = r.stderr.trim().split('\n');
    console.log(JSON.stringify({ command: _name, code: r.code, seconds: r.seconds, stderrLines: lines.length }));
    expect(r.signal, `it hung and was killed: ${r.stderr.slice(0, 500)}`).toBeNull();
    expect(r.code).toBe(69);
    // no wall-clock bound beyond the 60 s kill: a timed assertion fails on a busy machine (the figure is printed)
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} is not usable: connection refused`));
    expect(r.stderr + r.stdout).not.toContain(PW);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('Redis going away under a running worker', () => {
  it('the worker says so once, says once that it is back, and finishes the queued documents', async () => {
    const proxy = await TcpProxy.start(base.redisUrl);
    const viaProxy = `redis://127.0.0.1:${proxy.port}`;
    await ensureConceptIndex(client, base.index, modelIdentity(base.modelDir));
    const { command, args } = cliInvocation();
    const worker = spawn(command, [...args, 'worker', '--json', '--concurrency', '2'], {
      env: { ...process.env, LOG_LEVEL: 'info', REDIS_URL: viaProxy, SAESPLADE_QUEUE: base.queue, SAESPLADE_INDEX: base.index },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(worker);
    let stderr = '';
    worker.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      worker.stdout.on('data', (d) => String(d).includes('"ready"') && resolve());
      worker.on('exit', (c) => reject(new Error(`worker exited ${c}: ${stderr}`)));
    });
    const before = stderr.length;
    await proxy.refuse();
    await new Promise((r) => setTimeout(r, 10_000));
    await proxy.accept();
    await new Promise((r) => setTimeout(r, 3000));
    const during = stderr.slice(before);

    const redis = createRedis(base);
    const queue = createIngestQueue(base.queue, redis);
    const store = new JobSetStore(redis);
    const N = 8;
    const f = tempFile('after-redis.jsonl', sampleLines(N, 384));
    files.push(f);
    const produced = await produceJobSet({ source: f.file, index: base.index, queue, store, batchSize: 4 });
    setIds.push(produced.setId);
    const final = await waitForJobSet({ store, queue, setId: produced.setId, intervalMs: 200, stallTimeoutMs: 90_000 });
    worker.kill('SIGTERM');
    await new Promise((r) => worker.on('exit', r));
    await queue.close();
    await redis.quit();
    await proxy.close();

    const lines = during.trim().split('\n').filter(Boolean);
    console.log(JSON.stringify({ fault: 'Redis away 10 s under a worker', stderrLinesDuringOutage: lines.length, lines: lines.map((l) => l.slice(0, 160)), docsAfter: N, indexed: final.indexed, failed: final.failed }));
    expect(lines.filter((l) => /is unreachable/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /answers again/.test(l))).toHaveLength(1);
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(during).not.toMatch(/^\s+at /m);
    expect(final).toMatchObject({ done: true, failed: 0 });
    expect(final.indexed + final.skipped).toBe(N);
  }, 180_000);
});
