/**
 * The queue dashboard: bull-board at /admin/queues, behind an API key. Browsers cannot add a Bearer
 * header to a page load, so this route also takes the key as the password of HTTP Basic (any user
 * name) and asks for it (WWW-Authenticate: Basic).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';

export const ADMIN_QUEUES_PATH = '/admin/queues';

export async function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const adapter = new FastifyAdapter();
  adapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(ctx.queue)],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'saesplade queues' } },
  });
  const guard = ctx.apiKeys.guard({ what: 'the queue dashboard', basic: true });
  await app.register(async (admin) => {
    admin.addHook('onRequest', guard);
    await admin.register(adapter.registerPlugin() as any, { prefix: ADMIN_QUEUES_PATH });
  });
}
