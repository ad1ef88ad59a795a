/**
 * Opt-in (SAESPLADE_TEST_MULTINODE=1; .ci/run sets it): scripts/services.sh starts a real 3-node
 * OpenSearch cluster on 127.0.0.1:9210-9212 (transport 9310-9312, so it does not clash with the
 * single dev node on 9200), the cluster forms, an index with 1 replica goes green; then the fault
 * suite's node loss: `ingest --with-worker --shards 3 --replicas 1` (the product creates the index)
 * loses one node to SIGKILL mid-run, and every document is there at the end. The script stops the
 * cluster again. About a minute on 2 cores.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const HTTP_PORT = Number(process.env.SAESPLADE_TEST_MULTINODE_PORT ?? 9210);
const CLUSTER = ['--nodes', '3', '--http-port', String(HTTP_PORT), '--transport-port', String(HTTP_PORT + 100), '--only', 'opensearch'];
const SCRIPT = path.join(PACKAGE_ROOT, 'scripts', 'services.sh');

function services(...args: string[]): { status: number | null; out: string } {
  // OPENSEARCH_URL is dropped so that the script never mistakes the user's cluster for this one.
  const env = { ...process.env, OPENSEARCH_URL: '' };
  const r = spawnSync('bash', [SCRIPT, ...args], { env, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!['1', 'true', 'yes'].includes(process.env.SAESPLADE_TEST_MULTINODE ?? ''))('3-node OpenSearch cluster (scripts/services.sh start --nodes 3)', () => {
  let client: Client;
  const url = `http://127.0.0.1:${HTTP_PORT}`;

  beforeAll(() => {
    services('stop', ...CLUSTER); // a leftover from an interrupted run
    const t0 = Date.now();
    const r = services('start', ...CLUSTER, '--fresh');
    console.log(`3-node cluster: start to healthy ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.out.trim()}`);
    expect(r.status, r.out).toBe(0);
    client = createOpenSearchClient(loadConfig({ opensearchUrl: url }, {}));
  });

  afterAll(async () => {
    await client?.close();
    const t0 = Date.now();
    const r = services('stop', ...CLUSTER);
    console.log(`3-node cluster: stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.status, r.out).toBe(0);
  });

  it('forms one cluster of 3 nodes', async () => {
    expect((await checkOpenSearch(client, url)).distribution).toBe('opensearch');
    const health = (await client.cluster.health()).body;
    expect(health.number_of_nodes).toBe(3);
    expect(health.cluster_name).toBe(`saesplade-dev-${HTTP_PORT}`);
  });

  it('places replicas: an index with 1 replica goes green', async () => {
    const index = 'multinode-replicas';
    await client.indices.create({
      index,
      body: {
        settings: { number_of_shards: 3, number_of_replicas: 1 },
        mappings: { properties: { concepts: { type: 'rank_features' } } },
      },
    });
    const health = (await client.cluster.health({ index, wait_for_status: 'green', timeout: '60s' })).body;
    expect(health.status).toBe('green');
    expect(health.active_shards).toBe(6);
    await client.index({ index, id: '1', body: { concepts: { '7': 2 } }, refresh: 'true' });
    const hits = (
      await client.search({ index, body: { query: { rank_feature: { field: 'concepts.7', linear: {}, boost: 3 } } } })
    ).body.hits.hits;
    expect(hits[0]._score).toBe(6);
  });

  it('a node SIGKILLed mid-ingest into an index the product created with 1 replica: the run completes, every document is there', { timeout: 240_000 }, async () => {
    const N = 160;
    const config = { ...uniqueConfig('multinode-kill'), modelDir: TINY_MODEL, opensearchUrl: url };
    const f = tempFile('multinode-kill.jsonl', sampleLines(N, 200));
    // 100 ms per request through a proxy in front of node-0, so that the kill falls mid-run.
    const proxy = await FaultProxy.start(url);
    proxy.latency(100);
    const { command, args } = cliInvocation();
    const t0 = Date.now();
    const child = spawn(command, [...args, 'ingest', f.file, '--with-worker', '--shards', '3', '--replicas', '1', '--batch-size', '4', '--json'], {
      env: { ...process.env, ...configEnv(config), OPENSEARCH_URL: proxy.url, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    try {
      let countAtKill = 0;
      for (;;) {
        countAtKill = await client.count({ index: config.index }).then((r) => (r.body as any).count as number, () => 0);
        if (countAtKill >= 30) break;
        if (child.exitCode !== null) throw new Error(`ingest ended before the kill: ${stderr}`);
        if (Date.now() - t0 > 120_000) throw new Error('ingest made no progress');
        await new Promise((r) => setTimeout(r, 100));
      }
      // The node that holds the most primaries of the index, other than node-0 (the proxy's).
      const shards = (await client.cat.shards({ index: config.index, format: 'json', h: 'shard,prirep,node' } as any)).body as { prirep: string; node: string }[];
      const primaries = (n: string) => shards.filter((s) => s.prirep === 'p' && s.node === n).length;
      const victim = ['node-1', 'node-2'].sort((a, b) => primaries(b) - primaries(a))[0]!;
      const dir = path.join(PACKAGE_ROOT, '.run', 'opensearch', String(HTTP_PORT));
      const pid = Number(readFileSync(path.join(dir, `${victim}.pid`), 'utf8').trim());
      process.kill(pid, 'SIGKILL');
      const killedAt = Date.now();
      const { code, signal } = await Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`ingest did not finish: ${stderr.slice(-2000)}`)), 200_000)),
      ]);
      expect(signal).toBeNull();
      expect(code, stderr).toBe(0);
      const summary = JSON.parse(stdout);
      const settings = (await client.indices.getSettings({ index: config.index, flat_settings: true } as any)).body as Record<string, { settings: Record<string, string> }>;
      const s = Object.values(settings)[0]!.settings;
      await client.indices.refresh({ index: config.index });
      const ids = sampleLines(N, 200).map((l) => JSON.parse(l)._id as string);
      const got = ((await client.mget({ index: config.index, body: { ids }, _source: false } as any)).body as any).docs as { found: boolean; _version?: number }[];
      const count = ((await client.count({ index: config.index })).body as any).count as number;
      const health = (await client.cluster.health({ index: config.index } as any)).body as any;
      const figures = {
        fault: 'one node of 3 SIGKILLed mid-ingest; index created by ingest --shards 3 --replicas 1',
        docs: N,
        indexed: summary.indexed,
        skipped: summary.skipped,
        failed: summary.failed,
        count,
        found: got.filter((g) => g.found).length,
        maxVersion: Math.max(...got.map((g) => g._version ?? 0)),
        replicas: s['index.number_of_replicas'],
        shards: s['index.number_of_shards'],
        killed: victim,
        primariesOnIt: primaries(victim),
        countAtKill,
        finishedAfterKillS: Math.round((Date.now() - killedAt) / 100) / 10,
        health: health.status,
        nodes: health.number_of_nodes,
        seconds: Math.round((Date.now() - t0) / 100) / 10,
      };
      console.log(JSON.stringify(figures));
      expect(figures.replicas).toBe('1');
      expect(primaries(victim)).toBeGreaterThan(0);
      expect(summary).toMatchObject({ failed: 0 });
      expect(summary.indexed + summary.skipped).toBe(N);
      expect(count).toBe(N);
      expect(figures.found).toBe(N);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await proxy.close();
      await cleanup(config, client, []).catch(() => {});
      f.remove();
    }
  });
});
