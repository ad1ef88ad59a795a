/**
 * Set-up shared by the reindex integration tests: a plain text source index (no concept field), a
 * second model package (models/default with another version and pruning, graph files linked), and
 * clean-up of every index, queue, job set and Redis key a test made.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_MODEL_DIR, type Config } from '../../src/config.js';
import type { Client } from '../../src/opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { activeKey, reindexQueueName, reindexSetId, stateKey } from '../../src/reindex/index.js';
import { createRedis } from '../../src/redis.js';

/** models/default with `version` and document `top_k` changed; the big files are symlinks. */
export function modelVariant(version: string, topK: number): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-model-variant-'));
  for (const f of readdirSync(DEFAULT_MODEL_DIR)) {
    if (f !== 'manifest.json') symlinkSync(path.join(DEFAULT_MODEL_DIR, f), path.join(dir, f));
  }
  const m = JSON.parse(readFileSync(path.join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8'));
  m.version = version;
  m.pruning.document.top_k = topK;
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A plain text index as teams have them: title/text with their own analyzer, other fields, no concepts. */
export async function createPlainIndex(client: Client, index: string, lines: string[]): Promise<string[]> {
  await client.indices.create({
    index,
    body: {
      settings: { index: { number_of_shards: 2, number_of_replicas: 0 }, analysis: { analyzer: { plain_std: { type: 'standard', stopwords: '_english_' } } } },
      mappings: {
        properties: {
          title: { type: 'text', analyzer: 'plain_std' },
          text: { type: 'text', analyzer: 'plain_std' },
          year: { type: 'integer' },
          venue: { type: 'keyword' },
          abstract_len: { type: 'integer' },
        },
      },
    } as any,
  });
  const ids: string[] = [];
  const body: unknown[] = [];
  lines.forEach((l, i) => {
    const d = JSON.parse(l) as { _id: string; title: string; text: string };
    ids.push(d._id);
    body.push({ index: { _index: index, _id: d._id } }, { title: d.title, text: d.text, year: 2000 + (i % 20), venue: `v${i % 3}`, abstract_len: d.text.length });
  });
  await client.bulk({ body: body as any, refresh: true });
  return ids;
}

/** Removes indices, the reindex queues/job sets/state of `targets`, and the forwarding keys of `names`. */
export async function cleanupReindex(config: Config, client: Client, p: { indices: string[]; aliases: string[]; targets: string[]; queues?: string[] }): Promise<void> {
  const redis = createRedis(config);
  const store = new JobSetStore(redis);
  const queues = [...p.targets.map(reindexQueueName), ...(p.queues ?? [])].map((q) => createIngestQueue(q, redis));
  await Promise.allSettled([
    client.indices.delete({ index: [...p.indices, ...p.targets].join(','), ignore_unavailable: true } as any),
    ...queues.map((q) => q.obliterate({ force: true })),
    ...p.targets.map((t) => store.delete(reindexSetId(t))),
    ...p.targets.map((t) => redis.del(stateKey(t), `${store.keys(reindexSetId(t)).set}:forwarded`)),
    ...[...p.aliases, ...p.indices, ...p.targets].map((n) => redis.del(activeKey(n))),
  ]);
  await Promise.allSettled(queues.map((q) => q.close()));
  await redis.quit();
}
