/** POST /v1/search: the CLI `search` over HTTP (src/search/search.ts), same options and semantics. */
import type { FastifyInstance } from 'fastify';
import { indexNameProblem, INDEX_NAME_RULE } from '../../names.js';
import { search, type SearchRequest } from '../../search/search.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { errorResponses, searchBodySchema, searchResultSchema, type SearchBody } from '../schemas.js';

/** The index a request names (or the server's), checked by OpenSearch's name rules. */
export function requestIndex(ctx: ServerContext, index: string | undefined, field = 'index'): string {
  const name = index ?? ctx.config.index;
  const problem = indexNameProblem(name);
  if (problem) throw new HttpError(400, 'invalid_request', `${field} ${JSON.stringify(name)} is not a valid index or alias name (${problem}); ${INDEX_NAME_RULE}`, { field, reason: problem });
  return name;
}

/** The library request for an HTTP body (the same mapping as the CLI's flags, src/commands/search.ts). */
export function searchRequest(ctx: ServerContext, body: SearchBody): SearchRequest {
  const req: SearchRequest = {
    index: requestIndex(ctx, body.index),
    query: body.query,
    mode: body.mode ?? 'concepts',
    size: body.size ?? 10,
    from: body.from ?? 0,
  };
  if (body.filter !== undefined) req.filter = body.filter;
  if (body.source !== undefined) req.source = body.source;
  if (body.explain !== undefined) req.explain = body.explain;
  if (body.pruning) req.pruning = body.pruning;
  if (body.maxClauses !== undefined) req.maxClauses = body.maxClauses;
  if (body.twoPhase !== undefined) req.twoPhase = body.twoPhase;
  if (body.inferenceFree) req.inferenceFree = true;
  if (body.hybrid) req.hybrid = body.hybrid;
  if (body.rrf) req.rrf = body.rrf;
  if (body.textFields) req.textFields = body.textFields;
  if (body.dsl) req.includeDsl = true;
  return req;
}

export function registerSearchRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: SearchBody }>(
    '/v1/search',
    {
      onRequest: ctx.options.searchAuth ? ctx.apiKeys.guard({ what: 'search' }) : undefined,
      schema: {
        tags: ['search'],
        summary: 'Search an index: concepts (dot product), bm25, hybrid or rrf',
        description:
          'The query is encoded (query mode) on the encoder threads, translated into rank_feature clauses and run on OpenSearch. ' +
          'With `explain`, each hit lists the concepts it matched on. 503 with Retry-After when every encoder thread is busy and the wait queue is full.',
        ...(ctx.options.searchAuth ? { security: [{ bearer: [] }] } : {}),
        body: { $ref: 'SearchRequest#' },
        response: { 200: { $ref: 'SearchResult#' }, ...errorResponses(400, 401, 404, 409, 413, 503) },
      },
    },
    async (request) => {
      const req = searchRequest(ctx, request.body);
      const t0 = performance.now();
      const result = await search({ client: ctx.client, encoder: ctx.encoder }, req);
      const mode = req.mode ?? 'concepts';
      ctx.metrics.searchDuration.observe({ mode }, (performance.now() - t0) / 1000);
      ctx.metrics.opensearchTook.observe({ mode }, result.took / 1000);
      return result;
    },
  );
}

export const SEARCH_SCHEMAS = [searchBodySchema, searchResultSchema];
