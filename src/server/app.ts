/**
 * The Fastify application of `saesplade serve`: plugins (OpenAPI, CORS), one module per route group
 * under routes/, and the hooks every request passes (metrics, security headers, error answers).
 * buildApp does not listen: startServer (serve.ts) does, and tests may use app.inject.
 */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';
import { httpAnswer } from './errors.js';
import { registerAdminRoutes } from './routes/admin.js';
import { DOCUMENT_SCHEMAS, registerDocumentRoutes } from './routes/documents.js';
import { ENCODE_SCHEMAS, registerEncodeRoutes } from './routes/encode.js';
import { registerExplorerRoutes } from './routes/explorer.js';
import { HEALTH_SCHEMAS, registerHealthRoutes } from './routes/health.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerSearchRoutes, SEARCH_SCHEMAS } from './routes/search.js';
import { SHARED_SCHEMAS } from './schemas.js';

export const API_VERSION = '0.1.0';

export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    // One debug line per request from the onResponse hook below instead of Fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.options.bodyLimit,
    // Answer 503 to requests that arrive while closing; wait for the ones in flight.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: {
        // Refuse unknown fields (a typo is a 400, not silently ignored) and wrong types (no coercion).
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
      },
    },
  });

  for (const s of [...SHARED_SCHEMAS, ...SEARCH_SCHEMAS, ...ENCODE_SCHEMAS, ...DOCUMENT_SCHEMAS, ...HEALTH_SCHEMAS]) app.addSchema(s);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'saesplade',
        version: API_VERSION,
        description:
          'Concept-level sparse retrieval (SAE-SPLADE) for OpenSearch: search, encode, queued ingestion. ' +
          `Model ${ctx.model.name}@${ctx.model.version}. Write routes need an API key (Authorization: Bearer).`,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'search', description: 'search and encode' },
        { name: 'documents', description: 'queued ingestion: job sets' },
        { name: 'operations', description: 'health, readiness, metrics' },
      ],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String((json as { $id?: string }).$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  if (ctx.options.corsOrigins.length > 0) {
    const any = ctx.options.corsOrigins.includes('*');
    await app.register(cors, {
      origin: any ? '*' : ctx.options.corsOrigins,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type'],
      maxAge: 600,
    });
  }

  // Shutting down: answers to the requests still in flight close their connection, so that a
  // keep-alive client does not hold the server open until its idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    ctx.metrics.httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, seconds);
    request.log.debug({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });

  app.setErrorHandler(async (err, request, reply) => {
    const answer = httpAnswer(err, ctx.redact);
    // A client that went away (a load generator stopping, a closed tab) hears nothing: not worth a warning.
    const gone = request.raw.destroyed || request.raw.socket?.destroyed;
    if (gone && !answer.unexpected) request.log.debug({ route: request.routeOptions.url, status: answer.statusCode }, 'request failed after the client left');
    else if (answer.unexpected) request.log.error({ route: request.routeOptions.url, err: ctx.redact((err as Error)?.stack ?? String(err)) }, 'unexpected error');
    else if (answer.statusCode >= 500) request.log.warn({ route: request.routeOptions.url, status: answer.statusCode, err: answer.body.message }, 'request failed');
    reply.code(answer.statusCode).headers(answer.headers);
    return answer.body;
  });

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    const path = request.url.split('?')[0] ?? '';
    return { error: 'not_found', message: ctx.redact(`no route ${request.method} ${path.slice(0, 200)}`) };
  });

  registerHealthRoutes(app, ctx);
  registerMetricsRoutes(app, ctx);
  registerSearchRoutes(app, ctx);
  registerEncodeRoutes(app, ctx);
  registerDocumentRoutes(app, ctx);
  registerExplorerRoutes(app, ctx);
  await registerAdminRoutes(app, ctx);
  return app;
}
