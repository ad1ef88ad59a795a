import { InvalidArgumentError, type Command } from 'commander';
import { formatSummary, ingest } from '../ingest/index.js';
import { checkSourcePath } from '../ingest/source-open.js';
import { upgradeIngestTarget } from '../reindex/upgrade.js';
import { configFrom, emit, withConfigOptions, withIndexSettingsOptions } from './common.js';
import { formatReindex } from './reindex.js';
import { RANGES, rangedInt } from './options.js';
import { DEFAULT_JOB_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_DOC_BYTES, DEFAULT_TEXT_FIELDS, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

/** `saesplade ingest <file|->`: queue a JSON Lines source as a job set, optionally wait for it. */
export function register(program: Command): void {
  withIndexSettingsOptions(withConfigOptions(
    program
      .command('ingest')
      .description('queue documents from a JSON Lines file (or - for stdin) for encoding and indexing')
      .addHelpText(
        'after',
        `
Each valid line joins a batch job on the BullMQ queue; \`saesplade worker\` processes the jobs.
Invalid lines (not JSON, no id, empty text, over --max-doc-bytes) are recorded as failed with
their file:line and never queued. Prints the job set id: follow it with \`saesplade status <id>\`,
list rejected and failed documents with \`saesplade failed <id>\`.

One-command demo (no separate worker): saesplade ingest corpus.jsonl --with-worker

A new index name becomes the alias <name> over the index <name>-<model>-<version>. A name built with
another model is refused with the one reindex command that upgrades it; --upgrade runs that command
first (re-encode, verify, switch; in this process), then ingests.`,
      )
      .argument('<source>', 'JSON Lines file, or - for stdin')
      .option('--format <format>', 'auto (id, or _id as fallback), jsonl, or beir (_id/title/text/metadata)', 'auto')
      .option('--id-field <name>', 'field holding the document id', 'id')
      .option('--text-fields <list>', 'comma-separated text fields, encoded in order (first of several = title)', DEFAULT_TEXT_FIELDS.join(','))
      .option('--metadata-field <name>', 'field holding an object stored as metadata', 'metadata')
      .option('--max-doc-bytes <n>', 'reject lines longer than this many bytes', rangedInt('--max-doc-bytes', RANGES.docBytes), DEFAULT_MAX_DOC_BYTES)
      .option('--batch-size <n>', 'documents per batch job', rangedInt('--batch-size', RANGES.jobBatch), DEFAULT_JOB_BATCH_SIZE)
      .option('--batch-bytes <n>', 'bytes per batch job at most (documents as JSON; one bigger document travels alone)', rangedInt('--batch-bytes', RANGES.docBytes), DEFAULT_MAX_BATCH_BYTES)
      .option('--wait', 'wait until every document is indexed, skipped or failed (progress on stderr), then refresh')
      .option('--with-worker', 'also run a worker in this process until the job set is done (implies --wait)')
      .option('--concurrency <n>', 'batch jobs the in-process worker runs at once (--with-worker)', rangedInt('--concurrency', RANGES.concurrency), DEFAULT_WORKER_CONCURRENCY)
      .option('--outage-patience <s>', 'seconds the in-process worker waits for an unavailable OpenSearch before giving up (documents stay queued)', rangedInt('--outage-patience', RANGES.outagePatienceS), 600)
      .option('--stall-timeout <s>', 'with --wait: give up (exit 1, the set stays queued) when nothing moved for this many seconds; 0 waits forever', rangedInt('--stall-timeout', RANGES.stallTimeoutS), 1800)
      .option('--no-refresh', 'do not refresh the index after waiting')
      .option('--upgrade', 'if the index or alias was built with another model, first upgrade it to this one (saesplade reindex, in-process worker)')
      .option('--json', 'print the result as JSON'),
  )).action(async (source: string, opts: Record<string, any>) => {
    const config = configFrom(opts);
    if (!['auto', 'jsonl', 'beir'].includes(opts.format)) throw new InvalidArgumentError(`--format must be auto, jsonl or beir, got "${opts.format}"`);
    const textFields = String(opts.textFields)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    // A missing file, a directory or binary input is refused before anything runs (src/ingest/source-open.ts).
    if (source !== '-') await checkSourcePath(source);
    if (opts.upgrade) {
      const say = (line: string) => process.stderr.write(line + '\n');
      const up = await upgradeIngestTarget({ config, concurrency: opts.concurrency, say });
      if (up.reindex) say(formatReindex(up.reindex));
    }
    const res = await ingest({
      config,
      source,
      parse: { format: opts.format, idField: opts.idField, textFields, metadataField: opts.metadataField, maxDocBytes: opts.maxDocBytes },
      batchSize: opts.batchSize,
      maxBatchBytes: opts.batchBytes,
      wait: Boolean(opts.wait),
      withWorker: opts.withWorker ? { concurrency: opts.concurrency, outagePatienceMs: opts.outagePatience * 1000 } : false,
      refresh: opts.refresh !== false,
      stallTimeoutMs: opts.stallTimeout * 1000,
    });
    if (res.summary) {
      if (res.summary.refreshError && opts.json) process.stderr.write(`warning: ${res.summary.refreshError}\n`);
      emit(opts.json, res.summary, () => formatSummary(res.summary!));
      return;
    }
    const p = res.produced;
    emit(opts.json, p, () =>
      [
        `job set ${p.setId}: read ${p.read} lines, queued ${p.queued} documents in ${p.jobs} jobs, rejected ${p.rejected}`,
        `  follow it with: saesplade status ${p.setId}` + (p.rejected ? `; rejected lines: saesplade failed ${p.setId}` : ''),
      ].join('\n'),
    );
  });
}
