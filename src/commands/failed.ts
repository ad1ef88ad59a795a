import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { modelIdentity } from '../ingest/run-ingest.js';
import { requeueFailed } from '../ingest/requeue.js';
import { createIngestQueue, type FailedDoc } from '../queue/index.js';
import { configFrom, emit, withConfigOptions, withJobSet } from './common.js';
import { intOption } from './options.js';

/** A failed record as shown and exported: the kept document is left out, `requeueable` says it is there. */
export function shown(f: FailedDoc): Omit<FailedDoc, 'doc'> & { requeueable?: true } {
  const { doc, ...rest } = f;
  return doc !== undefined ? { ...rest, requeueable: true } : rest;
}

/** Failed documents listed per page by default. */
export const FAILED_PAGE = 100;

export function formatFailed(f: FailedDoc): string {
  return `${f.source}${f.id !== undefined && !f.source.endsWith(f.id) ? ` (id ${f.id})` : ''}  ${f.code}: ${f.reason}`;
}

/** `saesplade failed <job-set>`: the documents of a job set that were not indexed, and why. */
export function register(program: Command): void {
  withConfigOptions(
    program
      .command('failed')
      .description('list (or export as JSON Lines) the failed documents of a job set: location, id, reason')
      .argument('<job-set>', 'job set id printed by `saesplade ingest`')
      .option('--limit <n>', 'list at most this many (one page; --export writes them all)', intOption('--limit', 1, 100_000), FAILED_PAGE)
      .option('--offset <n>', 'skip this many first (the next page: --offset <offset + limit>)', intOption('--offset', 0), 0)
      .option('--export <file>', 'write every failed document as one JSON line {source, id, code, reason, at}')
      .option('--requeue', "queue the failed documents again as a new job set (those that failed after entry; lines rejected at entry need fixing in the source); follow it with `saesplade status <new set>`")
      .option('--json', 'print the result as JSON'),
  ).action(async (setId: string, opts: Record<string, any>) => {
    const config = configFrom(opts);
    await withJobSet(config, setId, async ({ redis, store, info }) => {
      if (opts.requeue) {
        const queue = createIngestQueue(info.queue || config.queue, redis);
        try {
          const r = await requeueFailed({ store, queue, setId, model: modelIdentity(config.modelDir) });
          emit(opts.json, r, () =>
            [
              `requeued ${r.requeued} of ${r.failed} failed documents of job set ${setId} as job set ${r.setId} (${r.jobs} jobs on queue ${r.queue}, index ${r.index})` +
                (r.notRequeueable > 0 ? `; ${r.notRequeueable} rejected at entry cannot be requeued (fix them in the source)` : ''),
              `  follow it with: saesplade status ${r.setId}  (a worker must be running: saesplade worker)`,
            ].join('\n'),
          );
        } finally {
          await queue.close();
        }
        return;
      }
      if (opts.export) {
        const out = createWriteStream(opts.export);
        let n = 0;
        for await (const f of store.iterateFailures(setId)) {
          if (!out.write(JSON.stringify(shown(f)) + '\n')) await once(out, 'drain');
          n++;
        }
        out.end();
        await once(out, 'finish');
        emit(opts.json, { setId, exported: n, file: opts.export }, () => `exported ${n} failed documents of job set ${setId} to ${opts.export}`);
        return;
      }
      // One page at a time (LRANGE offset..offset+limit-1): the record can hold millions of lines.
      const offset: number = opts.offset;
      const list = await store.failures(setId, offset, opts.limit);
      const end = offset + list.length;
      const more = end < info.failed;
      // With --json stdout stays the page (a JSON array); the next page's flag goes to stderr.
      if (opts.json && more) process.stderr.write(`${info.failed - end} more: saesplade failed ${setId} --offset ${end} --limit ${opts.limit}\n`);
      emit(opts.json, list.map(shown), () =>
        list.length === 0
          ? `job set ${setId}: ${info.failed === 0 ? 'no failed documents' : `${info.failed} failed documents, none from offset ${offset}`}`
          : [
              `job set ${setId}: ${info.failed} failed documents` + (list.length < info.failed ? ` (${offset + 1}–${end})` : ''),
              ...list.map(formatFailed),
              ...(more ? [`  ${info.failed - end} more: saesplade failed ${setId} --offset ${end}${opts.limit !== FAILED_PAGE ? ` --limit ${opts.limit}` : ''} (or --export file.jsonl for all)`] : []),
            ].join('\n'),
      );
    });
  });
}
