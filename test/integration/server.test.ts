/**
 * `saesplade serve` against the real services and the real default model, over real HTTP: every
 * route, the error statuses (400, 401, 404, 409, 413, 415), the metrics moving after an ingest and a
 * search, the OpenAPI document, the dashboard, no secret in any answer. Documents come from
 * samples/scifact-mini and go in through POST /v1/documents; the server's in-process worker
 * (`serve --with-worker`) encodes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { search } from '../../src/search/search.js';
import type { RunningServer } from '../../src/server/serve.js';
import { cleanup, sampleLines, uniqueConfig } from './ingest-helpers.js';
import { API_KEY, call, metricValue, startTestServer, waitForSet } from './server-helpers.js';

const config = uniqueConfig('server');
const OTHER_MODEL_INDEX = `${config.index}-othermodel`;
const lines = sampleLines(12, 340);
const ids = lines.map((l) => String(JSON.parse(l)._id));
let client: Client;
let server: RunningServer;
let base: string;
const setIds: string[] = [];

beforeAll(async () => {
  client = createOpenSearchClient(config);
  server = await startTestServer(config, { withWorker: 1, bodyLimit: 8192, encoderWorkers: 1, encoderThreads: 2 });
  base = server.url;
});

afterAll(async () => {
  await server?.close();
  await client?.indices.delete({ index: OTHER_MODEL_INDEX, ignore_unavailable: true } as any).catch(() => undefined);
  if (client) await cleanup(config, client, setIds);
  await client?.close();
});

describe('health and readiness', () => {
  it('/healthz answers, /readyz reports OpenSearch, Redis and the model', async () => {
    const h = await call(base, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body.status).toBe('ok');
    const r = await call(base, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');
    expect(r.body.checks.opensearch.ok).toBe(true);
    expect(r.body.checks.redis.ok).toBe(true);
    expect(r.body.checks.model).toMatchObject({ ok: true, model: `${server.ctx.model.name}@${server.ctx.model.version}` });
  });

  it('binds to 127.0.0.1 by default', () => {
    expect(server.url.startsWith('http://127.0.0.1:')).toBe(true);
  });
});

describe('documents → job set → search', () => {
  it('ingests NDJSON and a JSON array through POST /v1/documents; GET /v1/jobs/:id counts them; an invalid document is listed as failed', async () => {
    const metricsBefore = (await call(base, 'GET', '/metrics')).text;
    const nd = await call(base, 'POST', '/v1/documents?format=beir', { body: lines.slice(0, 10).join('\n') + '\n', key: API_KEY });
    expect(nd.status).toBe(202);
    expect(nd.body).toMatchObject({ index: config.index, read: 10, queued: 10, rejected: 0 });
    expect(nd.headers.get('location')).toBe(`/v1/jobs/${nd.body.setId}`);
    setIds.push(nd.body.setId);

    const arr = [...lines.slice(10).map((l) => JSON.parse(l)), { title: 'no id here', text: 'this document has no id' }];
    const js = await call(base, 'POST', '/v1/documents?format=beir', { json: arr, key: API_KEY });
    expect(js.status).toBe(202);
    expect(js.body).toMatchObject({ read: 3, queued: 2, rejected: 1 });
    setIds.push(js.body.setId);

    const first = await waitForSet(base, nd.body.setId);
    expect(first).toMatchObject({ state: 'done', indexed: 10, failed: 0, source: 'request' });
    const second = await waitForSet(base, js.body.setId);
    expect(second).toMatchObject({ state: 'done', indexed: 2, failed: 1, failedAtEntry: 1 });

    const failed = await call(base, 'GET', `/v1/jobs/${js.body.setId}/failed`, { key: API_KEY });
    expect(failed.status).toBe(200);
    expect(failed.body.failed).toBe(1);
    expect(failed.body.documents).toHaveLength(1);
    expect(failed.body.documents[0]).toMatchObject({ source: 'request:3', code: 'missing_id' });

    // The in-process worker's counters and the API's moved.
    const after = (await call(base, 'GET', '/metrics')).text;
    const d = (name: string, labels: Record<string, string>) => (metricValue(after, name, labels) ?? 0) - (metricValue(metricsBefore, name, labels) ?? 0);
    expect(d('saesplade_documents_total', { outcome: 'indexed' })).toBe(12);
    expect(d('saesplade_documents_received_total', { outcome: 'queued' })).toBe(12);
    expect(d('saesplade_documents_received_total', { outcome: 'rejected' })).toBe(1);
    expect(d('saesplade_ingest_jobs_total', { outcome: 'completed' })).toBe(2);
    expect(d('saesplade_encode_duration_seconds_count', { mode: 'document' })).toBeGreaterThan(0);
    expect(metricValue(after, 'saesplade_queue_jobs', { queue: config.queue, state: 'waiting' })).toBe(0);
    expect(metricValue(after, 'saesplade_queue_up')).toBe(1);

    await client.indices.refresh({ index: config.index });
  });

  it('POST /v1/search gives what the library search() gives, with the concepts each hit matched on', async () => {
    const doc = JSON.parse(lines[3]!) as { _id: string; title: string; text: string };
    const query = doc.title;
    const r = await call(base, 'POST', '/v1/search', { json: { query, size: 5, explain: 3 } });
    expect(r.status).toBe(200);
    expect(r.body.mode).toBe('concepts');
    expect(r.body.hits.length).toBeGreaterThan(0);
    expect(r.body.hits[0].id).toBe(doc._id); // a document's own title finds it first
    for (const h of r.body.hits) expect(ids).toContain(h.id);
    const e = r.body.hits[0].explanation;
    expect(e.matched).toBeGreaterThan(0);
    expect(e.concepts.length).toBeGreaterThan(0);
    expect(e.concepts.length).toBeLessThanOrEqual(3);
    expect(typeof e.concepts[0].label).toBe('string');
    expect(r.body.queryVector.concepts.length).toBe(r.body.queryVector.used);
    expect(r.body.hits[0].source).not.toHaveProperty('concepts');

    const lib = await search({ client, encoder: server.ctx.gate.base }, { index: config.index, query, size: 5, explain: 3 });
    expect(r.body.hits.map((h: any) => h.id)).toEqual(lib.hits.map((h) => h.id));
    r.body.hits.forEach((h: any, i: number) => expect(h.score).toBeCloseTo(lib.hits[i]!.score, 5));
  });

  it('every mode answers: bm25, hybrid (weights), rrf (ranks), two-phase, filter, from/size, source, dsl', async () => {
    const query = 'cells and their expression';
    const bm25 = await call(base, 'POST', '/v1/search', { json: { query, mode: 'bm25', size: 3 } });
    expect(bm25.status).toBe(200);
    expect(bm25.body.executed).toBe('bm25');
    const hybrid = await call(base, 'POST', '/v1/search', { json: { query, mode: 'hybrid', hybrid: { concepts: 1, bm25: 0.2 }, size: 3 } });
    expect(hybrid.status).toBe(200);
    expect(hybrid.body.executed).toBe('hybrid');
    const rrf = await call(base, 'POST', '/v1/search', { json: { query, mode: 'rrf', rrf: { k: 60, window: 20 }, size: 3 } });
    expect(rrf.status).toBe(200);
    expect(rrf.body.hits[0].ranks).toBeDefined();
    const tp = await call(base, 'POST', '/v1/search', { json: { query, twoPhase: { heavy: 4, window: 10 }, size: 3, dsl: true } });
    expect(tp.status).toBe(200);
    expect(tp.body.queryVector.firstPhase).toBeLessThanOrEqual(4);
    expect(tp.body.dsl.rescore).toBeDefined();
    const page = await call(base, 'POST', '/v1/search', { json: { query, mode: 'bm25', size: 2, from: 1, source: ['title'] } });
    expect(page.body.hits.map((h: any) => h.rank)).toEqual([2, 3]);
    expect(Object.keys(page.body.hits[0].source)).toEqual(['title']);
    const one = ids[0]!;
    const filtered = await call(base, 'POST', '/v1/search', { json: { query, mode: 'bm25', filter: { ids: { values: [one] } } } });
    expect(filtered.status).toBe(200);
    expect(filtered.body.hits.map((h: any) => h.id)).toEqual(filtered.body.hits.length ? [one] : []);
  });

  it('POST /v1/encode gives the encoder\'s vectors with labels', async () => {
    const texts = ['vitamin d and bone fractures', 'what causes antibiotic resistance'];
    const r = await call(base, 'POST', '/v1/encode', { json: { texts, top: 5 } });
    expect(r.status).toBe(200);
    expect(r.body.model).toEqual(server.ctx.model);
    expect(r.body.mode).toBe('query');
    const want = await server.ctx.gate.base.encode(texts, 'query');
    r.body.results.forEach((res: any, i: number) => {
      const v = want[i]!;
      expect(res.nnz).toBe(v.indices.length);
      expect(Object.keys(res.vector).map(Number).sort((a, b) => a - b)).toEqual(Array.from(v.indices));
      v.indices.forEach((id, j) => expect(res.vector[String(id)]).toBeCloseTo(v.values[j]!, 6));
      expect(res.top.length).toBe(Math.min(5, v.indices.length));
      expect(res.top[0].weight).toBe(Math.max(...Array.from(v.values)));
    });
    const doc = await call(base, 'POST', '/v1/encode', { json: { texts: ['a heart attack'], mode: 'document', raw: true } });
    expect(doc.status).toBe(200);
    expect(doc.body.mode).toBe('document');
  });

  it('the metrics moved after the searches: request, search, took and encode durations by label', async () => {
    const m = (await call(base, 'GET', '/metrics')).text;
    expect(metricValue(m, 'saesplade_http_request_duration_seconds_count', { method: 'POST', route: '/v1/search', status_code: '200' })).toBeGreaterThanOrEqual(6);
    expect(metricValue(m, 'saesplade_http_request_duration_seconds_count', { method: 'POST', route: '/v1/documents', status_code: '202' })).toBe(2);
    expect(metricValue(m, 'saesplade_search_duration_seconds_count', { mode: 'concepts' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(m, 'saesplade_search_duration_seconds_count', { mode: 'bm25' })).toBeGreaterThanOrEqual(3);
    expect(metricValue(m, 'saesplade_opensearch_took_seconds_count', { mode: 'rrf' })).toBe(1);
    expect(metricValue(m, 'saesplade_encode_duration_seconds_count', { mode: 'query' })).toBeGreaterThan(0);
    expect(metricValue(m, 'saesplade_encoder_threads')).toBe(1);
    expect(metricValue(m, 'saesplade_encoder_threads_busy')).toBe(0);
    expect(metricValue(m, 'saesplade_build_info', { model: server.ctx.model.name, role: 'server' })).toBe(1);
    // process defaults, standard names
    expect(metricValue(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metricValue(m, 'nodejs_eventloop_lag_seconds')).toBeDefined();
    // no query text or key in any label
    expect(m).not.toContain('vitamin');
    expect(m).not.toContain(API_KEY);
  });
});

describe('errors', () => {
  it('400 names the field and the reason', async () => {
    const cases: [unknown, string][] = [
      [{}, 'query'],
      [{ query: '' }, 'query'],
      [{ query: 'x', size: -1 }, 'size'],
      [{ query: 'x', size: '10' }, 'size'],
      [{ query: 'x', mode: 'fuzzy' }, 'mode'],
      [{ query: 'x', pruning: { topK: 0 } }, 'pruning.topK'],
      [{ query: 'x', sise: 3 }, 'sise'],
      [{ query: 'x', index: 'a*b' }, 'index'],
      [{ query: 'x', filter: [{ term: { a: 1 }, range: {} }] }, 'filter[0]'],
    ];
    for (const [json, field] of cases) {
      const r = await call(base, 'POST', '/v1/search', { json });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.error).toBe('invalid_request');
      expect(r.body.field, JSON.stringify(json)).toBe(field);
      expect(r.body.reason.length).toBeGreaterThan(0);
    }
    const bad = await call(base, 'POST', '/v1/search', { body: '{"query": ', type: 'application/json' });
    expect(bad.status).toBe(400);
    const enc = await call(base, 'POST', '/v1/encode', { json: { texts: [] } });
    expect(enc.status).toBe(400);
    expect(enc.body.field).toBe('texts');
    const jobs = await call(base, 'GET', '/v1/jobs/bad:id', { key: API_KEY });
    expect(jobs.status).toBe(400);
    expect(jobs.body.field).toBe('id');
    const docs = await call(base, 'POST', '/v1/documents?batchSize=abc', { json: [{ id: 'a', text: 'b' }], key: API_KEY });
    expect(docs.status).toBe(400);
    expect(docs.body.field).toBe('batchSize');
    const notArray = await call(base, 'POST', '/v1/documents', { json: { id: 'a', text: 'b' }, key: API_KEY });
    expect(notArray.status).toBe(400);
  });

  it('401 without or with a wrong API key on write and admin routes; the key never comes back', async () => {
    const wrong = 'wrong-key-' + 'y'.repeat(20);
    for (const [method, path] of [
      ['POST', '/v1/documents'],
      ['GET', '/v1/jobs/abc'],
      ['GET', '/v1/jobs/abc/failed'],
      ['GET', '/admin/queues'],
    ] as const) {
      const none = await call(base, method, path, method === 'POST' ? { json: [{ id: 'a', text: 'b' }] } : {});
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toBeTruthy();
      const bad = await call(base, method, path, { key: wrong, ...(method === 'POST' ? { json: [{ id: 'a', text: 'b' }] } : {}) });
      expect(bad.status, path).toBe(401);
      expect(bad.text).not.toContain(wrong);
      expect(bad.text).not.toContain(API_KEY);
    }
    // search is open unless --search-auth
    expect((await call(base, 'POST', '/v1/search', { json: { query: 'x', mode: 'bm25' } })).status).toBe(200);
  });

  it('404 for an unknown route, job set and index; 409 for an index of another model', async () => {
    expect((await call(base, 'GET', '/v1/nothing')).status).toBe(404);
    const set = await call(base, 'GET', '/v1/jobs/no-such-set', { key: API_KEY });
    expect(set.status).toBe(404);
    expect(set.body.error).toBe('not_found');
    expect((await call(base, 'GET', '/v1/jobs/no-such-set/failed', { key: API_KEY })).status).toBe(404);
    const idx = await call(base, 'POST', '/v1/search', { json: { query: 'x', index: `${config.index}-missing` } });
    expect(idx.status).toBe(404);
    expect(idx.body.error).toBe('index_not_found');
    await ensureConceptIndex(client, OTHER_MODEL_INDEX, { name: 'another-model', version: '9.9.9', dictionarySize: 16384 }, { replicas: 0 });
    const other = await call(base, 'POST', '/v1/search', { json: { query: 'x', index: OTHER_MODEL_INDEX } });
    expect(other.status).toBe(409);
    expect(other.body.error).toBe('model_mismatch');
    const post = await call(base, 'POST', `/v1/documents?index=${OTHER_MODEL_INDEX}`, { json: [{ id: 'a', text: 'b' }], key: API_KEY });
    expect(post.status).toBe(409);
  });

  it('413 over the body limit, 415 for an unknown content type', async () => {
    const big = await call(base, 'POST', '/v1/search', { json: { query: 'x'.repeat(9000) } });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('body_too_large');
    // /v1/documents has its own, larger limit (64 MiB by default)
    const docs = await call(base, 'POST', '/v1/documents?index=' + config.index, { json: [{ id: 'big-1', text: 'y'.repeat(9000) }], key: API_KEY });
    expect(docs.status).toBe(202);
    setIds.push(docs.body.setId);
    const form = await call(base, 'POST', '/v1/search', { body: 'query=x', type: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
  });
});

describe('OpenAPI, dashboard, explorer, CORS', () => {
  it('/docs serves the OpenAPI document built from the route schemas', async () => {
    const ui = await call(base, 'GET', '/docs');
    expect(ui.status).toBe(200);
    const spec = await call(base, 'GET', '/docs/json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    for (const p of ['/v1/search', '/v1/encode', '/v1/documents', '/v1/jobs/{id}', '/v1/jobs/{id}/failed', '/healthz', '/readyz', '/metrics']) expect(Object.keys(spec.body.paths)).toContain(p);
    const req = spec.body.components.schemas.SearchRequest;
    expect(req.required).toEqual(['query']);
    expect(req.properties.mode.enum).toEqual(['concepts', 'bm25', 'hybrid', 'rrf']);
    expect(Object.keys(spec.body.paths['/v1/documents'].post.requestBody.content)).toEqual(expect.arrayContaining(['application/json', 'application/x-ndjson']));
    expect(spec.body.paths['/v1/documents'].post.security).toEqual([{ bearer: [] }]);
  });

  it('bull-board answers at /admin/queues with the key (Bearer or Basic) and lists the queue', async () => {
    const page = await call(base, 'GET', '/admin/queues', { key: API_KEY });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<html');
    const basic = 'Basic ' + Buffer.from(`admin:${API_KEY}`).toString('base64');
    const api = await call(base, 'GET', '/admin/queues/api/queues', { headers: { authorization: basic } });
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q: any) => q.name)).toContain(config.queue);
  });

  it('the explorer page and its script come from the same process, with a strict CSP', async () => {
    const page = await call(base, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).toContain('/explorer/explorer.js');
    expect((await call(base, 'GET', '/explorer/explorer.js')).status).toBe(200);
    const info = await call(base, 'GET', '/v1/info');
    expect(info.body).toMatchObject({ model: server.ctx.model, index: config.index });
  });

  it('CORS is off unless configured', async () => {
    const r = await call(base, 'POST', '/v1/search', { json: { query: 'x', mode: 'bm25' }, headers: { origin: 'https://example.org' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});
