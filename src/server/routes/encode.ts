/** POST /v1/encode: texts → concept vectors with labels (the CLI `encode --json`), for applications that build their own queries. */
import type { FastifyInstance } from 'fastify';
import type { SparseVector } from '../../sparse.js';
import type { ServerContext } from '../context.js';
import { encodeBodySchema, encodeResultSchema, errorResponses, type EncodeBody } from '../schemas.js';

function topConcepts(v: SparseVector, n: number, label: (id: number) => string | undefined) {
  const order = [...v.indices.keys()].sort((a, b) => v.values[b]! - v.values[a]! || v.indices[a]! - v.indices[b]!);
  return order.slice(0, n).map((i) => {
    const id = v.indices[i]!;
    const out: { id: number; weight: number; label?: string } = { id, weight: v.values[i]! };
    const l = label(id);
    if (l !== undefined) out.label = l;
    return out;
  });
}

export function registerEncodeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: EncodeBody }>(
    '/v1/encode',
    {
      onRequest: ctx.options.searchAuth ? ctx.apiKeys.guard({ what: 'encode' }) : undefined,
      schema: {
        tags: ['search'],
        summary: 'Encode texts into concept vectors (with labels)',
        description: 'One vector per text, in order: `vector` maps concept ids to weights (a rank_features map), `top` lists the heaviest with labels. Runs on the encoder threads like /v1/search (503 + Retry-After when full).',
        ...(ctx.options.searchAuth ? { security: [{ bearer: [] }] } : {}),
        body: { $ref: 'EncodeRequest#' },
        response: { 200: { $ref: 'EncodeResult#' }, ...errorResponses(400, 401, 413, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const mode = body.mode ?? 'query';
      const vectors = await ctx.encoder.encode(body.texts, mode, {
        ...(body.raw ? { raw: true } : {}),
        ...(body.pruning ? { pruning: body.pruning } : {}),
        ...(body.long ? { long: body.long } : {}),
      });
      const label = (id: number) => ctx.encoder.label(id);
      const top = body.top ?? 20;
      return {
        model: ctx.model,
        mode,
        results: vectors.map((v) => {
          const vector: Record<string, number> = {};
          v.indices.forEach((id, j) => (vector[String(id)] = v.values[j]!));
          return { nnz: v.indices.length, top: topConcepts(v, top, label), vector };
        }),
      };
    },
  );
}

export const ENCODE_SCHEMAS = [encodeBodySchema, encodeResultSchema];
