/**
 * A relaxed bulk load killed before it restored refresh_interval is repaired by the next command
 * on the index (src/opensearch/bulk-settings.ts). `ingest --with-worker --bulk-refresh-interval -1`
 * is SIGKILLed mid-run (a fault proxy holds the `_bulk` answers, so the run is surely unfinished);
 * `doctor` right after the kill leaves the interval alone (the killed run's lease has not run out,
 * and a living run would look the same), and the next `ingest` once it has puts back the interval
 * the index had before (7s, kept in the index `_meta`). Real services, the tiny model, the CLI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { BULK_REFRESH_META, LEASE_MS, refreshHoldersKey } from '../../src/opensearch/bulk-settings.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { readMeta } from '../../src/opensearch/meta.js';
import { createRedis } from '../../src/redis.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, indicesBehind, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = { ...uniqueConfig('refresh-heal'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const setIds: string[] = [];
const files: { remove: () => void }[] = [];
let proxy: FaultProxy | undefined;

afterAll(async () => {
  await proxy?.pass();
  await proxy?.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  for (const f of files) f.remove();
});

const { command, args } = cliInvocation();
const env = (over: NodeJS.ProcessEnv = {}) => ({ ...process.env, ...configEnv(config), LOG_LEVEL: 'warn', ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(argv: string[]) {
  const r = spawnSync(command, [...args, ...argv], { env: env(), encoding: 'utf8', timeout: 120_000 });
  expect(r.signal).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function refreshOf(index: string): Promise<string | undefined> {
  const body = (await client.indices.getSettings({ index, flat_settings: true } as any)).body as Record<string, { settings: Record<string, string> }>;
  return body[index]!.settings['index.refresh_interval'];
}

it('a SIGKILLed relaxed ingest leaves refresh_interval relaxed; the next command after its lease restores the original', { timeout: 240_000 }, async () => {
  const file = (name: string, lines: string[]) => {
    const f = tempFile(name, lines);
    files.push(f);
    return f.file;
  };
  // The index exists with an interval of its own.
  setIds.push(cli(['ingest', file('first.jsonl', sampleLines(4, 120)), '--with-worker', '--json']).setId);
  const index = (await indicesBehind(client, config.index))[0]!;
  await client.indices.putSettings({ index, body: { index: { refresh_interval: '7s' } } } as any);

  // The relaxed run, killed while its bulk requests wait for answers.
  proxy = await FaultProxy.start(config.opensearchUrl);
  proxy.holdAnswers(/\/_bulk/);
  const child = spawn(command, [...args, 'ingest', file('killed.jsonl', sampleLines(16, 124)), '--with-worker', '--bulk-refresh-interval', '-1', '--batch-size', '4', '--json'], {
    env: env({ OPENSEARCH_URL: proxy.url }),
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
  for (const t0 = Date.now(); !((await refreshOf(index)) === '-1' && proxy.stats.held > 0); await sleep(100)) {
    if (Date.now() - t0 > 90_000) throw new Error('the relaxed run never wrote');
  }
  const meta = (await readMeta(client, index))[BULK_REFRESH_META];
  expect(meta).toMatchObject({ original: '7s', relaxed: '-1' });
  child.kill('SIGKILL');
  const killedAt = Date.now();
  expect(await exited).toBe('SIGKILL');
  await proxy.pass();

  // Right after the kill its lease still holds: doctor must not take it for abandoned.
  const early = cli(['doctor', '--json']);
  const earlyS = (Date.now() - killedAt) / 1000;
  expect(early.refreshRestored).toEqual([]);
  const afterKill = await refreshOf(index);
  expect(afterKill).toBe('-1');

  // Once the lease ran out, the next ingest (not relaxed itself) restores the interval of before.
  await sleep(Math.max(0, killedAt + LEASE_MS + 500 - Date.now()));
  const next = cli(['ingest', file('next.jsonl', sampleLines(4, 140)), '--with-worker', '--json']);
  setIds.push(next.setId);
  const restored = await refreshOf(index);
  const metaAfter = (await readMeta(client, index))[BULK_REFRESH_META];
  const holders = await redis.zcard(refreshHoldersKey(index));
  console.log(
    JSON.stringify({
      fault: 'ingest --with-worker --bulk-refresh-interval -1 SIGKILLed mid-run',
      before: '7s',
      whileRunning: '-1',
      afterKill,
      doctorAfterS: Math.round(earlyS * 10) / 10,
      doctorRestored: early.refreshRestored.length,
      nextIngestAfterS: Math.round(((Date.now() - killedAt) / 1000) * 10) / 10,
      restoredTo: restored,
      metaLeft: metaAfter !== undefined,
      leaseMs: LEASE_MS,
    }),
  );
  expect(restored).toBe('7s');
  expect(metaAfter).toBeUndefined();
  expect(holders).toBe(0);
});
