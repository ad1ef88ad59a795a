/**
 * The OpenSearch-compatible endpoint (`serve --compat-port`): an application's own OpenSearch
 * client points here instead of at the cluster. `_bulk`, `_doc`, `_create` and `_update` for
 * managed indexes are encoded on the way in (bulk.ts); `_search` and `_msearch` bodies with
 * `concept_sparse` clauses are translated (search.ts); every other request, and these for indexes
 * the product does not manage, go to the cluster as they came, streaming, with the caller's own
 * credentials (forward.ts). docs/COMPAT.md describes it for users.
 */
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { validateDocument, resolveParseOptions } from '../../ingest/document.js';
import { indexSettingsOf } from '../../opensearch/bulk-settings.js';
import { ensureIngestTarget } from '../../ingest/target.js';
import { produceJobSet } from '../../ingest/producer.js';
import { EncoderBusyError, EncoderGateClosedError } from '../encoder-gate.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { planBulk } from './bulk.js';
import { failedItem, itemFailed, parseBulkBody, type BulkItem, type ItemAnswer } from './bulk-format.js';
import { readBody } from './body.js';
import { CompatError, itemError, openSearchErrorBody } from './errors.js';
import { forward } from './forward.js';
import { ManagedIndexes } from './managed.js';
import { explainHits, msearchError, parseMsearch, parseSearchBody, rewriteSearches, type RewrittenSearch, type SearchDeps } from './search.js';
import { callerHeaders, ClusterAnswer, clusterError, upstreamOf } from './upstream.js';

export interface CompatOptions {
  /** Fields of a document that are encoded (first = title, the rest = text, as `ingest --text-fields`). */
  textFields: string[];
  /** Largest body the endpoint reads (bulk, doc, search); passed-through bodies are not limited here. */
  bodyLimit: number;
}

/** Query parameters of a single-document write that belong in its bulk action. */
const ACTION_PARAMS = ['routing', 'if_seq_no', 'if_primary_term', 'version', 'version_type', 'pipeline', 'require_alias', 'retry_on_conflict'];
const NUMERIC_PARAMS = new Set(['if_seq_no', 'if_primary_term', 'version', 'retry_on_conflict']);

export async function buildCompatApp(ctx: ServerContext, opts: CompatOptions): Promise<FastifyInstance> {
  const upstream = upstreamOf(ctx.config);
  const managed = new ManagedIndexes(upstream.client, ctx.model);
  const log = ctx.log.child({ component: 'compat' });
  // No Fastify request logger: a child logger per request costs a measurable share of a pass-through hop.
  const app = Fastify({
    logger: false,
    // Index names may be 255 bytes and ids 512: longer path parameters than Fastify's default 100.
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  await app.register(replyFrom, { base: upstream.base, undici: upstream.undici as never, disableRequestLogging: true });

  // Bodies stay streams: a passed-through request streams to the cluster; routes that read theirs do so with readBody().
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const stateOf = (request: FastifyRequest) => (index: string) => managed.state(index, callerHeaders(request.headers));
  const searchDeps = (request: FastifyRequest): SearchDeps => ({
    encoder: ctx.encoder,
    stateOf: stateOf(request),
    conceptsOf: async (hits, field) => {
      const res = await upstream.client.mget(
        { body: { docs: hits.map((h) => ({ _index: h.index, _id: h.id, ...(h.routing ? { routing: h.routing } : {}), _source: [field] })) } } as never,
        { headers: callerHeaders(request.headers) },
      );
      const docs = (res.body as { docs: { found?: boolean; _source?: Record<string, unknown> }[] }).docs;
      return docs.map((d) => (d.found ? (d._source?.[field] as Record<string, unknown> | undefined) : undefined));
    },
  });

  app.setErrorHandler(async (err, request, reply) => {
    if (err instanceof ClusterAnswer) return reply.code(err.status).send(err.body);
    const redact = ctx.redact;
    if (err instanceof CompatError) return reply.code(err.status).headers(err.headers).send(openSearchErrorBody(err.status, err.type, redact(err.message), err.index));
    if (err instanceof EncoderBusyError || err instanceof EncoderGateClosedError) {
      // What OpenSearch answers when its thread pools are full: clients and bulk helpers back off on 429.
      const after = err instanceof EncoderBusyError ? err.retryAfterS : 1;
      return reply.code(429).header('retry-after', String(after)).send(openSearchErrorBody(429, 'rejected_execution_exception', redact(err.message)));
    }
    if (err instanceof HttpError) return reply.code(err.statusCode).headers(err.extra.headers ?? {}).send(openSearchErrorBody(err.statusCode, err.code, redact(err.message)));
    const status = (err as { statusCode?: number }).statusCode;
    const code = String((err as { code?: string }).code ?? '');
    const causeCode = String(((err as { cause?: { code?: string } }).cause ?? {}).code ?? '');
    if (code.startsWith('FST_REPLY_FROM') || /^(ECONN|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|EPIPE|UND_ERR)/.test(causeCode)) {
      // The cluster did not answer the proxied request (refused, reset, timed out): a gateway's 502/504.
      const gateway = status === 504 ? 504 : 502;
      return reply
        .code(gateway)
        .header('retry-after', '5')
        .send(openSearchErrorBody(gateway, 'saesplade_upstream_exception', redact(`the cluster at ${upstream.base} did not answer: ${(err as Error).message}`)));
    }
    if (typeof status === 'number' && status >= 400 && status < 600 && status !== 500) {
      // reply-from's own errors (the cluster unreachable: 502/503/504) and Fastify's (bad request line).
      return reply.code(status).send(openSearchErrorBody(status, 'saesplade_proxy_exception', redact((err as Error).message)));
    }
    log.error({ err: redact((err as Error)?.stack ?? String(err)), url: request.url.split('?')[0] }, 'compat endpoint: unexpected error');
    return reply.code(500).send(openSearchErrorBody(500, 'saesplade_internal_exception', 'internal error (logged on the saesplade server)'));
  });

  // ---------------------------------------------------------------------------- _bulk and single documents

  async function bulk(request: FastifyRequest, reply: FastifyReply, pathIndex: string | undefined): Promise<unknown> {
    const body = await readBody(request, opts.bodyLimit);
    const items = parseBulkBody(body.text, pathIndex);
    const query = request.query as Record<string, string | undefined>;
    const queued = query.saesplade_queue !== undefined && query.saesplade_queue !== 'false';
    if (queued) return queuedBulk(request, reply, items, pathIndex);
    const plan = await planBulk(items, { encoder: ctx.encoder, textFields: opts.textFields, stateOf: stateOf(request), fetch: fetcher(request) });
    if (plan.kind === 'passthrough') return forward(request, reply, rawBody(request, body));
    ctx.metrics.documentsReceived.inc({ outcome: 'compat_bulk' }, items.length);
    if (plan.kind === 'local') return reply.code(200).send(plan.answer);
    return forward(request, reply, {
      method: 'POST',
      body: plan.body,
      contentType: 'application/x-ndjson',
      // filter_path would cut the items this endpoint merges its own answers into: the answer is whole.
      query: queryWithout(request, ['saesplade_queue', 'filter_path']),
      transform: (status, json) => (status === 200 && Array.isArray(json?.items) ? { status, body: plan.finish(json) } : { status, body: json }),
    });
  }

  function fetcher(request: FastifyRequest) {
    return async (docs: { index: string; id: string; routing?: string }[]) => {
      const res = await upstream.client
        .mget({ body: { docs: docs.map((d) => ({ _index: d.index, _id: d.id, ...(d.routing ? { routing: d.routing } : {}) })) } } as never, { headers: callerHeaders(request.headers) })
        .catch((e: unknown) => {
          throw clusterError(e);
        });
      const out = (res.body as { docs: { found?: boolean; _source?: Record<string, unknown>; _seq_no?: number; _primary_term?: number }[] }).docs;
      return out.map((d) => (d.found && d._source ? { source: d._source, seqNo: d._seq_no!, primaryTerm: d._primary_term! } : undefined));
    };
  }

  /** `?saesplade_queue=true`: the documents become a job set for the workers (202), as POST /v1/documents. */
  async function queuedBulk(request: FastifyRequest, reply: FastifyReply, items: BulkItem[], pathIndex: string | undefined): Promise<unknown> {
    const refused = ctx.apiKeys.refusal(
      typeof request.headers['x-saesplade-api-key'] === 'string' ? `Bearer ${request.headers['x-saesplade-api-key']}` : undefined,
      { what: 'queued indexing (saesplade_queue)' },
    );
    // The cluster never sees a queued request, so its credentials prove nothing here: the server's API key does.
    if (refused) throw new CompatError(401, 'security_exception', `${refused.message} (as the X-Saesplade-Api-Key header)`);
    const indexes = new Set(items.map((i) => i.index));
    const index = indexes.size === 1 ? [...indexes][0] : undefined;
    if (index === undefined) throw new CompatError(400, 'illegal_argument_exception', 'a queued bulk request (saesplade_queue) writes to one index: name it in the path or in every action');
    const state = await managed.state(index, callerHeaders(request.headers));
    if (state.kind !== 'managed') {
      throw new CompatError(400, 'saesplade_model_mismatch_exception', state.kind === 'other_model' ? state.reason : `index [${index}] is not a saesplade concept index: a queued bulk request needs one`, index);
    }
    const parse = resolveParseOptions({ idField: 'id', textFields: opts.textFields, metadataField: 'metadata' });
    const allowed = new Set([...opts.textFields, 'metadata']);
    const answers: ItemAnswer[] = [];
    const lines: string[] = [];
    for (const it of items) {
      const id = typeof it.meta._id === 'string' || typeof it.meta._id === 'number' ? String(it.meta._id) : undefined;
      let why: string | undefined;
      if (it.op !== 'index' && it.op !== 'create') why = `a queued bulk request takes index and create actions, not ${it.op}`;
      else if (id === undefined) why = 'a queued document needs an _id';
      else if (it.sourceError || !it.source || typeof it.source !== 'object' || Array.isArray(it.source)) why = it.sourceError ?? 'the source line is not a JSON object';
      else {
        const extra = Object.keys(it.source).filter((k) => !allowed.has(k));
        if (extra.length > 0) why = `queued indexing stores ${[...allowed].join(', ')} (as saesplade ingest does); field [${extra[0]}] would be lost: send this document without saesplade_queue`;
        else {
          const v = validateDocument({ ...(it.source as Record<string, unknown>), id }, `_bulk:${it.position + 1}`, parse);
          if (!v.ok) why = v.reason;
        }
      }
      if (why !== undefined) {
        answers.push(failedItem(it, 400, itemError('saesplade_encoding_exception', why)));
        continue;
      }
      lines.push(JSON.stringify({ ...(it.source as Record<string, unknown>), id }) + '\n');
      answers.push({ [it.op]: { _index: index, _id: id, status: 202, result: 'queued' } });
    }
    await ensureIngestTarget(ctx.client, index, ctx.model, ctx.config.modelDir, indexSettingsOf(ctx.config));
    const produced = await produceJobSet({
      source: Readable.from(lines),
      sourceName: '_bulk',
      index,
      queue: ctx.queue,
      store: ctx.store,
      model: ctx.model,
      parse: { idField: 'id', textFields: opts.textFields, metadataField: 'metadata' },
      maxWaitingJobs: 0,
    });
    ctx.metrics.documentsReceived.inc({ outcome: 'queued' }, produced.queued);
    const status = `/v1/jobs/${produced.setId}`;
    reply.code(202).header('location', status);
    return { took: 0, errors: answers.some(itemFailed), saesplade: { job_set: produced.setId, status, queued: produced.queued }, items: answers };
  }

  /** PUT|POST /<index>/_doc/<id>, POST /<index>/_doc, PUT|POST /<index>/_create/<id>, POST /<index>/_update/<id>: one-item bulks. */
  async function single(request: FastifyRequest, reply: FastifyReply, op: 'index' | 'create' | 'update', index: string, id: string | undefined): Promise<unknown> {
    const state = await managed.state(index, callerHeaders(request.headers));
    if (state.kind === 'plain' || state.kind === 'missing') return forward(request, reply, {});
    const body = await readBody(request, opts.bodyLimit);
    const query = request.query as Record<string, string | undefined>;
    const meta: Record<string, unknown> = { _index: index };
    if (id !== undefined) meta._id = id;
    for (const p of ACTION_PARAMS) if (query[p] !== undefined && (p !== 'retry_on_conflict' || op === 'update')) meta[p] = NUMERIC_PARAMS.has(p) ? Number(query[p]) : query[p];
    const realOp = op === 'index' && query.op_type === 'create' ? 'create' : op;
    const item: BulkItem = { position: 0, op: realOp, meta, index, rawAction: JSON.stringify({ [realOp]: meta }), rawSource: body.text };
    try {
      item.source = JSON.parse(body.text);
    } catch (err) {
      item.sourceError = `failed to parse the document: ${(err as Error).message}`;
    }
    const plan = await planBulk([item], { encoder: ctx.encoder, textFields: opts.textFields, stateOf: stateOf(request), fetch: fetcher(request) });
    const asSingle = (answer: { items: ItemAnswer[] }) => {
      const inner = Object.values(answer.items[0]!)[0]!;
      const status = typeof inner.status === 'number' ? inner.status : 200;
      if (inner.error) {
        const e = inner.error as { type: string; reason: string; index?: string };
        return { status, body: { error: { root_cause: [{ ...e }], ...e }, status } };
      }
      const { status: _s, ...rest } = inner;
      return { status, body: rest };
    };
    if (plan.kind === 'passthrough') return forward(request, reply, rawBody(request, body));
    if (plan.kind === 'local') {
      const out = asSingle(plan.answer);
      return reply.code(out.status).send(out.body);
    }
    return forward(request, reply, {
      method: 'POST',
      path: '/_bulk',
      body: plan.body,
      contentType: 'application/x-ndjson',
      query: pick(request, ['refresh', 'timeout', 'wait_for_active_shards']),
      transform: (status, json) => (status === 200 && Array.isArray(json?.items) ? asSingle(plan.finish(json)) : { status, body: json }),
    });
  }

  // ---------------------------------------------------------------------------- _search and _msearch

  async function searchRoute(request: FastifyRequest, reply: FastifyReply, pathIndex: string | undefined): Promise<unknown> {
    const body = await readBody(request, opts.bodyLimit);
    const parsed = parseSearchBody(body.text);
    if (!parsed) return forward(request, reply, rawBody(request, body));
    const deps = searchDeps(request);
    const [rewritten] = await rewriteSearches([{ index: pathIndex, ...parsed }], deps);
    const explain = rewritten!.explain;
    return forward(request, reply, {
      method: 'POST',
      body: JSON.stringify(rewritten!.body),
      // Only with explanations is the answer read here; they need each hit's _index and _id, which a filter_path could cut.
      ...(explain
        ? {
            query: queryWithout(request, ['filter_path']),
            transform: async (status: number, json: any) => {
              if (status === 200) await explainHits(json, explain, deps);
              return { status, body: json };
            },
          }
        : {}),
    });
  }

  /**
   * `_count` with concept clauses: the documents a clause matches are those sharing a concept with the
   * query, so every kept concept counts (two_phase, a scoring device, and explain_concepts do not apply).
   */
  async function countRoute(request: FastifyRequest, reply: FastifyReply, pathIndex: string | undefined): Promise<unknown> {
    const body = await readBody(request, opts.bodyLimit);
    const parsed = parseSearchBody(body.text);
    if (!parsed) return forward(request, reply, rawBody(request, body));
    for (const c of parsed.clauses) {
      delete c.twoPhase;
      c.explain = 0;
    }
    const [rewritten] = await rewriteSearches([{ index: pathIndex, ...parsed }], searchDeps(request));
    return forward(request, reply, { method: 'POST', body: JSON.stringify(rewritten!.body) });
  }

  async function msearchRoute(request: FastifyRequest, reply: FastifyReply, pathIndex: string | undefined): Promise<unknown> {
    const body = await readBody(request, opts.bodyLimit);
    if (!body.text.includes('concept_sparse')) return forward(request, reply, rawBody(request, body));
    const parts = parseMsearch(body.text);
    const deps = searchDeps(request);
    const local = new Map<number, Record<string, unknown>>();
    const rewritten = new Map<number, RewrittenSearch>();
    for (const [i, p] of parts.entries()) {
      const parsed = parseSearchBody(p.rawBody);
      if (!parsed) continue;
      const index = typeof p.header.index === 'string' ? p.header.index : pathIndex;
      try {
        const [r] = await rewriteSearches([{ index, ...parsed }], deps);
        rewritten.set(i, r!);
      } catch (err) {
        local.set(i, msearchError(err));
      }
    }
    const sent = parts.map((_, i) => i).filter((i) => !local.has(i));
    const lines = sent.map((i) => `${parts[i]!.rawHeader}\n${rewritten.has(i) ? JSON.stringify(rewritten.get(i)!.body) : parts[i]!.rawBody}\n`).join('');
    const finish = async (remote: unknown[]) => {
      const responses: unknown[] = new Array(parts.length);
      for (const [i, r] of local) responses[i] = r;
      for (const [k, i] of sent.entries()) {
        const r = remote[k] as { status?: number } | undefined;
        const rw = rewritten.get(i);
        if (r && rw?.explain && (r.status === undefined || r.status === 200)) await explainHits(r as never, rw.explain, deps);
        responses[i] = r;
      }
      return responses;
    };
    if (sent.length === 0) return reply.code(200).send({ took: 0, responses: await finish([]) });
    return forward(request, reply, {
      method: 'POST',
      body: lines,
      contentType: 'application/x-ndjson',
      // Local failures are merged into `responses` by position: the cluster's answer must be whole.
      query: queryWithout(request, ['filter_path']),
      transform: async (status, json) => (status === 200 && Array.isArray(json?.responses) ? { status, body: { ...json, responses: await finish(json.responses) } } : { status, body: json }),
    });
  }

  // ---------------------------------------------------------------------------- routes

  type P = { index?: string; id?: string };
  const idx = (r: FastifyRequest) => (r.params as P).index!;
  const id = (r: FastifyRequest) => (r.params as P).id;
  app.route({ method: ['POST', 'PUT'], url: '/_bulk', handler: (r, rep) => bulk(r, rep, undefined) });
  app.route({ method: ['POST', 'PUT'], url: '/:index/_bulk', handler: (r, rep) => bulk(r, rep, idx(r)) });
  app.route({ method: ['POST', 'PUT'], url: '/:index/_doc/:id', handler: (r, rep) => single(r, rep, 'index', idx(r), id(r)) });
  app.route({ method: 'POST', url: '/:index/_doc', handler: (r, rep) => single(r, rep, 'index', idx(r), undefined) });
  app.route({ method: ['POST', 'PUT'], url: '/:index/_create/:id', handler: (r, rep) => single(r, rep, 'create', idx(r), id(r)) });
  app.route({ method: 'POST', url: '/:index/_update/:id', handler: (r, rep) => single(r, rep, 'update', idx(r), id(r)) });
  app.route({ method: ['GET', 'POST'], url: '/_search', handler: (r, rep) => searchRoute(r, rep, undefined) });
  app.route({ method: ['GET', 'POST'], url: '/:index/_search', handler: (r, rep) => searchRoute(r, rep, idx(r)) });
  app.route({ method: ['GET', 'POST'], url: '/_msearch', handler: (r, rep) => msearchRoute(r, rep, undefined) });
  app.route({ method: ['GET', 'POST'], url: '/_count', handler: (r, rep) => countRoute(r, rep, undefined) });
  app.route({ method: ['GET', 'POST'], url: '/:index/_count', handler: (r, rep) => countRoute(r, rep, idx(r)) });
  app.route({ method: ['GET', 'POST'], url: '/:index/_msearch', handler: (r, rep) => msearchRoute(r, rep, idx(r)) });
  // Everything else: to the cluster as it came. A GET with a body (Dev Tools' `GET _count {...}`)
  // goes on as a POST, since the proxy cannot send a GET body; every such OpenSearch route takes both.
  app.all('/*', async (request, reply) => {
    const hasBody = request.method === 'GET' && (Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined);
    if (!hasBody) return forward(request, reply, {});
    const body = await readBody(request, opts.bodyLimit);
    return forward(request, reply, rawBody(request, body));
  });
  return app;
}

/** The request's own bytes, read already, sent on as they came (a GET with a body as a POST). */
function rawBody(request: FastifyRequest, body: { raw: Buffer; encoded: boolean }) {
  if (body.raw.length === 0) return request.method === 'GET' ? {} : { body: body.raw, contentType: String(request.headers['content-type'] ?? 'application/json'), keepEncoding: true };
  return {
    ...(request.method === 'GET' ? { method: 'POST' } : {}),
    body: body.raw,
    contentType: String(request.headers['content-type'] ?? 'application/json'),
    keepEncoding: true,
  };
}

function queryWithout(request: FastifyRequest, drop: string[]): string {
  const q = new URLSearchParams(request.url.split('?')[1] ?? '');
  for (const d of drop) q.delete(d);
  return q.toString();
}

function pick(request: FastifyRequest, keep: string[]): string {
  const q = new URLSearchParams(request.url.split('?')[1] ?? '');
  const out = new URLSearchParams();
  for (const k of keep) if (q.has(k)) out.set(k, q.get(k)!);
  return out.toString();
}
