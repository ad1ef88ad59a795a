import { describeCpu } from '../machine.js';
import type { EvalResult } from './run-eval.js';

/** Human renderings of an EvalResult: a terminal table and a markdown report. */

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

function consistencyLine(r: EvalResult): string | undefined {
  const c = r.consistency;
  if (!c) return undefined;
  const sign = c.gap >= 0 ? '+' : '';
  const verdict = !c.comparable ? `not comparable: ${c.note}` : c.withinTolerance ? `within the tolerance of ${c.tolerance}` : `OUTSIDE the tolerance of ${c.tolerance}: a bug to find (precision, pruning, truncation, tokenisation)`;
  const checks = c.checks && c.checks.length > 1 ? `; expected figures: ${c.checks.map((k) => `${k.metric} ${f3(k.measured)} vs ${f3(k.expected)} ${k.within ? 'ok' : 'OUTSIDE'} (±${k.tolerance})`).join(', ')}` : '';
  return `consistency: concepts nDCG@10 through OpenSearch ${f3(c.measured)} vs Python exact dot product ${f3(c.reference.ndcg10)} ("${c.reference.system}"): gap ${sign}${c.gap.toFixed(4)}, ${verdict}${checks}`;
}

function indexLine(r: EvalResult): string {
  const i = r.index;
  return `${formatBytes(i.storeBytes)} on disk, ${Math.round(i.bytesPerDoc).toLocaleString('en-US')} B/doc, ${i.docs} docs, ${i.segments} segment(s)` + (i.forceMerged ? ' (force-merged)' : ' (not force-merged)') + (i.deletedDocs ? `, ${i.deletedDocs} deleted` : '');
}

export function renderEvalTable(r: EvalResult): string {
  const out: string[] = [];
  out.push(
    `eval ${r.dataset.name}: ${r.dataset.docs} documents, ${r.dataset.queriesRun} of ${r.dataset.judgedQueries} judged queries; ` +
      `model ${r.model.name}@${r.model.version}${r.model.status !== 'final' ? ` (${r.model.status.toUpperCase()})` : ''}; index ${r.index.name}${r.index.reused ? ' (reused)' : ''} on ${r.engine}`,
  );
  out.push(
    `${'mode'.padEnd(9)} ${'nDCG@10'.padStart(8)} ${'MRR@10'.padStart(7)} ${'R@100'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'search p50'.padStart(10)} ${'took p50'.padStart(8)} ${'fallback'.padStart(8)}`,
  );
  for (const m of r.modes) {
    out.push(
      `${m.mode.padEnd(9)} ${f3(m.ndcg10).padStart(8)} ${f3(m.mrr10).padStart(7)} ${f3(m.recall100).padStart(6)} ${f1(m.latencyMs.p50).padStart(8)} ${f1(m.latencyMs.p95).padStart(8)} ${f1(m.latencyMs.p99).padStart(8)} ` +
        `${f1(m.searchMs.p50).padStart(10)} ${f1(m.tookMs.p50).padStart(8)} ${String(m.fallbacks).padStart(8)}`,
    );
  }
  out.push(`latency: sequential, ${r.settings.size} hits per query, per query (query encoding included); "search" excludes encoding; took = OpenSearch's own`);
  const s = r.sparsity;
  out.push(`sparsity: ${f1(s.docNnz)} non-zeros per document (stored vectors; ${s.emptyDocs} empty), ${f1(s.queryNnz)} per query (${f1(s.queryNnzUsed)} sent), QD-FLOPs ${f3(s.flops)} (query x document)${s.docFlops !== undefined ? `, FLOPS ${s.docFlops.toFixed(2)} (document x document)` : ''}`);
  out.push(`index: ${indexLine(r)}`);
  if (r.ingest) out.push(`ingest${r.ingest.previous ? ` (when the index was built, ${r.ingest.previous.at})` : ''}: ${r.ingest.indexed} indexed, ${r.ingest.skipped} skipped, ${r.ingest.failed} failed in ${r.ingest.seconds} s (${r.ingest.docsPerS} docs/s, queue + in-process worker)`);
  if (r.latencyRatio) out.push(`concepts / bm25 latency p50: x${r.latencyRatio.total.toFixed(2)} per query, x${r.latencyRatio.search.toFixed(2)} search only`);
  const c = consistencyLine(r);
  out.push(c ?? `consistency: no Python figure for ${r.dataset.name} in ${r.referenceFile ?? `${r.model.dir} (no expected.json or REPORT.md)`}`);
  out.push(`hybrid weights concepts ${r.settings.hybrid.concepts} / bm25 ${r.settings.hybrid.bm25}; rrf k ${r.settings.rrfK}; ${r.elapsedS} s`);
  out.push(`machine: ${describeCpu(r.machine)}; load average at start ${r.machine.loadAvgStart.join(' / ')}`);
  return out.join('\n');
}

/** A markdown report; `command` is the command line that reproduces it. */
export function renderEvalMarkdown(r: EvalResult, command?: string): string {
  const out: string[] = [];
  out.push(`# Evaluation: ${r.dataset.name}`, '');
  out.push(
    `Model \`${r.model.name}@${r.model.version}\`${r.model.status !== 'final' ? ` (**${r.model.status}**)` : ''}, index \`${r.index.name}\`${r.index.reused ? ' (reused)' : ''} on ${r.engine}. ` +
      `${r.dataset.docs.toLocaleString('en-US')} documents, ${r.dataset.queriesRun} of ${r.dataset.judgedQueries} judged test queries, title + " " + text. Started ${r.startedAt}, ${r.elapsedS} s.`,
    '',
  );
  if (command) out.push('```sh', command, '```', '');
  out.push('| mode | nDCG@10 | MRR@10 | Recall@100 | latency p50 / p95 / p99 (ms) | search only p50 (ms) | OpenSearch took p50 (ms) |', '|---|---|---|---|---|---|---|');
  for (const m of r.modes) {
    out.push(`| ${m.mode} | ${f3(m.ndcg10)} | ${f3(m.mrr10)} | ${f3(m.recall100)} | ${f1(m.latencyMs.p50)} / ${f1(m.latencyMs.p95)} / ${f1(m.latencyMs.p99)} | ${f1(m.searchMs.p50)} | ${f1(m.tookMs.p50)} |`);
  }
  out.push('');
  const s = r.sparsity;
  out.push(`- Sparsity: ${f1(s.docNnz)} non-zeros per document (read back from the stored vectors; ${s.emptyDocs} empty), ${f1(s.queryNnz)} per query as encoded (${f1(s.queryNnzUsed)} sent), QD-FLOPs ${f3(s.flops)} (query x document)${s.docFlops !== undefined ? `, FLOPS ${s.docFlops.toFixed(2)} (document x document)` : ''}.`);
  out.push(`- Index: ${indexLine(r)}.`);
  if (r.ingest) out.push(`- Ingest (queue + in-process worker${r.ingest.previous ? `, when the index was built, ${r.ingest.previous.at}` : ''}): ${r.ingest.indexed} indexed, ${r.ingest.failed} failed, ${r.ingest.seconds} s, ${r.ingest.docsPerS} docs/s.`);
  if (r.latencyRatio) out.push(`- Latency concepts / BM25 (p50): x${r.latencyRatio.total.toFixed(2)} per query with query encoding, x${r.latencyRatio.search.toFixed(2)} for the search alone.`);
  const c = consistencyLine(r);
  if (c) out.push(`- ${c[0]!.toUpperCase()}${c.slice(1)}.`);
  out.push(`- Settings: ${r.settings.size} hits per query; hybrid = weighted sum, concepts ${r.settings.hybrid.concepts} + BM25 ${r.settings.hybrid.bm25}; RRF k ${r.settings.rrfK}; query pruning ${JSON.stringify(r.settings.pruning)}${r.settings.inferenceFree ? "; queries encoded inference-free (the package's token table, no graph run)" : ""}; latencies sequential after ${r.settings.warmup} warm-up queries per mode, modes interleaved query by query.`);
  out.push(`- Machine: ${describeCpu(r.machine)}; ${r.machine.memGiB} GiB, Node ${r.machine.node}, ${r.machine.platform}; load average at start ${r.machine.loadAvgStart.join(' / ')} (shared machine).`);
  return out.join('\n') + '\n';
}
