import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { runAdapt, type AdaptEvent, type AdaptResult } from '../adapt/index.js';
import { emit } from './common.js';
import { intOption } from './options.js';

/** `saesplade adapt`: learn a corpus without labels and write a new model package (docs/ADAPT.md). */
export function register(program: Command): void {
  program
    .command('adapt')
    .description(
      'adapt the concept model to your own documents, without labels: stage 2 of SAE-SPLADE on pseudo-queries drawn ' +
        'from the corpus, distilling a fused dense + BM25 teacher computed on the same corpus. Writes a new model ' +
        'package (named and versioned apart from its base); put it in service with `saesplade reindex --model <out>` ' +
        '(an alias switch; `saesplade rollback` undoes it). Needs scripts/adapt-env.sh once (Python, no torch). ' +
        'An interrupted run resumes from its last checkpoint when started again with the same arguments. ' +
        'Exit codes: 0 written; 1 bad input or failure (nothing written); 3 --require-better and not better.',
    )
    .requiredOption('--corpus <path>', 'JSONL ({_id|id, title, text} per line) or a BEIR folder holding corpus.jsonl')
    .requiredOption('--out <dir>', 'folder for the new package')
    .option('--from <package>', 'base package (default: models/default)')
    .option('--name <name>', 'package name (default: <base name>-adapted-<corpus name>)')
    .option('--steps <n>', 'stage-2 steps (default 300: about 10 minutes on 2 cores)', intOption('--steps', 0, 100_000))
    .option('--max-docs <n>', 'learn from the first n documents only', intOption('--max-docs', 1))
    .option('--held-back <n>', 'pseudo-queries held back to compare the adapted model with its base (default 120)', intOption('--held-back', 10, 10_000))
    .option('--min-documents <n>', 'refuse corpora with fewer documents (default 200)', intOption('--min-documents', 20))
    .option('--threads <n>', 'CPU threads (default 2)', intOption('--threads', 1, 256))
    .option('--seed <n>', 'random seed (default 0)', intOption('--seed', 0))
    .option('--work <dir>', 'checkpoints and caches (default <out>.work)')
    .option('--keep-work', 'keep the work folder after a successful run')
    .option('--require-better', 'write nothing unless the adapted model beats its base on the held-back pseudo-queries (exit 3)')
    .option('--no-query-table', 'skip the inference-free query table (saves about a minute)')
    .option('--force', 'replace a package already in --out')
    .option('--json', 'print the result as JSON (progress stays on stderr)')
    .action(async (opts: Record<string, any>) => {
      const view = progressView();
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const res = await runAdapt({
          corpus: opts.corpus,
          out: opts.out,
          from: opts.from,
          name: opts.name,
          steps: opts.steps,
          maxDocs: opts.maxDocs,
          heldBack: opts.heldBack,
          minDocuments: opts.minDocuments,
          threads: opts.threads,
          seed: opts.seed,
          work: opts.work,
          keepWork: opts.keepWork,
          requireBetter: opts.requireBetter,
          queryTable: opts.queryTable,
          force: opts.force,
          onEvent: view.event,
          signal: ac.signal,
        });
        view.stop();
        emit(opts.json, res, () => summary(res));
      } finally {
        view.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function summary(r: AdaptResult): string {
  const hb = r.held_back!;
  return [
    `wrote ${r.package} (${r.name} ${r.version}) in ${Math.round(r.seconds ?? 0)} s, peak memory ${r.peak_rss_mb} MB`,
    `held-back pseudo-queries (${hb.base.queries}): teacher agreement nDCG@10 ${hb.adapted.teacher_ndcg10} vs base ${hb.base.teacher_ndcg10}, ` +
      `known-item MRR@10 ${hb.adapted.known_item_mrr10} vs ${hb.base.known_item_mrr10}: ${hb.better ? 'better than its base' : 'NOT better than its base'}`,
    `put it in service: saesplade reindex --source <alias> --model ${r.package}   (undo: saesplade rollback --alias <alias>)`,
  ].join('\n');
}

/**
 * On stderr (stdout carries the result): a bar per stage with its ETA on a terminal, else a line per stage
 * change and every ~10 %; the trainer's log lines always.
 */
function progressView() {
  const tty = !!process.stderr.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  let stage = '';
  let lastPct = -1;
  return {
    event(e: AdaptEvent) {
      if (e.event === 'log') {
        if (bar) bar.stop(), (bar = undefined), (stage = '');
        process.stderr.write(`adapt: ${e.msg}\n`);
        return;
      }
      if (e.event !== 'progress') return;
      if (tty) {
        if (e.stage !== stage) {
          bar?.stop();
          stage = e.stage;
          bar = new cliProgress.SingleBar(
            { stream: process.stderr, format: `${e.stage.padEnd(24)} |{bar}| {value}/{total} ${e.unit} | ETA {eta_formatted}`, etaBuffer: 30, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.total, e.done);
        }
        bar!.update(e.done);
        return;
      }
      const pct = Math.floor((100 * e.done) / e.total / 10) * 10;
      if (e.stage !== stage || pct !== lastPct) {
        stage = e.stage;
        lastPct = pct;
        const eta = e.eta_s === null ? '?' : `${Math.round(e.eta_s)} s`;
        process.stderr.write(`adapt: ${e.stage}: ${e.done}/${e.total} ${e.unit} (${pct}%), elapsed ${Math.round(e.elapsed_s)} s, ETA ${eta}\n`);
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
