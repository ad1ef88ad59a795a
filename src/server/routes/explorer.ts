/**
 * The concept explorer at / (src/server/explorer/: one HTML page, a script and a style sheet, no
 * dependencies), and GET /v1/info (the model and index it shows). The page calls /v1/search three
 * times per query: concepts and hybrid with explanations, and BM25.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PACKAGE_ROOT } from '../../config.js';
import { SEARCH_MODES } from '../../search/translator.js';
import type { ServerContext } from '../context.js';

export const EXPLORER_DIR = path.join(PACKAGE_ROOT, 'src', 'server', 'explorer');

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const infoSchema = {
  type: 'object',
  properties: {
    model: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, dictionarySize: { type: 'integer' } } },
    index: { type: 'string' },
    modes: { type: 'array', items: { type: 'string' } },
    searchAuth: { type: 'boolean' },
  },
} as const;

export function registerExplorerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const files = {
    'index.html': 'text/html; charset=utf-8',
    'explorer.js': 'text/javascript; charset=utf-8',
    'explorer.css': 'text/css; charset=utf-8',
  } as const;
  const content = Object.fromEntries(Object.keys(files).map((f) => [f, readFileSync(path.join(EXPLORER_DIR, f))])) as Record<keyof typeof files, Buffer>;
  const send = (file: keyof typeof files) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    reply.header('content-type', files[file]).header('content-security-policy', CSP).header('cache-control', 'no-cache');
    return content[file];
  };
  app.get('/', { schema: { hide: true } }, send('index.html'));
  app.get('/explorer/explorer.js', { schema: { hide: true } }, send('explorer.js'));
  app.get('/explorer/explorer.css', { schema: { hide: true } }, send('explorer.css'));
  app.get(
    '/v1/info',
    { schema: { tags: ['search'], summary: 'The model this server encodes with, its default index and search modes', response: { 200: infoSchema } } },
    async () => ({ model: ctx.model, index: ctx.config.index, modes: [...SEARCH_MODES], searchAuth: ctx.options.searchAuth }),
  );
}
