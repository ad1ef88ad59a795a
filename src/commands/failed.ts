import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { JobSetStore, type FailedDoc } from '../queue/index.js';
import { redactUrl } from '../errors.js';
import { checkRedis, createRedis } from '../redis.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { intOption } from './options.js';

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
      .option('--limit <n>', 'list at most this many (default all)', intOption('--limit', 1))
      .option('--export <file>', 'write every failed document as one JSON line {source, id, code, reason, at}')
      .option('--json', 'print the result as JSON'),
  ).action(async (setId: string, opts: Record<string, any>) => {
    const config = configFrom(opts);
    // Redis down or a wrong URL: one line naming it and exit 69, instead of reconnecting forever.
    await checkRedis(config);
    const redis = createRedis(config);
    try {
      const store = new JobSetStore(redis);
      const info = await store.get(setId);
      if (!info) throw new Error(`job set ${setId} not found in ${redactUrl(config.redisUrl)} (it expires 7 days after its last update)`);
      if (opts.export) {
        const out = createWriteStream(opts.export);
        let n = 0;
        for await (const f of store.iterateFailures(setId)) {
          if (!out.write(JSON.stringify(f) + '\n')) await once(out, 'drain');
          n++;
        }
        out.end();
        await once(out, 'finish');
        emit(opts.json, { setId, exported: n, file: opts.export }, () => `exported ${n} failed documents of job set ${setId} to ${opts.export}`);
        return;
      }
      const list = await store.failures(setId, 0, opts.limit ?? -1);
      emit(opts.json, list, () =>
        list.length === 0
          ? `job set ${setId}: no failed documents`
          : [`job set ${setId}: ${info.failed} failed documents${list.length < info.failed ? ` (first ${list.length})` : ''}`, ...list.map(formatFailed)].join('\n'),
      );
    } finally {
      await redis.quit();
    }
  });
}
