import type { Command } from 'commander';
import { benchIngest, type BenchIngestResult } from '../ingest/bench.js';
import { describeCpu } from '../machine.js';
import { benchGroup } from './bench.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { intOption, RANGES, rangedInt } from './options.js';
import { DEFAULT_JOB_BATCH_SIZE, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

function formatBench(r: BenchIngestResult): string {
  return [
    `bench ingest: ${r.docs} documents, ${r.batchSize} per job, worker concurrency ${r.concurrency}`,
    `  machine               ${describeCpu(r.machine)}`,
    `  encoder alone         ${r.encoderDocsPerS.toFixed(1).padStart(8)} docs/s  (${r.encoderS} s)`,
    `  end to end            ${r.endToEndDocsPerS.toFixed(1).padStart(8)} docs/s  (${r.endToEndS} s: file → queue → worker → searchable)`,
    ...(r.workerEncoderBusyS !== null ? [`  worker encoder busy   ${r.workerEncoderBusyS.toFixed(2).padStart(8)} s       (of the ${r.endToEndS} s end to end; the encoder alone took ${r.encoderS} s)`] : []),
    `  ratio                 ${r.ratio.toFixed(3).padStart(8)}         (target ≥ 0.9)`,
    `  worker peak RSS       ${r.workerPeakRssMiB === null ? '     n/a' : r.workerPeakRssMiB.toFixed(0).padStart(8)} MiB` +
      (r.workerEncodeS !== null ? `     (job time in encode, incl. waiting for the encoder, ${r.workerEncodeS} s; in mget+bulk ${r.workerIndexS} s; worker start-up ${r.workerStartS} s, not timed)` : ''),
  ].join('\n');
}

/** `saesplade bench ingest`: encoder throughput vs end-to-end ingest throughput, same texts, same run. */
export function register(program: Command): void {
  withConfigOptions(
    benchGroup(program)
      .command('ingest')
      .description('raw encoder docs/s vs end-to-end ingest docs/s (file → queue → worker → searchable), and the worker\'s peak RSS')
      .requiredOption('--corpus <file>', 'BEIR corpus.jsonl (or JSON Lines with id/title/text)')
      .option('--limit <n>', 'documents to use (the first N)', intOption('--limit', 1), 512)
      .option('--batch-size <n>', 'documents per batch job', rangedInt('--batch-size', RANGES.jobBatch), DEFAULT_JOB_BATCH_SIZE)
      .option('--concurrency <n>', 'worker concurrency', rangedInt('--concurrency', RANGES.concurrency), DEFAULT_WORKER_CONCURRENCY)
      .option('--encoder-batch-size <n>', 'texts per encoder forward pass (default: the encoder default)', rangedInt('--encoder-batch-size', RANGES.encoderBatch))
      .option('--threads <n>', 'encoder threads (default: all cores)', rangedInt('--threads', RANGES.threads))
      .option('--keep-index', 'keep the bench index')
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const r = await benchIngest({
      config,
      corpus: opts.corpus,
      limit: opts.limit,
      batchSize: opts.batchSize,
      concurrency: opts.concurrency,
      encoderBatchSize: opts.encoderBatchSize,
      threads: opts.threads,
      keep: Boolean(opts.keepIndex),
      log: (l) => process.stderr.write(l + '\n'),
    });
    emit(opts.json, r, () => formatBench(r));
  });
}
