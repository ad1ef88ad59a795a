/**
 * POST /v1/documents → a job set (202), GET /v1/jobs/:id (counters, state), GET /v1/jobs/:id/failed.
 * The same path as `saesplade ingest` (src/ingest/): the target index is created behind its alias or
 * its model checked (ensureIngestTarget), every document is checked by the ingest parser (an invalid
 * one is recorded as failed with its position, `request:<n>`, and the rest are queued), and workers
 * (`saesplade worker`, or `serve --with-worker`) encode and index the batch jobs.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { indexSettingsOf } from '../../opensearch/bulk-settings.js';
import { ensureIngestTarget } from '../../ingest/target.js';
import { produceJobSet } from '../../ingest/producer.js';
import { reconcileJobSet } from '../../ingest/reconcile.js';
import type { JobSetInfo } from '../../queue/index.js';
import type { ServerContext } from '../context.js';
import { HttpError, withDeadline } from '../errors.js';
import {
  documentsBodySchema,
  documentsQuerySchema,
  errorResponses,
  failedListSchema,
  failedQuerySchema,
  jobIdParams,
  jobSetAcceptedSchema,
  jobSetSchema,
  type DocumentsQuery,
} from '../schemas.js';
import { requestIndex } from './search.js';

/** How long a Redis call of a request may take before the answer is 503. */
const REDIS_DEADLINE_MS = 5000;
/** Queueing a whole request body (many addBulk round trips). */
const PRODUCE_DEADLINE_MS = 120_000;
/** Index checks are trusted this long (as in the worker): a POST per second does not cost a mapping read each. */
const TARGET_TTL_MS = 30_000;

export function jobSetState(info: JobSetInfo): 'producing' | 'running' | 'done' {
  return info.done ? 'done' : info.producerDone ? 'running' : 'producing';
}

export function registerDocumentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const guard = ctx.apiKeys.guard({ what: 'the documents API' });
  const targets = new Map<string, number>();

  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl'], { parseAs: 'string', bodyLimit: ctx.options.documentsBodyLimit }, (_req, body, done) => done(null, body));

  app.post<{ Body: unknown[] | string; Querystring: DocumentsQuery }>(
    '/v1/documents',
    {
      onRequest: guard,
      bodyLimit: ctx.options.documentsBodyLimit,
      schema: {
        tags: ['documents'],
        summary: 'Queue documents for encoding and indexing (a job set)',
        description:
          'A JSON array of documents, or NDJSON (Content-Type: application/x-ndjson), one document a line, as `saesplade ingest` reads them. ' +
          'Answers 202 with the job set id at once; follow it with GET /v1/jobs/{id}. Invalid documents are not queued: they are recorded as failed with their position (`request:<n>`). ' +
          '503 + Retry-After while the queue holds more waiting jobs than the server accepts (SAESPLADE_MAX_WAITING_JOBS).',
        security: [{ bearer: [] }],
        querystring: documentsQuerySchema,
        body: documentsBodySchema,
        response: { 202: { $ref: 'JobSetAccepted#' }, ...errorResponses(400, 401, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const index = requestIndex(ctx, q.index, 'index');
      const batchSize = q.batchSize === undefined ? 32 : Number(q.batchSize);
      if (batchSize < 1 || batchSize > 1000) throw new HttpError(400, 'invalid_request', `querystring batchSize must be from 1 to 1000, got ${q.batchSize}`, { field: 'batchSize', reason: 'must be from 1 to 1000' });
      const textFields = (q.textFields ?? 'title,text')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (textFields.length === 0) throw new HttpError(400, 'invalid_request', 'querystring textFields names no field', { field: 'textFields', reason: 'names no field' });

      if (ctx.options.maxWaitingJobs > 0) {
        const waiting = await withDeadline(ctx.queue.getWaitingCount(), REDIS_DEADLINE_MS, 'Redis');
        if (waiting >= ctx.options.maxWaitingJobs) {
          throw new HttpError(503, 'queue_full', `the ingest queue holds ${waiting} waiting batch jobs (the server accepts new documents below ${ctx.options.maxWaitingJobs}); retry later`, {
            headers: { 'retry-after': '30' },
          });
        }
      }
      const checkedAt = targets.get(index);
      if (checkedAt === undefined || Date.now() - checkedAt > TARGET_TTL_MS) {
        await withDeadline(ensureIngestTarget(ctx.client, index, ctx.model, ctx.config.modelDir, indexSettingsOf(ctx.config)), 30_000, 'OpenSearch');
        targets.set(index, Date.now());
      }

      const body = request.body;
      const lines = typeof body === 'string' ? [body] : body.map((d) => JSON.stringify(d) + '\n');
      const produced = await withDeadline(
        produceJobSet({
          source: Readable.from(lines),
          sourceName: 'request',
          index,
          queue: ctx.queue,
          store: ctx.store,
          model: ctx.model,
          parse: { format: q.format ?? 'auto', idField: q.idField ?? 'id', textFields, metadataField: q.metadataField ?? 'metadata' },
          batchSize,
          // This request was admitted above; it is not held open while workers drain the queue.
          maxWaitingJobs: 0,
        }),
        PRODUCE_DEADLINE_MS,
        'Redis',
      );
      ctx.metrics.documentsReceived.inc({ outcome: 'queued' }, produced.queued);
      ctx.metrics.documentsReceived.inc({ outcome: 'rejected' }, produced.rejected);
      const status = `/v1/jobs/${produced.setId}`;
      reply.code(202).header('location', status);
      return { ...produced, index, status };
    },
  );

  async function jobSet(id: string): Promise<JobSetInfo> {
    const info = await withDeadline(ctx.store.get(id), REDIS_DEADLINE_MS, 'Redis');
    if (!info) throw new HttpError(404, 'not_found', `job set ${id} not found (job sets expire 7 days after their last update)`, { field: 'id', reason: 'not found' });
    return info;
  }

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      onRequest: guard,
      schema: {
        tags: ['documents'],
        summary: 'A job set: counters and state',
        security: [{ bearer: [] }],
        params: jobIdParams,
        response: { 200: { $ref: 'JobSet#' }, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      let info = await jobSet(request.params.id);
      if (!info.done && info.queue === ctx.queue.name) {
        // As `saesplade status`: settle jobs that failed while no worker could count them.
        const settled = await withDeadline(reconcileJobSet(ctx.queue, ctx.store, info.id), REDIS_DEADLINE_MS, 'Redis');
        if (settled > 0) info = await jobSet(info.id);
      }
      return { ...info, state: jobSetState(info) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { start?: string; count?: string } }>(
    '/v1/jobs/:id/failed',
    {
      onRequest: guard,
      schema: {
        tags: ['documents'],
        summary: "A job set's failed documents: where each came from, its id, a code and the reason",
        security: [{ bearer: [] }],
        params: jobIdParams,
        querystring: failedQuerySchema,
        response: { 200: { $ref: 'FailedDocuments#' }, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const info = await jobSet(request.params.id);
      const start = Number(request.query.start ?? 0);
      const count = Number(request.query.count ?? 100);
      if (count < 1 || count > 10_000) throw new HttpError(400, 'invalid_request', `querystring count must be from 1 to 10000, got ${count}`, { field: 'count', reason: 'must be from 1 to 10000' });
      const documents = await withDeadline(ctx.store.failures(info.id, start, count), REDIS_DEADLINE_MS, 'Redis');
      return { id: info.id, failed: info.failed, start, documents };
    },
  );
}

export const DOCUMENT_SCHEMAS = [jobSetAcceptedSchema, jobSetSchema, failedListSchema];
