/**
 * Secrets (issue 17's fault suite): with a password in REDIS_URL (a private, password-protected
 * redis-server started here on a spare port), OPENSEARCH_PASSWORD set and LOG_LEVEL=debug, no output
 * of any command (stdout, stderr, the debug log), no export file, no job payload and no Redis key or
 * value holds either password, on the happy paths and on the error paths (a job set that does not
 * exist, Redis and OpenSearch unreachable with a password in their URL). Real OpenSearch (it has no
 * security plugin: basic auth is sent and ignored), the tiny model, the CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { indicesBehind, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const stamp = `${process.pid}${Date.now().toString(36)}`;
const REDIS_PW = `redisSecret${stamp}`;
const OS_PW = `osSecret${stamp}`;
const URL_PW = `urlSecret${stamp}`;
const SECRETS = [REDIS_PW, OS_PW, URL_PW];
const base = { ...uniqueConfig('secrets'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(base);
const work = mkdtempSync(path.join(tmpdir(), 'saesplade-secrets-'));
let redisServer: ChildProcess | undefined;
let port = 0;
let redis: Redis;
const outputs: { what: string; text: string }[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  port = await freePort();
  redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', REDIS_PW, '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' });
  // Wait until the private server listens, then connect once (ioredis retries a failed connect by itself).
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 150) throw new Error('private redis-server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  redis = new Redis({ host: '127.0.0.1', port, password: REDIS_PW, maxRetriesPerRequest: 3 });
  redis.on('error', () => {});
  await redis.ping();
});

afterAll(async () => {
  const behind = await indicesBehind(client, base.index).catch(() => []);
  await client.indices.delete({ index: [base.index, ...behind].join(','), ignore_unavailable: true } as any).catch(() => {});
  await client.close();
  await redis?.quit().catch(() => {});
  redisServer?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const env = (over: NodeJS.ProcessEnv = {}) => ({
  ...process.env,
  ...configEnv(base),
  REDIS_URL: `redis://:${REDIS_PW}@127.0.0.1:${port}`,
  OPENSEARCH_USERNAME: 'admin',
  OPENSEARCH_PASSWORD: OS_PW,
  LOG_LEVEL: 'debug',
  ...over,
});

function cli(what: string, args: string[], over: NodeJS.ProcessEnv = {}) {
  const { command, args: pre } = cliInvocation();
  const r = spawnSync(command, [...pre, ...args], { env: env(over), encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  outputs.push({ what, text: `${r.stdout}\n${r.stderr}` });
  return r;
}

it('no command output, debug log, export file, job payload or Redis key holds a password', async () => {
  const f = tempFile('secrets.jsonl', [...sampleLines(6, 260), 'not json']);
  const exportFile = path.join(work, 'failed.jsonl');
  try {
    expect(cli('doctor', ['doctor']).status).toBe(0);
    const ing = cli('ingest', ['ingest', f.file, '--with-worker', '--json']);
    expect(ing.status, ing.stderr).toBe(0);
    const setId = JSON.parse(ing.stdout).setId as string;
    expect(cli('status', ['status', setId, '--json']).status).toBe(0);
    expect(cli('failed', ['failed', setId]).status).toBe(0);
    expect(cli('failed --export', ['failed', setId, '--export', exportFile]).status).toBe(0);
    outputs.push({ what: 'export file', text: readFileSync(exportFile, 'utf8') });
    expect(cli('failed --requeue', ['failed', setId, '--requeue', '--json']).status).toBe(0);
    expect(cli('search', ['search', 'heart disease', '--explain', '--json']).status).toBe(0);
    expect(cli('encode', ['encode', 'heart disease']).status).toBe(0);
    // Error paths: an unknown set, Redis and OpenSearch unreachable with a password in the URL.
    expect(cli('status unknown', ['status', 'no-such-set']).status).not.toBe(0);
    expect(cli('status redis down', ['status', setId], { REDIS_URL: `redis://:${URL_PW}@127.0.0.1:1` }).status).toBe(69);
    expect(cli('search opensearch down', ['search', 'heart'], { OPENSEARCH_URL: `http://admin:${URL_PW}@127.0.0.1:1` }).status).not.toBe(0);
    expect(cli('ingest opensearch down', ['ingest', f.file], { OPENSEARCH_URL: `http://admin:${URL_PW}@127.0.0.1:1` }).status).toBe(69);

    // A long-running worker: ready, then SIGTERM.
    const { command, args } = cliInvocation();
    const w = spawn(command, [...args, 'worker', '--json'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    w.stderr!.on('data', (b) => (text += b));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: w.stdout! }).on('line', (l) => {
        text += l + '\n';
        if (l.includes('"ready"')) resolve();
      });
      w.on('exit', () => reject(new Error(`worker exited early: ${text}`)));
    });
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
    outputs.push({ what: 'worker', text });

    // Everything in Redis: the job sets, BullMQ's job payloads and events, whatever the run left.
    const keys = await redis.keys('*');
    for (const k of keys) {
      const type = await redis.type(k);
      const value =
        type === 'hash' ? await redis.hgetall(k)
        : type === 'list' ? await redis.lrange(k, 0, -1)
        : type === 'set' ? await redis.smembers(k)
        : type === 'zset' ? await redis.zrange(k, 0, -1)
        : type === 'stream' ? await redis.xrange(k, '-', '+')
        : type === 'string' ? await redis.get(k)
        : null;
      outputs.push({ what: `redis ${type} ${k}`, text: `${k} ${JSON.stringify(value)}` });
    }
    const debugLines = outputs.reduce((n, o) => n + o.text.split('\n').filter((l) => l.includes('"level":20')).length, 0);
    const leaks = outputs.filter((o) => SECRETS.some((s) => o.text.includes(s))).map((o) => o.what);
    console.log(JSON.stringify({ fault: 'secrets: password in REDIS_URL, OPENSEARCH_PASSWORD, LOG_LEVEL=debug', outputsChecked: outputs.length, redisKeys: keys.length, debugLines, leaks }));
    expect(keys.length).toBeGreaterThan(5);
    expect(debugLines).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  } finally {
    f.remove();
  }
}, 600_000);
