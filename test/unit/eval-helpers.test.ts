import { describe, expect, it } from 'vitest';
import { ConceptFrequencies, flops, percentile, summarizeLatencies } from '../../src/eval/stats.js';
import { compareWithReference, parseReferenceReport } from '../../src/eval/reference.js';
import { defaultEvalIndex } from '../../src/eval/run-eval.js';

describe('percentiles (nearest rank)', () => {
  it('matches hand-computed values', () => {
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // rank = ceil(p/100 * n): p50 → 5th, p95 → 10th (ceil 9.5), p99 → 10th, p10 → 1st
    expect(percentile(s, 50)).toBe(5);
    expect(percentile(s, 95)).toBe(10);
    expect(percentile(s, 99)).toBe(10);
    expect(percentile(s, 10)).toBe(1);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile(s, 100)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarizeLatencies sorts its input and gives mean and max', () => {
    const vals = Array.from({ length: 200 }, (_, i) => 200 - i); // 200 … 1, unsorted
    const s = summarizeLatencies(vals);
    expect(s.n).toBe(200);
    expect(s.p50).toBe(100); // 100th of 1..200
    expect(s.p95).toBe(190);
    expect(s.p99).toBe(198);
    expect(s.max).toBe(200);
    expect(s.mean).toBeCloseTo(100.5, 10);
    expect(vals[0]).toBe(200); // input untouched
  });
});

describe('sparsity and FLOPS', () => {
  it('ConceptFrequencies counts positive weights of stored maps', () => {
    const f = new ConceptFrequencies();
    f.addFeatureMap({ '1': 0.5, '7': 1.2 });
    f.addFeatureMap({ '7': 0.1, '9': 0 }); // a zero is not a non-zero
    f.addFeatureMap({});
    f.addFeatureMap(undefined);
    expect(f.vectors).toBe(4);
    expect(f.nonZeros).toBe(3);
    expect(f.empty).toBe(2);
    expect(f.meanNonZeros()).toBe(0.75);
    expect(f.df.get(7)).toBe(2);
    expect(f.df.get(9)).toBeUndefined();
  });

  it('FLOPS = sum_j P(q has j) × P(d has j), hand-computed', () => {
    const q = new ConceptFrequencies();
    q.add([1, 2]);
    q.add([2]);
    const d = new ConceptFrequencies();
    d.add([1, 2, 3]);
    d.add([2, 3]);
    d.add([3]);
    d.add([]);
    // P_q: 1 → 1/2, 2 → 2/2. P_d: 1 → 1/4, 2 → 2/4, 3 → 3/4.
    // FLOPS = 1/2 × 1/4 + 1 × 2/4 = 0.125 + 0.5 = 0.625
    expect(flops(q, d)).toBeCloseTo(0.625, 12);
    // Equals the mean number of shared concepts over all query-document pairs:
    // q1·(d1,d2,d3,d4) = 2,1,0,0; q2 = 1,1,0,0 → 5 / 8 = 0.625
    expect(flops(new ConceptFrequencies(), d)).toBe(0);
  });
});

// The table as model/saesplade_model/report_text.py writes it.
const REPORT = `# SAE-SPLADE default model: training and evaluation report

## Results

| system | scifact nDCG@10 / MRR@10 / R@100 | cisi nDCG@10 / MRR@10 / R@100 | cacm nDCG@10 / MRR@10 / R@100 | npl nDCG@10 / MRR@10 / R@100 |
|---|---|---|---|---|
| BM25 (bm25s, k1 0.9 b 0.4, stopwords + Snowball) | 0.676 / 0.640 / 0.913 | 0.368 / 0.500 / 0.419 | 0.487 / 0.600 / 0.646 | 0.445 / 0.550 / 0.623 |
| dense teacher all-MiniLM-L6-v2 (256, mean pool, cosine) | not measured | 0.419 / 0.5 / 0.472 | 0.409 / 0.5 / 0.716 | 0.434 / 0.5 / 0.607 |
| SAE-SPLADE fp32 (torch head on cached fp16 backbone states) | not measured | 0.301 / 0.400 / 0.350 | 0.350 / 0.450 / 0.600 | 0.300 / 0.400 / 0.500 |
| SAE-SPLADE shipped graph: int8 weights, fp32 activations (ONNX, end to end) | 0.612 / 0.580 / 0.880 | not measured | 0.342 / 0.440 / 0.590 | not measured |

| sparse system | scifact nnz/doc / nnz/query / FLOPS |
|---|---|
| SAE-SPLADE shipped graph | 200.0 / 50.0 / 3.000 |
`;

describe('REPORT.md reference figures', () => {
  it('takes the shipped-graph row of the collection column', () => {
    expect(parseReferenceReport(REPORT, 'scifact')).toEqual({
      system: 'SAE-SPLADE shipped graph: int8 weights, fp32 activations (ONNX, end to end)',
      ndcg10: 0.612,
      mrr10: 0.58,
      recall100: 0.88,
    });
    expect(parseReferenceReport(REPORT, 'cacm')?.ndcg10).toBe(0.342);
  });

  it('falls back to the fp32 SAE row when the shipped graph was not measured, never to BM25 or the teacher', () => {
    const cisi = parseReferenceReport(REPORT, 'cisi');
    expect(cisi?.system).toMatch(/fp32/);
    expect(cisi?.ndcg10).toBe(0.301);
    expect(parseReferenceReport(REPORT.replace(/\| SAE-SPLADE[^\n]*\n/g, ''), 'scifact')).toBeUndefined();
  });

  it('no column for the collection: undefined (the nnz table is not taken for nDCG)', () => {
    expect(parseReferenceReport(REPORT, 'trec-covid')).toBeUndefined();
    expect(parseReferenceReport('', 'scifact')).toBeUndefined();
  });

  it('compareWithReference gives the signed gap and the verdict', () => {
    const ref = parseReferenceReport(REPORT, 'scifact')!;
    const ok = compareWithReference(ref, 0.605, 0.01, true);
    expect(ok.gap).toBeCloseTo(-0.007, 12);
    expect(ok.withinTolerance).toBe(true);
    const bad = compareWithReference(ref, 0.59, 0.01, false, 'subset');
    expect(bad.withinTolerance).toBe(false);
    expect(bad.comparable).toBe(false);
    expect(bad.note).toBe('subset');
  });
});

describe('default eval index name', () => {
  it('is a valid lower-case OpenSearch index name', () => {
    expect(defaultEvalIndex('SciFact', { name: 'sae-splade-minilm-l6-16k', version: '0.1.1', dictionarySize: 16384 })).toBe('eval-scifact-sae-splade-minilm-l6-16k-0.1.1');
    expect(defaultEvalIndex('my data', { name: 'M/x', version: '1+b', dictionarySize: 1 })).toBe('eval-my-data-m-x-1-b');
  });
});
