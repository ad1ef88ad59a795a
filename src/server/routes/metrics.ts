/** GET /metrics: Prometheus text format (prom-client), see src/server/metrics.ts for the names. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

export function registerMetricsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
