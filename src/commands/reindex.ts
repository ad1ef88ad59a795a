import type { Command } from 'commander';
import { reindex, type ReindexResult } from '../reindex/index.js';
import { configFrom, emit, withConfigOptions, withIndexSettingsOptions } from './common.js';
import { indexNameOption, intOption, RANGES, rangedInt } from './options.js';
import { DEFAULT_TEXT_FIELDS, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

export function formatReindex(r: ReindexResult): string {
  const lines = [`reindex ${r.sources.join(', ') || '?'} → ${r.target} (alias ${r.alias}, model ${r.model.name}@${r.model.version}): ${r.status}`];
  if (r.status === 'queued' || r.status === 'interrupted') {
    lines.push(`  ${r.pagesThisRun} pages queued in this run on queue ${r.queue} (${r.slices} slices × pages of ${r.pageSize})`);
    lines.push(`  workers must run the new model: saesplade worker --queue ${r.queue} --model <package>`);
    lines.push(`  then run the same command with --wait to verify and switch the alias (it resumes where this run stopped)`);
  }
  if (r.final) lines.push(`  indexed ${r.final.indexed}, already there ${r.final.skipped}, failed ${r.final.failed}; ${r.elapsedS?.toFixed(1)} s, ${r.docsPerS} docs/s`);
  if (r.verification) {
    const v = r.verification;
    lines.push(`  verified: ${v.targetCount} = ${v.sourceCount} documents; ${v.sampled} re-encoded, min cosine ${v.minCosine}, max relative difference ${v.maxRelDiff}`);
  }
  if (r.status === 'switched' && r.replaced) {
    lines.push(`  the index ${r.replaced} is now the alias ${r.alias} → ${r.target}`);
    lines.push(r.previous?.length ? `  its content is kept as ${r.previous.join(', ')}; undo with: saesplade rollback --alias ${r.alias}` : `  deleted its content (--delete-old)`);
  } else if (r.status === 'switched') {
    lines.push(`  alias ${r.alias}: ${r.previous?.length ? r.previous.join(', ') : '(new)'} → ${r.target}`);
    lines.push(r.deleted?.length ? `  deleted ${r.deleted.join(', ')}` : r.previous?.length ? `  kept ${r.previous.join(', ')}; undo with: saesplade rollback --alias ${r.alias}` : '');
  }
  return lines.filter(Boolean).join('\n');
}

/** `saesplade reindex --source <index|alias>`: re-encode into a new versioned index and switch the alias. */
export function register(program: Command): void {
  withIndexSettingsOptions(withConfigOptions(
    program
      .command('reindex')
      .description('re-encode an index (or the index behind an alias) with a model into a new index, then switch the alias')
      .addHelpText(
        'after',
        `
Reads the source through a point in time, in slices, with search_after; queues one job per page on
the queue saesplade-reindex-<new index> (or --queue), whose workers must run the new model
(saesplade worker --queue ... --model ...; or --with-worker). The new index is <alias>-<model>-<version>.
Upgrading the model of what ingest built: saesplade reindex --source concepts-docs --with-worker
(for a concrete index of that name, add --alias concepts-docs: it becomes an alias of the same name,
the old index kept as concepts-docs-<old model>-<old version> for rollback).
The source is never modified. Interrupted? Run the same command again: it continues where it stopped.
With --wait: waits, verifies (counts, a re-encoded sample) and moves the alias in one _aliases call.
Writes to the alias during the run are forwarded to the new index (docs/REINDEX.md).`,
      )
      .requiredOption('--source <index|alias>', 'index or alias to read (never modified)', indexNameOption('--source'))
      .option('--alias <name>', 'alias to move to the new index (default: --source when it is an alias; = --source for a concrete index: replace it by an alias of its name)', indexNameOption('--alias'))
      .option('--text-fields <list>', 'comma-separated source fields to encode (first of several = title)', DEFAULT_TEXT_FIELDS.join(','))
      .option('--slices <n>', 'point-in-time slices read in parallel', intOption('--slices', 1, 1024), 2)
      .option('--page-size <n>', 'documents per page (= per job)', intOption('--page-size', 1, 10_000), 32)
      .option('--keep-old', 'keep the previous index for rollback (default)')
      .option('--delete-old', 'delete the previous index after the switch')
      .option('--wait', 'wait for the jobs, verify, switch the alias')
      .option('--with-worker', 'also run a worker with the new model in this process (implies --wait)')
      .option('--concurrency <n>', 'jobs the in-process worker runs at once', rangedInt('--concurrency', RANGES.concurrency), DEFAULT_WORKER_CONCURRENCY)
      .option('--sample <n>', 'documents re-encoded and compared before the switch', intOption('--sample', 1, 10_000), 20)
      .option('--restart', 'delete the new index and this run\'s progress first, and start over')
      .option('--json', 'print the result as JSON'),
  )).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    if (opts.keepOld && opts.deleteOld) throw new Error('--keep-old and --delete-old exclude each other');
    const res = await reindex({
      config,
      source: opts.source,
      ...(opts.alias ? { alias: opts.alias } : {}),
      textFields: String(opts.textFields).split(',').map((s) => s.trim()).filter(Boolean),
      slices: opts.slices,
      pageSize: opts.pageSize,
      ...(opts.queue ? { queue: opts.queue } : {}),
      deleteOld: Boolean(opts.deleteOld),
      wait: Boolean(opts.wait),
      withWorker: opts.withWorker ? { concurrency: opts.concurrency } : false,
      restart: Boolean(opts.restart),
      sampleSize: opts.sample,
    });
    emit(opts.json, res, () => formatReindex(res));
  });
}
