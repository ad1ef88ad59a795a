/** The comparison table of `eval --model a,b` (src/eval/compare.ts) and the document FLOPS, by hand. */
import { describe, expect, it } from 'vitest';
import { comparisonRows, renderComparisonMarkdown, renderComparisonTable } from '../../src/eval/compare.js';
import { ConceptFrequencies, docFlops, flops } from '../../src/eval/stats.js';
import type { EvalResult } from '../../src/eval/run-eval.js';

describe('docFlops', () => {
  it('is the sum over ids of P(document has it)^2', () => {
    const d = new ConceptFrequencies();
    d.add([1, 2]);
    d.add([1]);
    d.add([3]);
    d.add([]);
    // P(1) = 2/4, P(2) = 1/4, P(3) = 1/4
    expect(docFlops(d)).toBeCloseTo(0.25 + 0.0625 + 0.0625, 12);
    const q = new ConceptFrequencies();
    q.add([1]);
    expect(flops(q, d)).toBeCloseTo(0.5, 12);
    expect(docFlops(new ConceptFrequencies())).toBe(0);
  });
});

const lat = (p50: number, p99 = p50 * 2) => ({ n: 10, mean: p50, p50, p95: p99, p99, max: p99 });
function result(dataset: string, name: string, dictionary: string, ndcg: number, reused = false): EvalResult {
  const mode = (m: string, x: number) => ({ mode: m, queries: 10, ndcg10: x, mrr10: x + 0.1, recall100: x + 0.2, latencyMs: lat(9), searchMs: lat(5), encodeMs: lat(m === 'bm25' ? 0 : 4), tookMs: lat(3), fallbacks: 0 });
  return {
    dataset: { name: dataset, dir: `/d/${dataset}`, docs: 100, rejectedDocs: 0, judgedQueries: 10, queriesRun: 10, qrels: 20 },
    model: { name, version: '1.0.0', dictionarySize: dictionary === 'vocabulary' ? 30522 : 16384, dir: `/m/${name}`, status: 'final', dictionary },
    engine: 'opensearch 2.19.6',
    index: { name: `eval-${dataset}-${name}`, reused, docs: 100, storeBytes: 500_000, bytesPerDoc: 5000, segments: 1, forceMerged: true, deletedDocs: 0 } as any,
    ingest: { docs: 100, indexed: 100, skipped: 0, failed: 0, seconds: 10, docsPerS: 10, ...(reused ? { previous: { at: 'then' } } : {}) },
    sparsity: { docNnz: 200, emptyDocs: 0, queryNnz: 50, queryNnzUsed: 40, flops: 7.5, docFlops: 12.25 },
    modes: [mode('concepts', ndcg), mode('bm25', 0.3), mode('hybrid', ndcg + 0.05), mode('rrf', ndcg + 0.04)] as any,
    settings: { size: 100, warmup: 0, hybrid: { concepts: 1, bm25: 1 }, rrfK: 60, pruning: {}, twoPhase: false },
    machine: { loadAvgStart: [1, 1, 1] } as any,
    startedAt: 'now',
    elapsedS: 1,
  };
}

describe('comparisonRows', () => {
  const runs = [result('cisi', 'concepts-model', 'concepts', 0.35), result('cisi', 'splade-tiny', 'vocabulary', 0.3, true), result('cacm', 'concepts-model', 'concepts', 0.43)];
  const rows = comparisonRows(runs);

  it('gives per collection one BM25 row, then a sparse and a hybrid row per package', () => {
    expect(rows.map((r) => `${r.collection}/${r.system}/${r.mode}`)).toEqual([
      'cisi/bm25/bm25',
      'cisi/concepts-model@1.0.0/sparse',
      'cisi/concepts-model@1.0.0/hybrid',
      'cisi/splade-tiny@1.0.0/sparse',
      'cisi/splade-tiny@1.0.0/hybrid',
      'cacm/bm25/bm25',
      'cacm/concepts-model@1.0.0/sparse',
      'cacm/concepts-model@1.0.0/hybrid',
    ]);
  });

  it('carries quality, sparsity, both FLOPS, size, latency and ingest speed into the sparse rows', () => {
    expect(rows[3]).toMatchObject({ dictionary: 'vocabulary', ndcg10: 0.3, nnzDoc: 200, nnzQuery: 40, flops: 12.25, qdFlops: 7.5, bytesPerDoc: 5000, searchP50: 5, searchP99: 10, encodeP50: 4, ingestDocsPerS: 10, ingestReused: true });
    expect(rows[0]!.nnzDoc).toBeUndefined();
    expect(rows[2]).toMatchObject({ mode: 'hybrid' });
    expect(rows[2]!.ndcg10).toBeCloseTo(0.4, 12);
  });

  it('renders a terminal table and markdown with the notes', () => {
    const t = renderComparisonTable(runs);
    expect(t.split('\n')[0]).toMatch(/^collection\s+system\s+mode\s+nDCG@10/);
    expect(t).toContain('splade-tiny@1.0.0 + BM25');
    expect(t).toContain('10.0†');
    const md = renderComparisonMarkdown(runs, 'saesplade eval --model a,b');
    expect(md).toContain('| cisi | splade-tiny@1.0.0 | vocabulary | 0.300 | 0.400 | 0.500 | 200.0 | 40.0 | 12.25 | 7.500 | 5,000 |');
    expect(md).toContain('saesplade eval --model a,b');
  });
});
