import { describe, expect, it } from 'vitest';
import { evaluateRun, mrrAt, ndcgAt, parseQrels, recallAt, toTrecRun } from '../../src/eval/metrics.js';

// Expected values computed by hand (and checked against the trec_eval definitions) in the comments.
describe('retrieval metrics', () => {
  const judged = new Map([
    ['d1', 1],
    ['d3', 2],
    ['d9', 0],
  ]);

  it('nDCG@10 with graded gains', () => {
    // DCG = 1/log2(2) [d1 at rank 1] + 2/log2(4) [d3 at rank 3] = 1 + 1 = 2
    // IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.6309 = 2.6309
    expect(ndcgAt(['d1', 'd2', 'd3'], judged, 10)).toBeCloseTo(2 / (2 + 1 / Math.log2(3)), 10);
    expect(ndcgAt(['d3', 'd1'], judged, 10)).toBeCloseTo(1, 10);
    expect(ndcgAt(['d9', 'd2'], judged, 10)).toBe(0);
    // cut-off: the relevant document at rank 2 is outside @1
    expect(ndcgAt(['d2', 'd1'], judged, 1)).toBe(0);
  });

  it('MRR@10 is the reciprocal rank of the first relevant hit (score 0 is not relevant)', () => {
    expect(mrrAt(['d9', 'd2', 'd3'], judged, 10)).toBeCloseTo(1 / 3, 10);
    expect(mrrAt(['d2'], judged, 10)).toBe(0);
  });

  it('Recall@k counts relevant documents found', () => {
    expect(recallAt(['d3', 'x'], judged, 100)).toBe(0.5);
    expect(recallAt(['x', 'd3', 'd1'], judged, 2)).toBe(0.5);
  });

  it('evaluateRun averages over judged queries and counts missing runs as empty', () => {
    const qrels = parseQrels('query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq2\td2\t1\r\nq3\td4\t0\r\n');
    const run = new Map([['q1', ['d1']]]);
    const m = evaluateRun(run, qrels);
    expect(m.queries).toBe(2); // q3 has no relevant document
    expect(m.ndcg10).toBeCloseTo(0.5, 10);
    expect(m.mrr10).toBeCloseTo(0.5, 10);
    expect(m.recall100).toBeCloseTo(0.5, 10);
  });

  it('parseQrels rejects a malformed line with its number', () => {
    expect(() => parseQrels('query-id\tcorpus-id\tscore\nq1 d1 1\n')).toThrow(/line 2/);
  });

  it('writes TREC run lines', () => {
    const text = toTrecRun(new Map([['q1', [{ id: 'd1', score: 2.5 }, { id: 'd2', score: 1 }]]]), 'saesplade');
    expect(text).toBe('q1 Q0 d1 1 2.5 saesplade\nq1 Q0 d2 2 1 saesplade\n');
  });
});
