/**
 * The OpenSearch-compatible endpoint (`serve --compat-port`, docs/COMPAT.md) against the real
 * services and the real default model, driven by the real `@opensearch-project/opensearch` client
 * pointed at it: bulk with good and bad items, a search mixing a concept clause with a filter, an
 * aggregation and highlighting (hits equal to `search()`, aggregation and highlights equal to the
 * cluster's own answer to the same request), explanations, _msearch, single-document writes and
 * updates, the queued route, the model guard and errors in the cluster's shape. A recording proxy
 * between the endpoint and the cluster shows that what the endpoint does not manage arrives byte
 * for byte, with the caller's credentials and none of its own.
 */
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { ensureIngestTarget } from '../../src/ingest/target.js';
import { search } from '../../src/search/search.js';
import type { RunningServer } from '../../src/server/serve.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { cleanup, sampleLines, uniqueConfig } from './ingest-helpers.js';
import { API_KEY, deadPort, startTestServer, waitForSet } from './server-helpers.js';

const base = uniqueConfig('compat');
const PLAIN = `${base.index}-plain`;
const OTHER = `${base.index}-othermodel`;
const docs = sampleLines(24, 100).map((l, i) => {
  const d = JSON.parse(l) as { _id: string; title: string; text: string };
  return { id: d._id, title: d.title, text: d.text, lang: i % 3 === 0 ? 'de' : 'en', year: 2000 + (i % 4) };
});
let direct: Client;
let recorder: RecordingProxy;
let server: RunningServer;
/** The application's client, pointed at the endpoint. */
let app: OpenSearchClient;
const setIds: string[] = [];
const config = { ...base };

beforeAll(async () => {
  direct = createOpenSearchClient(base);
  recorder = new RecordingProxy(base.opensearchUrl);
  config.opensearchUrl = await recorder.listen();
  server = await startTestServer(config, { compatPort: 0, withWorker: 1, encoderWorkers: 1, encoderThreads: 2 });
  app = new OpenSearchClient({ node: server.compatUrl! });
  // The managed index as `saesplade ingest` makes it (alias → <name>-<model>-<version>), plus a
  // field of the application's own for filters and aggregations.
  await ensureIngestTarget(direct, base.index, server.ctx.model, base.modelDir);
  await direct.indices.putMapping({ index: base.index, body: { properties: { lang: { type: 'keyword' }, year: { type: 'integer' } } } });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await server?.close();
  await recorder?.close();
  await direct?.indices.delete({ index: `${PLAIN},${OTHER}`, ignore_unavailable: true } as any).catch(() => undefined);
  if (direct) await cleanup(base, direct, setIds);
  await direct?.close();
});

function bulkBody(items: [Record<string, unknown>, Record<string, unknown>?][]): string {
  return items.map(([a, s]) => JSON.stringify(a) + '\n' + (s ? JSON.stringify(s) + '\n' : '')).join('');
}

describe('bulk through the endpoint', () => {
  it('encodes good items, fails bad ones alone in OpenSearch\'s item shape, keeps the order, passes other indexes through', async () => {
    const good = docs.slice(0, 20);
    const body = [
      ...good.slice(0, 10).flatMap((d) => [{ index: { _index: base.index, _id: d.id } }, { title: d.title, text: d.text, lang: d.lang, year: d.year }]),
      { index: { _index: base.index, _id: 'bad-title' } },
      { title: 42, text: 'a number for a title' },
      { create: { _index: base.index, _id: 'no-text' } },
      { body: 'no title or text field' },
      { index: { _index: PLAIN, _id: 'p1' } },
      { anything: 'goes', n: 1 },
      ...good.slice(10).flatMap((d) => [{ index: { _index: base.index, _id: d.id } }, { title: d.title, text: d.text, lang: d.lang, year: d.year }]),
      { delete: { _index: base.index, _id: 'never-there' } },
    ];
    const res = await app.bulk({ body, refresh: true } as any);
    const items = (res.body as any).items as Record<string, any>[];
    expect((res.body as any).errors).toBe(true);
    expect(items).toHaveLength(24);
    expect(items.slice(0, 10).every((i) => i.index.status === 201)).toBe(true);
    expect(items[10]).toEqual({ index: { _index: base.index, _id: 'bad-title', status: 400, error: { type: 'saesplade_encoding_exception', reason: 'text field [title] must be a string, got number', index: base.index } } });
    expect(items[11]!.create).toMatchObject({ _id: 'no-text', status: 400, error: { type: 'saesplade_encoding_exception' } });
    expect(items[11]!.create.error.reason).toContain('no text field (title, text)');
    expect(items[12]!.index).toMatchObject({ _index: PLAIN, _id: 'p1', status: 201 });
    expect(items.slice(13, 23).map((i) => [i.index._id, i.index.status])).toEqual(good.slice(10).map((d) => [d.id, 201]));
    expect(items[23]!.delete).toMatchObject({ _id: 'never-there', status: 404, result: 'not_found' });

    // Stored as `saesplade ingest` stores them: the application's fields, the concepts, the hash and the model version.
    const stored = (await direct.get({ index: base.index, id: good[0]!.id })).body._source as Record<string, any>;
    expect(Object.keys(stored.concepts).length).toBeGreaterThan(10);
    expect(stored).toMatchObject({ title: good[0]!.title, lang: good[0]!.lang, model_version: server.ctx.model.version });
    expect(stored.content_hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await direct.count({ index: base.index })).body.count).toBe(20);
    // The plain index's document is exactly what was sent.
    expect((await direct.get({ index: PLAIN, id: 'p1' })).body._source).toEqual({ anything: 'goes', n: 1 });
  });

  it('a bulk with filter_path still answers every item (the endpoint merges its own answers into them)', async () => {
    const res = await app.bulk({
      filter_path: 'items.*.error',
      body: [{ index: { _index: base.index, _id: 'fp-1' } }, { text: 'filtered path' }, { index: { _index: base.index, _id: 'fp-2' } }, { text: 7 }],
    } as any);
    const items = (res.body as any).items;
    expect(items.map((i: any) => i.index.status)).toEqual([201, 400]);
    expect(items[1].index.error.type).toBe('saesplade_encoding_exception');
  });

  it('a document written through the endpoint has the vector that `saesplade ingest` gives it (same encoder input)', async () => {
    const d = docs[0]!;
    const stored = (await direct.get({ index: base.index, id: d.id })).body._source as Record<string, any>;
    const [v] = await server.ctx.encoder.encode([`${d.title} ${d.text}`], 'document');
    const expected = Object.fromEntries([...v!.indices].map((id, i) => [String(id), v!.values[i]]));
    expect(Object.keys(stored.concepts).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, w] of Object.entries(expected)) expect(stored.concepts[k]).toBeCloseTo(w as number, 5);
  });

  it('a bulk for indexes the product does not manage reaches the cluster byte for byte, with the caller\'s credentials and none added', async () => {
    const raw = '{"index":{"_index":"' + PLAIN + '","_id":"p2"}}\n{"z":  1,   "spaced" : "as sent"}\n{"delete":{"_index":"' + PLAIN + '","_id":"p1"}}\n';
    recorder.take(/.*/);
    const res = await fetch(`${server.compatUrl}/_bulk?refresh=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: 'Basic YXBwOmFwcC1zZWNyZXQ=' }, body: raw });
    expect(res.status).toBe(200);
    const seen = recorder.take(/_bulk/);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body.toString('utf8')).toBe(raw);
    expect(seen[0]!.headers.authorization).toBe('Basic YXBwOmFwcC1zZWNyZXQ=');
    // A request without credentials reaches the cluster without any (the endpoint has none of its own).
    await fetch(`${server.compatUrl}/${PLAIN}/_count`);
    const plain = recorder.take(/_count/);
    expect(plain).toHaveLength(1);
    expect(plain[0]!.headers.authorization).toBeUndefined();
  });

  it('other requests pass through unchanged: the same bytes as the cluster answers', async () => {
    for (const path of [`/${PLAIN}/_doc/p2`, `/_cat/indices/${PLAIN}?h=index,docs.count`, `/${base.index}/_mapping`]) {
      const [viaEndpoint, fromCluster] = await Promise.all([fetch(server.compatUrl + path), fetch(base.opensearchUrl + path)]);
      expect(viaEndpoint.status).toBe(fromCluster.status);
      expect(await viaEndpoint.text()).toBe(await fromCluster.text());
    }
  });
});

describe('search through the endpoint', () => {
  // A document's own title: its text shares words with it, so highlighting has something to mark.
  const query = docs[4]!.title;
  const filter = { term: { lang: 'en' } };

  it('a concept clause with a filter, an aggregation and highlighting: hits equal search(), aggregation and highlights equal the cluster\'s own', async () => {
    const body = {
      size: 5,
      _source: ['title', 'lang'],
      query: { bool: { must: [{ concept_sparse: { concepts: { query_text: query } } }], filter: [filter] } },
      aggs: { years: { terms: { field: 'year' } } },
      highlight: { fields: { text: {} }, highlight_query: { match: { text: query } } },
    };
    const res = await app.search({ index: base.index, body } as any);
    const got = res.body as any;

    const lib = await search({ client: direct, encoder: server.ctx.encoder }, { index: base.index, query, size: 5, filter, includeDsl: true });
    expect(got.hits.hits.map((h: any) => h._id)).toEqual(lib.hits.map((h) => h.id));
    got.hits.hits.forEach((h: any, i: number) => expect(h._score).toBeCloseTo(lib.hits[i]!.score, 4));
    expect(got.hits.hits.every((h: any) => h._source.lang === 'en')).toBe(true);

    // The same request with the translator's clause in place of concept_sparse, sent to the cluster itself.
    const conceptBool = { bool: { should: ((lib.dsl as any).query.bool.should as unknown[]) } };
    const same = { ...body, query: { bool: { must: [conceptBool], filter: [filter] } } };
    const own = (await direct.search({ index: base.index, body: same } as any)).body as any;
    expect(got.aggregations).toEqual(own.aggregations);
    expect(got.hits.hits.map((h: any) => h.highlight)).toEqual(own.hits.hits.map((h: any) => h.highlight));
    expect(got.hits.hits.some((h: any) => h.highlight?.text?.length > 0)).toBe(true);
    expect(got.hits.total).toEqual(own.hits.total);
  });

  it('explain_concepts adds fields.concept_explanation to each hit (the matched concepts, labelled)', async () => {
    const res = await app.search({ index: base.index, body: { size: 3, query: { concept_sparse: { concepts: { query_text: query, explain_concepts: 3 } } } } } as any);
    const hits = (res.body as any).hits.hits as any[];
    expect(hits.length).toBe(3);
    for (const h of hits) {
      const [e] = h.fields.concept_explanation;
      expect(e.matched).toBeGreaterThan(0);
      expect(e.concepts.length).toBeLessThanOrEqual(3);
      expect(typeof e.concepts[0].label).toBe('string');
      expect(e.dot).toBeCloseTo(h._score, 1); // rank_features store 9 significant bits
    }
    // Without explain_concepts the hits are as the cluster writes them.
    const plain = await app.search({ index: base.index, body: { size: 1, query: { concept_sparse: { concepts: { query_text: query } } } } } as any);
    expect((plain.body as any).hits.hits[0].fields).toBeUndefined();
  });

  it('top_k and two_phase: fewer concepts, and two-phase gives search()\'s two-phase hits', async () => {
    const tp = await app.search({ index: base.index, body: { size: 5, query: { concept_sparse: { concepts: { query_text: query, two_phase: { heavy: 4 } } } } } } as any);
    const lib = await search({ client: direct, encoder: server.ctx.encoder }, { index: base.index, query, size: 5, twoPhase: { heavy: 4 } });
    expect((tp.body as any).hits.hits.map((h: any) => h._id)).toEqual(lib.hits.map((h) => h.id));
    (tp.body as any).hits.hits.forEach((h: any, i: number) => expect(h._score).toBeCloseTo(lib.hits[i]!.score, 4));
    const k = await app.search({ index: base.index, body: { size: 5, query: { concept_sparse: { concepts: { query_text: query, top_k: 3 } } } } } as any);
    const lib3 = await search({ client: direct, encoder: server.ctx.encoder }, { index: base.index, query, size: 5, pruning: { topK: 3 } });
    expect((k.body as any).hits.hits.map((h: any) => h._id)).toEqual(lib3.hits.map((h) => h.id));
  });

  it('inference_free: the clause is encoded from the package\'s token table, as search({ inferenceFree }) does', async () => {
    const got = await app.search({ index: base.index, body: { size: 5, query: { concept_sparse: { concepts: { query_text: query, inference_free: true } } } } } as any);
    const lib = await search({ client: direct, encoder: server.ctx.encoder }, { index: base.index, query, size: 5, inferenceFree: true });
    expect((got.body as any).hits.hits.map((h: any) => h._id)).toEqual(lib.hits.map((h) => h.id));
    const full = await search({ client: direct, encoder: server.ctx.encoder }, { index: base.index, query, size: 5 });
    expect(lib.queryVector.concepts).not.toEqual(full.queryVector.concepts);
  });

  it('_count with a concept clause counts the documents that share a concept with the query, under the filter', async () => {
    const clause = { concept_sparse: { concepts: { query_text: query, two_phase: true } } };
    const got = await app.count({ index: base.index, body: { query: { bool: { must: [clause], filter: [filter] } } } } as any);
    const lib = await search({ client: direct, encoder: server.ctx.encoder }, { index: base.index, query, size: 1, filter, includeDsl: true });
    const conceptBool = { bool: { should: (lib.dsl as any).query.bool.should as unknown[] } };
    const own = await direct.count({ index: base.index, body: { query: { bool: { must: [conceptBool], filter: [filter] } } } } as any);
    expect((got.body as any).count).toBe((own.body as any).count);
    expect((got.body as any).count).toBeGreaterThan(0);
  });

  it('_msearch: concept searches translated, plain ones untouched, a refused one fails alone', async () => {
    await ensureConceptIndex(direct, OTHER, { ...server.ctx.model, version: server.ctx.model.version + '-other' });
    const res = await app.msearch({
      body: [
        { index: base.index },
        { size: 2, query: { concept_sparse: { concepts: { query_text: query } } } },
        { index: PLAIN },
        { query: { match_all: {} } },
        { index: OTHER },
        { query: { concept_sparse: { concepts: { query_text: query } } } },
      ],
    } as any);
    const r = (res.body as any).responses as any[];
    expect(r).toHaveLength(3);
    expect(r[0].hits.hits).toHaveLength(2);
    expect(r[1].hits.hits.map((h: any) => h._id)).toEqual(['p2']);
    expect(r[2]).toMatchObject({ status: 400, error: { type: 'saesplade_model_mismatch_exception' } });
  });

  it('the model guard and errors come back in the cluster\'s shape, through the client\'s ResponseError', async () => {
    const refused = await app.search({ index: OTHER, body: { query: { concept_sparse: { concepts: { query_text: query } } } } } as any).catch((e) => e);
    expect(refused.meta.statusCode).toBe(400);
    expect(refused.meta.body.error.type).toBe('saesplade_model_mismatch_exception');
    expect(refused.meta.body.error.root_cause[0].type).toBe('saesplade_model_mismatch_exception');
    expect(refused.meta.body.error.reason).toContain('was built with model');

    const unknown = await app.search({ index: base.index, body: { query: { concept_sparse: { concepts: { query_text: query, topk: 3 } } } } } as any).catch((e) => e);
    expect(unknown.meta.statusCode).toBe(400);
    expect(unknown.meta.body.error).toMatchObject({ type: 'parsing_exception', reason: expect.stringContaining('unknown field [topk]') });

    const pattern = await app.search({ index: `${base.index}*`, body: { query: { concept_sparse: { concepts: { query_text: query } } } } } as any).catch((e) => e);
    expect(pattern.meta.statusCode).toBe(400);
    expect(pattern.meta.body.error.type).toBe('illegal_argument_exception');

    const missing = await app.search({ index: `${base.index}-nope`, body: { query: { concept_sparse: { concepts: { query_text: query } } } } } as any).catch((e) => e);
    expect(missing.meta.statusCode).toBe(404);
    expect(missing.meta.body.error.type).toBe('index_not_found_exception');

    // The cluster's own errors reach the client as the cluster wrote them.
    const bad = await app.search({ index: base.index, body: { query: { bogus_query: {} } } } as any).catch((e) => e);
    const own = await direct.search({ index: base.index, body: { query: { bogus_query: {} } } } as any).catch((e) => e);
    expect(bad.meta.statusCode).toBe(own.meta.statusCode);
    expect(bad.meta.body).toEqual(own.meta.body);
  });
});

describe('single documents and updates', () => {
  it('PUT _doc encodes; an update of the text re-encodes the whole document (no stale concepts); a metadata-only update passes', async () => {
    const d = docs[20]!;
    const put = await app.index({ index: base.index, id: 'single-1', body: { title: d.title, text: d.text, lang: 'en' }, refresh: true } as any);
    expect(put.statusCode).toBe(201);
    expect((put.body as any).result).toBe('created');
    const before = (await direct.get({ index: base.index, id: 'single-1' })).body._source as any;

    const upd = await app.update({ index: base.index, id: 'single-1', body: { doc: { title: 'Bone fractures in older adults', text: 'Falls and fractures of the hip.' } }, refresh: true } as any);
    expect(upd.statusCode).toBe(200);
    expect((upd.body as any).result).toBe('updated');
    const after = (await direct.get({ index: base.index, id: 'single-1' })).body._source as any;
    const [v] = await server.ctx.encoder.encode(['Bone fractures in older adults Falls and fractures of the hip.'], 'document');
    expect(Object.keys(after.concepts).sort()).toEqual([...v!.indices].map(String).sort());
    expect(after.lang).toBe('en');
    expect(after.content_hash).not.toBe(before.content_hash);

    const meta = await app.update({ index: base.index, id: 'single-1', body: { doc: { lang: 'de' } }, refresh: true } as any);
    expect(meta.statusCode).toBe(200);
    expect(((await direct.get({ index: base.index, id: 'single-1' })).body._source as any).concepts).toEqual(after.concepts);

    const bad = await app.index({ index: base.index, id: 'single-2', body: { title: ['not', 'a', 'string'] } } as any).catch((e) => e);
    expect(bad.meta.statusCode).toBe(400);
    expect(bad.meta.body.error.type).toBe('saesplade_encoding_exception');

    const missing = await app.update({ index: base.index, id: 'nobody', body: { doc: { text: 'x' } } } as any).catch((e) => e);
    expect(missing.meta.statusCode).toBe(404);
    expect(missing.meta.body.error.type).toBe('document_missing_exception');
  });

  it('in one bulk, an update after an index of the same document applies to that index (request order)', async () => {
    const res = await app.bulk({
      refresh: true,
      body: [
        { index: { _index: base.index, _id: 'chain' } },
        { title: 'First title', text: 'first text', lang: 'en' },
        { update: { _index: base.index, _id: 'chain' } },
        { doc: { text: 'second text about bones' } },
      ],
    } as any);
    const items = (res.body as any).items;
    expect(items[0].index.status).toBe(201);
    expect(items[1].update.status).toBeLessThan(300);
    const stored = (await direct.get({ index: base.index, id: 'chain' })).body._source as any;
    expect(stored).toMatchObject({ title: 'First title', text: 'second text about bones', lang: 'en' });
  });
});

describe('queued bulk (saesplade_queue=true)', () => {
  it('answers 202 with a job set that the workers index; needs the server\'s API key', async () => {
    const body = bulkBody(docs.slice(21, 24).map((d) => [{ index: { _id: `q-${d.id}` } }, { title: d.title, text: d.text }]));
    const noKey = await fetch(`${server.compatUrl}/${base.index}/_bulk?saesplade_queue=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as any).error.type).toBe('security_exception');

    const res = await fetch(`${server.compatUrl}/${base.index}/_bulk?saesplade_queue=true`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'x-saesplade-api-key': API_KEY }, body: body + bulkBody([[{ index: { _id: 'q-extra' } }, { text: 'x', lang: 'en' }]]) });
    expect(res.status).toBe(202);
    const answer = (await res.json()) as any;
    setIds.push(answer.saesplade.job_set);
    expect(answer.saesplade.queued).toBe(3);
    expect(answer.items.slice(0, 3).every((i: any) => i.index.status === 202)).toBe(true);
    expect(answer.items[3].index).toMatchObject({ status: 400, error: { type: 'saesplade_encoding_exception' } });
    expect(answer.items[3].index.error.reason).toContain('field [lang] would be lost');
    const set = await waitForSet(server.url, answer.saesplade.job_set);
    expect(set).toMatchObject({ indexed: 3, failed: 0 });
  });
});

describe('the cluster down', () => {
  it('a proxied request and a concept search answer 502 in OpenSearch\'s shape, with Retry-After, naming the cluster', async () => {
    const port = await deadPort();
    const down = await startTestServer({ ...base, opensearchUrl: `http://127.0.0.1:${port}` }, { compatPort: 0, encoderWorkers: 1, encoderThreads: 1 });
    try {
      for (const [method, path, body] of [
        ['GET', '/_cluster/health', undefined],
        ['POST', `/${base.index}/_search`, JSON.stringify({ query: { concept_sparse: { concepts: { query_text: 'x' } } } })],
      ] as const) {
        const res = await fetch(down.compatUrl + path, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body } : {}) });
        const answer = (await res.json()) as any;
        expect(res.status).toBe(502);
        expect(answer.error.type).toBe('saesplade_upstream_exception');
        expect(answer.error.reason).toContain(`127.0.0.1:${port}`);
        if (path === '/_cluster/health') expect(res.headers.get('retry-after')).toBe('5');
      }
    } finally {
      await down.close();
    }
  });
});
