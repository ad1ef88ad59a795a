/**
 * Redis SIGKILLed mid-ingest and started again by the project's own script (issue 17's fault
 * suite): `scripts/services.sh start --only redis` starts a Redis of this test's own on a spare
 * port (AOF on, appendfsync everysec, in .run/redis-PORT/), `ingest --with-worker` runs against it
 * (a fault proxy adds 100 ms to each OpenSearch request so the kill falls mid-run), the test
 * SIGKILLs that redis-server, waits 3 s and starts it again with the script. The run completes
 * on its own: every document is in the index once (`_count`, the ids, every `_version` 1), none
 * failed. The shared Redis is never touched. Opt-in: SAESPLADE_TEST_FAULTS=1 (.ci/run sets it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const ON = process.env.SAESPLADE_TEST_FAULTS === '1';
const N = 200;
const SCRIPT = path.join(PACKAGE_ROOT, 'scripts', 'services.sh');
let port = 0;
let config = { ...uniqueConfig('redis-kill'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const f = tempFile('redis-kill.jsonl', sampleLines(N, 0));
let proxy: FaultProxy | undefined;
let started = false;

const scriptEnv = () => ({ ...process.env, REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PORT: String(port) });
function services(cmd: 'start' | 'stop') {
  const r = spawnSync('bash', [SCRIPT, cmd, '--only', 'redis'], { env: scriptEnv(), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`services.sh ${cmd} --only redis: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}
const redisDir = () => path.join(PACKAGE_ROOT, '.run', `redis-${port}`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

afterAll(async () => {
  await proxy?.pass();
  await proxy?.close();
  if (started) {
    await cleanup(config, client, []).catch(() => {});
    services('stop');
    rmSync(redisDir(), { recursive: true, force: true });
  }
  await client.close();
  f.remove();
});

it.skipIf(!ON)('Redis SIGKILLed mid-ingest and restarted by scripts/services.sh (AOF): every document indexed once', { timeout: 300_000 }, async () => {
  // A spare port: 6379 is taken by the shared Redis, so the script keeps this one in .run/redis-PORT/.
  do port = await freePort();
  while (port === 6379);
  config = { ...config, redisUrl: `redis://127.0.0.1:${port}` };
  const startLine = services('start');
  started = true;
  expect(startLine).toContain(`redis-${port}`);
  const pid = Number(readFileSync(path.join(redisDir(), 'redis.pid'), 'utf8').trim());

  proxy = await FaultProxy.start(config.opensearchUrl);
  proxy.latency(100);
  const { command, args } = cliInvocation();
  const t0 = Date.now();
  const child = spawn(command, [...args, 'ingest', f.file, '--with-worker', '--batch-size', '4', '--json'], {
    env: { ...process.env, ...configEnv(config), OPENSEARCH_URL: proxy.url, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));

  // Kill once a fair part is in the index (and the run surely not done).
  let countAtKill = 0;
  for (;;) {
    countAtKill = await client
      .count({ index: config.index })
      .then((r) => (r.body as any).count as number)
      .catch(() => 0);
    if (countAtKill >= 40) break;
    if (child.exitCode !== null) throw new Error(`ingest ended before the kill: ${stderr}`);
    if (Date.now() - t0 > 120_000) throw new Error('ingest made no progress');
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(pid, 'SIGKILL');
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  const restartLine = services('start');
  const downS = (Date.now() - killedAt) / 1000;
  const newPid = Number(readFileSync(path.join(redisDir(), 'redis.pid'), 'utf8').trim());

  const { code, signal } = await Promise.race([
    exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`ingest did not finish: ${stderr.slice(-2000)}`)), 200_000)),
  ]);
  expect(signal).toBeNull();
  expect(code, stderr).toBe(0);
  const summary = JSON.parse(stdout);
  await client.indices.refresh({ index: config.index });
  const ids = sampleLines(N, 0).map((l) => JSON.parse(l)._id as string);
  const got = ((await client.mget({ index: config.index, body: { ids }, _source: false } as any)).body as any).docs as { found: boolean; _version?: number }[];
  const count = ((await client.count({ index: config.index })).body as any).count as number;
  const versions = got.map((g) => g._version ?? 0);
  const figures = {
    fault: 'Redis SIGKILLed mid-ingest, restarted by scripts/services.sh start --only redis (AOF everysec)',
    docs: N,
    indexed: summary.indexed,
    skipped: summary.skipped,
    failed: summary.failed,
    count,
    found: got.filter((g) => g.found).length,
    maxVersion: Math.max(...versions),
    countAtKill,
    redisDownS: Math.round(downS * 10) / 10,
    pids: [pid, newPid],
    stderrLines: stderr.split('\n').filter((l) => l.trim() !== '').length,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    exit: code,
  };
  console.log(JSON.stringify(figures));
  expect(restartLine).toContain('ready');
  expect(newPid).not.toBe(pid);
  expect(summary).toMatchObject({ failed: 0 });
  expect(summary.indexed + summary.skipped).toBe(N);
  expect(count).toBe(N);
  expect(figures.found).toBe(N);
  expect(figures.maxVersion).toBe(1);
});
