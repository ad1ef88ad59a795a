import { createOpenSearchClient } from '../opensearch/client.js';
import type { Command } from 'commander';
import { reconcileJobSet } from '../ingest/index.js';
import { createIngestQueue, type JobSetInfo } from '../queue/index.js';
import { configFrom, emit, withConfigOptions, withJobSet } from './common.js';

export function formatJobSet(s: JobSetInfo): string {
  const state = s.done ? 'done' : s.producerDone ? 'processing' : 'reading and queueing';
  return [
    `job set ${s.id}: ${state}`,
    `  source ${s.source} → index ${s.index} (queue ${s.queue}), started ${s.createdAt}${s.finishedAt ? `, finished ${s.finishedAt}` : ''}`,
    `  read ${s.read}, queued ${s.queued} in ${s.jobs} jobs (${s.jobsDone} done)`,
    `  indexed ${s.indexed}, skipped (unchanged) ${s.skipped}, failed ${s.failed}` + (s.failedAtEntry ? ` (${s.failedAtEntry} rejected at entry)` : ''),
  ].join('\n');
}

/** `saesplade status <job-set>`: the counters of one ingestion. */
export function register(program: Command): void {
  withConfigOptions(
    program
      .command('status')
      .description('show the counters of a job set (read, queued, indexed, skipped-unchanged, failed)')
      .argument('<job-set>', 'job set id printed by `saesplade ingest`')
      .option('--json', 'print the result as JSON'),
  ).action(async (setId: string, opts: Record<string, any>) => {
    const config = configFrom(opts);
    await withJobSet(config, setId, async ({ redis, store, info: first }) => {
      if (!first.done && first.queue) {
        // Settle jobs that failed while no worker could count them (e.g. stalled too often).
        const queue = createIngestQueue(first.queue, redis);
        try {
          // With OpenSearch at hand, what such a job's killed runs wrote counts as indexed; without, as failed.
          const client = createOpenSearchClient(config);
          try {
            await reconcileJobSet(queue, store, setId, client);
          } finally {
            await client.close();
          }
        } finally {
          await queue.close();
        }
      }
      const info = (await store.get(setId))!;
      emit(opts.json, info, () => formatJobSet(info));
    });
  });
}
