/**
 * Opt-in (SAESPLADE_TEST_MULTINODE=1; .ci/run sets it): scripts/services.sh starts a real 3-node
 * OpenSearch cluster on 127.0.0.1:9210-9212 (transport 9310-9312, so it does not clash with the
 * single dev node on 9200), the cluster forms, an index with 1 replica goes green, and the script
 * stops it again. Takes about half a minute on 2 cores.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../../src/opensearch/client.js';

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
});
