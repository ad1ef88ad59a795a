import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { CommandFailedError, EXIT_CHECK_FAILED, redactArgs } from '../errors.js';
import { checkFailures, comparisonRows, consistencyFailures, EVAL_MODES, renderComparisonMarkdown, renderComparisonTable, renderEvalMarkdown, renderEvalTable, runEval, type EvalResult } from '../eval/index.js';
import type { SearchMode } from '../search/translator.js';
import { DEFAULT_MODEL_DIR } from '../config.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { RANGES, rangedInt } from './options.js';
import { intOption, listOption, numberOption, requestOptions, withQueryOptions } from './query-options.js';
import { DEFAULT_JOB_BATCH_SIZE, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

function modesOption(v: string): SearchMode[] {
  const list = listOption(v);
  for (const m of list) if (!(EVAL_MODES as readonly string[]).includes(m)) throw new InvalidArgumentError(`mode "${m}": expected ${EVAL_MODES.join(', ')}`);
  return list as SearchMode[];
}

/**
 * The command line as typed (for the report), without the node/script prefix, and with URL
 * passwords and the OPENSEARCH_PASSWORD / REDIS_URL / OPENSEARCH_URL credentials replaced by `***`:
 * the report is meant to be shared.
 */
export function commandLine(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): string {
  return ['saesplade', ...redactArgs(argv, env)].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** `saesplade eval --dataset <BEIR dir>`: retrieval quality and cost through OpenSearch, per search mode. */
export function register(program: Command): void {
  withQueryOptions(
    withConfigOptions(
      program
        .command('eval')
        .description('ingest a BEIR collection (or reuse its index) and measure nDCG@10, MRR@10, Recall@100, sparsity, FLOPS, index size and latency for concepts, BM25, hybrid and RRF')
        .requiredOption('--dataset <dir>', 'BEIR directory: corpus.jsonl, queries.jsonl, qrels/test.tsv (a comma list: each in turn)')
        .option('--limit-queries <n>', 'run only the first n judged queries', intOption('--limit-queries', 1))
        .option('--reuse', 'use the existing index if it holds this corpus encoded by this model (model _meta, doc count, corpus checksum, sampled ids)')
        .option('--recreate', 'delete the index first if it exists, and rebuild it')
        .option('--modes <list>', `search modes to evaluate (${EVAL_MODES.join(', ')})`, modesOption, [...EVAL_MODES])
        .option('--force-merge', 'force-merge the index to one segment before measuring its size')
        .option('--reference <file>', 'expected.json or REPORT.md with the Python toolkit\'s figures (default: the model package\'s expected.json, else its REPORT.md)')
        .option('--check', 'exit 3 unless every figure of the reference (concepts nDCG@10, MRR@10, Recall@100) is within its tolerance on a comparable run (all judged queries, whole corpus, package pruning)')
        .option('--tolerance <x>', 'allowed |nDCG@10 gap| to the Python figure', numberOption('--tolerance', 0, 1), 0.01)
        .option('--warmup <n>', 'untimed queries per mode first', intOption('--warmup', 0), 5)
        .option('--batch-size <n>', 'ingest: documents per batch job', rangedInt('--batch-size', RANGES.jobBatch), DEFAULT_JOB_BATCH_SIZE)
        .option('--concurrency <n>', 'ingest: batch jobs the in-process worker runs at once', rangedInt('--concurrency', RANGES.concurrency), DEFAULT_WORKER_CONCURRENCY)
        .option('--run-dir <dir>', 'write a TREC run file per mode (<dataset>.<mode>.trec; with several --model values, in a folder per package)')
        .option('--report <file.md>', 'write a markdown report')
        .option('--keep-jobs', 'keep the ingest job set and queue in Redis (default: removed unless documents failed)')
        .option('--no-progress', 'no progress bars / lines on stderr')
        .option('--json', 'print the result as JSON')
        .addHelpText(
          'after',
          `
--model a,b (and/or --dataset x,y): every collection with every package in one run, then one comparison
table (nDCG@10, MRR@10, Recall@100, nnz/doc, nnz/query, FLOPS, QD-FLOPs, bytes/doc, search p50/p99, query
encode p50, ingest docs/s; BM25 and hybrid rows too); --report writes it in markdown, --json as {runs, comparison}.
The index defaults to eval-<dataset>-<model>-<version> (not SAESPLADE_INDEX); it is kept, so a later
run can --reuse it. Hits per query: 100 (Recall@100). Latency is measured sequentially per query
(query encoding included; the search part alone is reported too).`,
        ),
    ),
  ).action(async (opts: Record<string, any>) => {
    // --model a,b and --dataset x,y: every collection with every package, one comparison table
    const models: (string | undefined)[] = splitList(opts.model ?? process.env.SAESPLADE_MODEL);
    const datasets = splitList(opts.dataset) as string[];
    if (models.length === 0) models.push(undefined);
    if (models.length * datasets.length > 1) {
      if (opts.index) throw new InvalidArgumentError('--index names one index: leave it out with several --model or --dataset values (each run gets eval-<dataset>-<model>-<version>)');
      const results: EvalResult[] = [];
      for (const dataset of datasets)
        for (const model of models) results.push(await runOne({ ...opts, model, runDir: runDirOf(opts.runDir, model, models.length) }, dataset));
      if (opts.report) writeFileSync(opts.report, renderComparisonMarkdown(results, commandLine()) + '\n' + results.map((r) => renderEvalMarkdown(r)).join('\n'));
      emit(opts.json, { runs: results, comparison: comparisonRows(results) }, () => results.map((r) => renderEvalTable(r)).join('\n\n') + '\n\n' + renderComparisonTable(results));
      failIfOutside(results, Boolean(opts.check));
      return;
    }
    const result = await runOne(opts, datasets[0]!);
    if (opts.report) writeFileSync(opts.report, renderEvalMarkdown(result, commandLine()));
    emit(opts.json, result, () => renderEvalTable(result));
    failIfOutside([result], Boolean(opts.check));
  });
}

/**
 * The results are printed (and the report written) first; then a nDCG@10 gap outside tolerance
 * exits 3, and with --check so does any figure of the reference outside its own, or nothing to check.
 */
function failIfOutside(results: EvalResult[], check: boolean): void {
  const failures = check ? checkFailures(results) : consistencyFailures(results);
  if (failures.length > 0) throw new CommandFailedError(failures.join('\n'), { code: 'eval_gap', exitCode: EXIT_CHECK_FAILED });
}

/** With several models, each one's run files go to a folder of its own (<run-dir>/<package folder name>). */
function runDirOf(runDir: string | undefined, model: string | undefined, models: number): string | undefined {
  if (!runDir || models < 2) return runDir;
  return path.join(runDir, path.basename(path.resolve(model ?? DEFAULT_MODEL_DIR)));
}

function splitList(v: string | undefined): string[] {
  return v === undefined ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function runOne(opts: Record<string, any>, dataset: string): Promise<EvalResult> {
  const config = configFrom(opts);
  return runEval({
      config,
      dataset,
      index: opts.index,
      queue: opts.queue,
      modes: opts.modes,
      limitQueries: opts.limitQueries,
      reuse: Boolean(opts.reuse),
      recreate: Boolean(opts.recreate),
      forceMerge: Boolean(opts.forceMerge),
      request: requestOptions(opts),
      warmup: opts.warmup,
      referenceReport: opts.reference,
      tolerance: opts.tolerance,
      runDir: opts.runDir,
      batchSize: opts.batchSize,
      concurrency: opts.concurrency,
      keepJobs: Boolean(opts.keepJobs),
      progress: opts.progress !== false,
    });
}
