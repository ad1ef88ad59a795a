/** GET /healthz (the process is up) and GET /readyz (OpenSearch, Redis and the model answer, with what failed). */
import type { FastifyInstance } from 'fastify';
import type { CheckResult, ServerContext } from '../context.js';
import { healthSchema, readySchema } from '../schemas.js';

/** A check that throws or overruns its deadline reports `ok: false` with the (redacted) reason. */
async function bounded(ctx: ServerContext, name: string, run: () => Promise<CheckResult>, ms: number): Promise<CheckResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([run(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms)))]);
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: ctx.redact((err as Error)?.message ?? String(err)) };
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const started = Date.now();
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: healthSchema } } },
    async () => ({ status: 'ok', uptimeS: Math.round((Date.now() - started) / 100) / 10 }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: OpenSearch, Redis and the model answer (503 naming what failed)',
        response: { 200: { $ref: 'Readiness#' }, 503: { $ref: 'Readiness#' } },
      },
    },
    async (_request, reply) => {
      const [opensearch, redis, model] = await Promise.all([
        bounded(ctx, 'OpenSearch', () => ctx.checks.opensearch(), 4000),
        bounded(ctx, 'Redis', () => ctx.checks.redis(), 4000),
        bounded(ctx, 'the model', () => ctx.checks.model(), 10_000),
      ]);
      const ready = opensearch.ok && redis.ok && model.ok;
      reply.code(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'not_ready', checks: { opensearch, redis, model } };
    },
  );
}

export const HEALTH_SCHEMAS = [readySchema];
