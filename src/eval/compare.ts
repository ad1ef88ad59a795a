import { describeCpu } from '../machine.js';
import type { EvalResult } from './run-eval.js';

/**
 * `saesplade eval --model a,b --dataset x,y`: one comparison table over several packages and
 * collections, from the EvalResults of one run. Per collection: one BM25 row (the first package's
 * index; BM25 reads only the text fields, which every package's index stores alike), then per
 * package its sparse row and its hybrid row. Pure: no I/O.
 */
export interface ComparisonRow {
  collection: string;
  /** `bm25`, or the package's `name@version`. */
  system: string;
  mode: 'bm25' | 'sparse' | 'hybrid';
  /** What the package's ids are (manifest `dictionary`), for sparse and hybrid rows. */
  dictionary?: string;
  ndcg10: number;
  mrr10: number;
  recall100: number;
  /** Sparse rows only: stored non-zeros per document, non-zeros per query as sent. */
  nnzDoc?: number;
  nnzQuery?: number;
  /** Sparse rows only: sum_j P(d_j > 0)^2 (SPLADE's FLOPS) and sum_j P(q_j > 0) P(d_j > 0) (QD-FLOPs). */
  flops?: number;
  qdFlops?: number;
  /** Sparse rows only: index size per document, and whether it was force-merged to one segment. */
  bytesPerDoc?: number;
  forceMerged?: boolean;
  /** The search part alone (after the query vector is known), sequential, ms. */
  searchP50: number;
  searchP99: number;
  /** Query encoding p50 (ms; sparse rows). */
  encodeP50?: number;
  /** Document encoding through the queue and worker: docs/s of the ingest that built the index (sparse rows). */
  ingestDocsPerS?: number;
  ingestReused?: boolean;
}

function modeRow(r: EvalResult, mode: string) {
  return r.modes.find((m) => m.mode === mode);
}

export function comparisonRows(results: readonly (EvalResult)[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const collections = [...new Set(results.map((r) => r.dataset.name))];
  for (const c of collections) {
    const rs = results.filter((r) => r.dataset.name === c);
    const bm = rs.map((r) => modeRow(r, 'bm25')).find((m) => m !== undefined);
    if (bm)
      rows.push({ collection: c, system: 'bm25', mode: 'bm25', ndcg10: bm.ndcg10, mrr10: bm.mrr10, recall100: bm.recall100, searchP50: bm.searchMs.p50, searchP99: bm.searchMs.p99 });
    for (const r of rs) {
      const system = `${r.model.name}@${r.model.version}`;
      const sp = modeRow(r, 'concepts');
      if (sp) {
        const row: ComparisonRow = {
          collection: c,
          system,
          mode: 'sparse',
          ndcg10: sp.ndcg10,
          mrr10: sp.mrr10,
          recall100: sp.recall100,
          nnzDoc: r.sparsity.docNnz,
          nnzQuery: r.sparsity.queryNnzUsed,
          flops: r.sparsity.docFlops,
          qdFlops: r.sparsity.flops,
          bytesPerDoc: r.index.bytesPerDoc,
          forceMerged: r.index.forceMerged,
          searchP50: sp.searchMs.p50,
          searchP99: sp.searchMs.p99,
          encodeP50: sp.encodeMs.p50,
        };
        row.dictionary = r.model.dictionary;
        if (r.ingest) {
          row.ingestDocsPerS = r.ingest.docsPerS;
          row.ingestReused = r.ingest.previous !== undefined;
        }
        rows.push(row);
      }
      const hy = modeRow(r, 'hybrid');
      if (hy) {
        const row: ComparisonRow = { collection: c, system, mode: 'hybrid', ndcg10: hy.ndcg10, mrr10: hy.mrr10, recall100: hy.recall100, searchP50: hy.searchMs.p50, searchP99: hy.searchMs.p99 };
        row.dictionary = r.model.dictionary;
        rows.push(row);
      }
    }
  }
  return rows;
}

const f = (x: number | undefined, d: number) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(d));
const int = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '' : Math.round(x).toLocaleString('en-US'));

const HEAD = ['collection', 'system', 'mode', 'nDCG@10', 'MRR@10', 'R@100', 'nnz/doc', 'nnz/query', 'FLOPS', 'QD-FLOPs', 'bytes/doc', 'search p50', 'search p99', 'encode p50', 'docs/s'];

function cellsOf(r: ComparisonRow): string[] {
  const what = r.mode === 'bm25' ? 'BM25' : r.mode === 'hybrid' ? `${r.system} + BM25` : r.system;
  const mode = r.mode === 'sparse' ? (r.dictionary ?? 'sparse') : r.mode;
  return [
    r.collection,
    what,
    mode,
    f(r.ndcg10, 3),
    f(r.mrr10, 3),
    f(r.recall100, 3),
    f(r.nnzDoc, 1),
    f(r.nnzQuery, 1),
    f(r.flops, 2),
    f(r.qdFlops, 3),
    r.bytesPerDoc === undefined ? '' : int(r.bytesPerDoc) + (r.forceMerged ? '' : '*'),
    f(r.searchP50, 1),
    f(r.searchP99, 1),
    f(r.encodeP50, 1),
    r.ingestDocsPerS === undefined ? '' : f(r.ingestDocsPerS, 1) + (r.ingestReused ? '†' : ''),
  ];
}

const NOTES = [
  'FLOPS = sum_j P(d_j>0)^2 over the stored documents (SPLADE); QD-FLOPs = sum_j P(q_j>0)·P(d_j>0), queries as sent (the paper\'s measure).',
  'search p50/p99: the search part alone (ms, sequential, 100 hits); encode p50: query encoding (ms); docs/s: document encoding + indexing through the queue and an in-process worker.',
  '* index not force-merged (larger, drifts with merges); † docs/s of the earlier ingest that built the reused index.',
];

export function renderComparisonTable(results: readonly (EvalResult)[]): string {
  const rows = comparisonRows(results).map(cellsOf);
  const all = [HEAD, ...rows];
  const w = HEAD.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  const out = [line(HEAD), ...rows.map(line), ...NOTES];
  const m = results[0]?.machine;
  if (m) out.push(`machine: ${describeCpu(m)}; load average at start ${m.loadAvgStart.join(' / ')}`);
  return out.join('\n');
}

export function renderComparisonMarkdown(results: readonly (EvalResult)[], command?: string): string {
  const out: string[] = ['# Comparison of model packages', ''];
  if (command) out.push('```sh', command, '```', '');
  out.push(`| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`);
  for (const r of comparisonRows(results)) out.push(`| ${cellsOf(r).join(' | ')} |`);
  out.push('', ...NOTES.map((n) => `- ${n}`));
  const m = results[0]?.machine;
  if (m) out.push(`- Machine: ${describeCpu(m)}; load average at start ${m.loadAvgStart.join(' / ')} (shared machine).`);
  out.push('');
  for (const r of results)
    out.push(`- ${r.dataset.name} × ${r.model.name}@${r.model.version}: index \`${r.index.name}\`${r.index.reused ? ' (reused)' : ''}, ${r.dataset.queriesRun} of ${r.dataset.judgedQueries} judged queries, ${r.elapsedS} s.`);
  return out.join('\n') + '\n';
}
