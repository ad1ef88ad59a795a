/**
 * The engine matrix (docs/ENGINES.md): the same core checks against each engine in
 * SAESPLADE_TEST_ENGINES (comma list of opensearch-2, opensearch-3, elasticsearch-7; default
 * `opensearch-2`, which uses the already running node at OPENSEARCH_URL and starts nothing).
 *
 * opensearch-3 and elasticsearch-7 are started by scripts/services.sh on spare ports (9220 and 9230,
 * transport +100; SAESPLADE_TEST_ENGINES_PORT moves the base), checked, and stopped again:
 *
 *   SAESPLADE_TEST_ENGINES=opensearch-2,opensearch-3,elasticsearch-7 npx vitest run test/integration/engines.test.ts
 *
 * Checks: the adapter recognizes the engine; the product's ensureConceptIndex creates the concept
 * index from mappings/concepts-index.json (rank_features, english analyzer, model _meta) and refuses
 * a wrong model; a bool of linear rank_feature clauses scores the dot product (the same scores on
 * every engine); 1025 clauses are rejected; point in time open / search_after / close through the
 * adapter; _reindex (slices=auto) and an atomic alias switch; the OpenSearch-compatible endpoint
 * (`serve --compat-port`, real default model) in front of the engine: opensearch-js bulk and a
 * concept_sparse search with a filter giving search()'s hits.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import type { ModelIdentity } from '../../src/encoder/types.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { getEngine, type EngineName, type SearchEngine } from '../../src/opensearch/engine.js';
import { CONCEPT_FIELD, ensureConceptIndex, IndexModelMismatchError } from '../../src/opensearch/indexes.js';
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { ensureIngestTarget } from '../../src/ingest/target.js';
import { search } from '../../src/search/search.js';
import { sampleLines } from './ingest-helpers.js';
import { startTestServer } from './server-helpers.js';

type EngineId = 'opensearch-2' | 'opensearch-3' | 'elasticsearch-7';
const BASE_PORT = Number(process.env.SAESPLADE_TEST_ENGINES_PORT ?? 9220);
const ENGINES: Record<EngineId, { name: EngineName; major: number; port?: number }> = {
  // the node scripts/test.sh runs (OPENSEARCH_URL): nothing is started or stopped for it
  'opensearch-2': { name: 'opensearch', major: 2 },
  'opensearch-3': { name: 'opensearch', major: 3, port: BASE_PORT },
  'elasticsearch-7': { name: 'elasticsearch', major: 7, port: BASE_PORT + 10 },
};
const SELECTED = (process.env.SAESPLADE_TEST_ENGINES ?? 'opensearch-2')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as EngineId[];
for (const e of SELECTED) {
  if (!(e in ENGINES)) throw new Error(`SAESPLADE_TEST_ENGINES: unknown engine "${e}" (known: ${Object.keys(ENGINES).join(', ')})`);
}
const SCRIPT = path.join(PACKAGE_ROOT, 'scripts', 'services.sh');

function services(...args: string[]): { status: number | null; out: string } {
  // OPENSEARCH_URL and ENGINE are dropped so that the script acts on exactly the cluster named here.
  const env = { ...process.env, OPENSEARCH_URL: '', ENGINE: '' };
  const r = spawnSync('bash', [SCRIPT, ...args], { env, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const MODEL: ModelIdentity = { name: 'engine-matrix-model', version: '1', dictionarySize: 50_000 };
const OTHER_MODEL: ModelIdentity = { name: 'engine-matrix-model', version: '2', dictionarySize: 50_000 };

/** What a rank_features value keeps (see services.test.ts): sign, exponent, top 8 mantissa bits. */
function rankFeatureStored(v: number): number {
  const f = new Float32Array([v]);
  const bits = new Uint32Array(f.buffer);
  bits[0] = (bits[0]! >>> 15) << 15;
  return f[0]!;
}

function rankFeatureQuery(weights: Record<string, number>) {
  return {
    bool: {
      should: Object.entries(weights).map(([concept, w]) => ({
        rank_feature: { field: `${CONCEPT_FIELD}.${concept}`, linear: {}, boost: w },
      })),
    },
  };
}

const DOCS: Record<string, Record<string, number>> = {
  d1: { '1': 1.0, '42': 2.0 },
  d2: { '42': 0.3, '4711': 3.0, '9': 7.0 },
  d3: { '1': 0.1234, '4711': 0.7777, '40000': 12.5 },
  d4: { '9': 5.0 },
};
const QUERY = { '1': 0.5, '42': 2.0, '4711': 1.3333 };

/** Per engine: start time, check time, and the scores, for the cross-engine comparison and the report. */
const results: Partial<Record<EngineId, { startS?: number; checksS?: number; stopS?: number; scores?: Record<string, number> }>> = {};

afterAll(() => {
  const lines = Object.entries(results).map(
    ([e, r]) =>
      `  ${e.padEnd(16)} start ${r.startS === undefined ? '  (running)' : `${r.startS.toFixed(1).padStart(5)} s`}` +
      `   checks ${r.checksS?.toFixed(1).padStart(5) ?? '    -'} s   stop ${r.stopS?.toFixed(1) ?? '-'} s`,
  );
  console.log(`engine matrix (${SELECTED.join(', ')}):\n${lines.join('\n')}`);
  // The same query over the same documents scores the same on every engine, to the last bit of float32.
  const scored = Object.entries(results).filter(([, r]) => r.scores);
  for (const [e, r] of scored.slice(1)) {
    expect(r.scores, `scores on ${e} vs ${scored[0]![0]}`).toEqual(scored[0]![1].scores);
  }
});

describe.each(SELECTED)('engine %s', (id) => {
  const spec = ENGINES[id];
  const url = spec.port ? `http://127.0.0.1:${spec.port}` : loadConfig().opensearchUrl;
  const cluster = spec.port ? ['--engine', id, '--http-port', String(spec.port), '--transport-port', String(spec.port + 100)] : [];
  const prefix = `engine-matrix-${process.pid}`;
  const created: string[] = [];
  let client: Client;
  let engine: SearchEngine;
  let t0 = 0;
  results[id] = {};

  beforeAll(async () => {
    if (spec.port) {
      services('stop', ...cluster); // a leftover of an interrupted run
      const t = Date.now();
      const r = services('start', ...cluster, '--fresh');
      results[id]!.startS = (Date.now() - t) / 1000;
      console.log(`${id}: start to healthy ${results[id]!.startS!.toFixed(1)} s\n${r.out.trim()}`);
      expect(r.status, r.out).toBe(0);
    }
    client = createOpenSearchClient(loadConfig({ opensearchUrl: url }, {}));
    t0 = Date.now();
  });

  afterAll(async () => {
    results[id]!.checksS = (Date.now() - t0) / 1000;
    if (client) {
      await client.indices.delete({ index: created.join(','), ignore_unavailable: true }).catch(() => undefined);
      await client.close();
    }
    if (spec.port) {
      const t = Date.now();
      const r = services('stop', ...cluster);
      results[id]!.stopS = (Date.now() - t) / 1000;
      expect(r.status, r.out).toBe(0);
    }
  });

  it('is recognized by the engine adapter (one GET /, through checkOpenSearch)', async () => {
    const identity = await checkOpenSearch(client, url);
    expect(identity.support).toBe('tested');
    engine = await getEngine(client);
    expect(engine.name).toBe(spec.name);
    expect(engine.info.major).toBe(spec.major);
    expect(identity.version).toBe(engine.info.version);
  });

  it('creates the concept index with the product\'s ensureConceptIndex, and refuses another model', async () => {
    const index = `${prefix}-concepts`;
    created.push(index);
    expect(await ensureConceptIndex(client, index, MODEL)).toEqual({ created: true });
    expect(await ensureConceptIndex(client, index, MODEL)).toEqual({ created: false });
    await expect(ensureConceptIndex(client, index, OTHER_MODEL)).rejects.toBeInstanceOf(IndexModelMismatchError);

    const mapping = ((await client.indices.getMapping({ index })).body as any)[index].mappings;
    expect(mapping.properties[CONCEPT_FIELD].type).toBe('rank_features');
    expect(mapping._meta).toMatchObject({ model_name: MODEL.name, model_version: MODEL.version, dictionary_size: MODEL.dictionarySize });
    const analyzed = (await client.indices.analyze({ index, body: { field: 'text', text: 'running dogs' } })).body as any;
    expect(analyzed.tokens.map((t: { token: string }) => t.token)).toEqual(['run', 'dog']);
  });

  it('scores a bool of linear rank_feature clauses as the dot product', async () => {
    const index = `${prefix}-concepts`;
    const ops = Object.entries(DOCS).flatMap(([docId, concepts]) => [
      { index: { _index: index, _id: docId } },
      { title: docId, text: `document ${docId}`, concepts, content_hash: docId, model_version: MODEL.version },
    ]);
    const bulk = (await client.bulk({ body: ops, refresh: 'true' })).body as any;
    expect(bulk.errors).toBe(false);
    // Elasticsearch 7 adds _type to each item; the adapter drops it, and the rest is the same everywhere
    expect(Object.keys(engine.withoutType(bulk.items[0].index)).sort()).not.toContain('_type');

    const res = (await client.search({ index, body: { query: rankFeatureQuery(QUERY), track_total_hits: false, size: 10 } })).body;
    const hits = (res.hits.hits as { _id: string; _score: number; _type?: string }[]).map((h) => engine.withoutType(h));
    const exact = (d: string) => Object.entries(QUERY).reduce((s, [c, w]) => s + w * (DOCS[d]![c] ?? 0), 0);
    const quantized = (d: string) => Object.entries(QUERY).reduce((s, [c, w]) => s + w * rankFeatureStored(DOCS[d]![c] ?? 0), 0);
    expect(hits.map((h) => h._id)).toEqual(['d2', 'd1', 'd3']);
    for (const h of hits) {
      expect(h._score).toBeLessThanOrEqual(exact(h._id) * (1 + 1e-6));
      expect(h._score).toBeGreaterThan(exact(h._id) * (1 - 2 ** -8) * (1 - 1e-6));
      expect(Math.abs(h._score - quantized(h._id)) / quantized(h._id)).toBeLessThan(1e-5);
    }
    expect(hits.find((h) => h._id === 'd1')!._score).toBe(4.5);
    results[id]!.scores = Object.fromEntries(hits.map((h) => [h._id, h._score]));
  });

  it('rejects 1025 rank_feature clauses and accepts 1024 (indices.query.bool.max_clause_count)', async () => {
    const index = `${prefix}-concepts`;
    const weights = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), 1]));
    const ok = await client.search({ index, body: { query: rankFeatureQuery(weights(1024)), track_total_hits: false } });
    expect(ok.statusCode).toBe(200);
    await expect(
      client.search({ index, body: { query: rankFeatureQuery(weights(1025)), track_total_hits: false } }),
    ).rejects.toThrow(/maxClauseCount is set to 1024|too_many_clauses|too_many_nested_clauses/);
  });

  it('pages a point in time with search_after through the adapter, across shards', async () => {
    const index = `${prefix}-pit`;
    created.push(index);
    await ensureConceptIndex(client, index, MODEL, { shards: 3 });
    const ids = Array.from({ length: 23 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    const ops = ids.flatMap((docId, i) => [
      { index: { _index: index, _id: docId } },
      { text: `page ${docId}`, concepts: { '7': 1 + i }, content_hash: docId },
    ]);
    expect((await client.bulk({ body: ops, refresh: 'true' })).body.errors).toBe(false);

    const pit = await engine.openPointInTime(index, '1m');
    // documents indexed after the PIT opened are not in it
    await client.index({ index, id: 'late', body: { text: 'late', concepts: { '7': 1 } }, refresh: 'true' });
    const seen: string[] = [];
    let after: unknown[] | undefined;
    let pages = 0;
    for (;;) {
      const body: Record<string, unknown> = {
        ...engine.pitBody(pit, '1m'),
        size: 5,
        sort: engine.pitSort(),
        track_total_hits: false,
        _source: false,
        ...(after ? { search_after: after } : {}),
      };
      const page = (await client.search({ body })).body.hits.hits as { _id: string; sort: unknown[] }[];
      if (page.length === 0) break;
      pages++;
      seen.push(...page.map((h) => h._id));
      after = page[page.length - 1]!.sort;
    }
    await engine.closePointInTime(pit);
    expect(pages).toBe(5);
    expect([...seen].sort()).toEqual(ids);
    // closed: searching it fails; closing again is not an error
    await expect(client.search({ body: { ...engine.pitBody(pit, '1m'), size: 1 } })).rejects.toThrow();
    await engine.closePointInTime(pit);
  });

  it('reindexes (slices=auto) into a new index and switches the alias atomically', async () => {
    const [v1, v2, alias] = [`${prefix}-v1`, `${prefix}-v2`, `${prefix}-alias`];
    created.push(v1, v2);
    await ensureConceptIndex(client, v1, MODEL, { shards: 2 });
    await ensureConceptIndex(client, v2, MODEL, { shards: 2 });
    const ops = Object.entries(DOCS).flatMap(([docId, concepts]) => [{ index: { _index: v1, _id: docId } }, { text: docId, concepts }]);
    expect((await client.bulk({ body: ops, refresh: 'true' })).body.errors).toBe(false);
    await client.indices.putAlias({ index: v1, name: alias });

    const reindex = (
      await client.reindex({ body: { source: { index: v1 }, dest: { index: v2 } }, slices: 'auto', refresh: true, wait_for_completion: true })
    ).body as { failures?: unknown[]; created?: number };
    expect(reindex.failures).toEqual([]);
    expect(reindex.created).toBe(Object.keys(DOCS).length);
    await client.index({ index: v2, id: 'only-in-v2', body: { text: 'new', concepts: { '42': 1 } }, refresh: 'true' });

    const count = async () => (await client.count({ index: alias })).body.count as number;
    expect(await count()).toBe(4);
    await client.indices.updateAliases({
      body: { actions: [{ remove: { index: v1, alias } }, { add: { index: v2, alias } }] },
    });
    expect(await count()).toBe(5);
    const aliases = (await client.indices.getAlias({ name: alias })).body as Record<string, unknown>;
    expect(Object.keys(aliases)).toEqual([v2]);
    // the alias resolves to the one index behind it for the model guard, too
    expect(await ensureConceptIndex(client, alias, MODEL)).toEqual({ created: false });
    const hits = (await client.search({ index: alias, body: { query: rankFeatureQuery(QUERY), size: 10 } })).body.hits.hits as { _id: string }[];
    expect(hits.map((h) => h._id)).toEqual(['d2', 'd1', 'only-in-v2', 'd3']);
  });

  it('serves the OpenSearch-compatible endpoint: bulk through opensearch-js, a concept_sparse search with a filter equal to search()', async () => {
    const name = `${prefix}-compat`;
    const config = loadConfig({ opensearchUrl: url, index: name, queue: `${prefix}-compat`, logLevel: 'warn' }, {});
    const server = await startTestServer(config, { compatPort: 0, encoderWorkers: 1, encoderThreads: 2 });
    const app = new OpenSearchClient({ node: server.compatUrl! });
    try {
      await ensureIngestTarget(client, name, server.ctx.model, config.modelDir);
      created.push(...Object.keys((await client.indices.getAlias({ name })).body as object));
      await client.indices.putMapping({ index: name, body: { properties: { lang: { type: 'keyword' } } } } as any);
      const docs = sampleLines(6, 200).map((l, i) => ({ ...(JSON.parse(l) as { _id: string; title: string; text: string }), lang: i % 2 ? 'en' : 'de' }));
      const res = await app.bulk({ refresh: true, body: docs.flatMap((d) => [{ index: { _index: name, _id: d._id } }, { title: d.title, text: d.text, lang: d.lang }]) } as any);
      expect((res.body as any).errors).toBe(false);
      expect((res.body as any).items.map((i: any) => i.index.status)).toEqual(docs.map(() => 201));
      const query = docs[1]!.title;
      const filter = { match: { lang: 'en' } };
      const got = (await app.search({ index: name, body: { size: 3, query: { bool: { must: [{ concept_sparse: { concepts: { query_text: query } } }], filter: [filter] } } } } as any)).body as any;
      const lib = await search({ client, encoder: server.ctx.encoder }, { index: name, query, size: 3, filter });
      expect(got.hits.hits.map((h: any) => h._id)).toEqual(lib.hits.map((h) => h.id));
      expect(got.hits.hits[0]._id).toBe(docs[1]!._id);
    } finally {
      await app.close();
      await server.close();
    }
  });
});
