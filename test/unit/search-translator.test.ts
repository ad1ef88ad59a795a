import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_CLAUSES,
  estimateLeafClauses,
  estimateMultiMatchClauses,
  pruneQuery,
  reciprocalRankFusion,
  rrfFetchBody,
  translate,
  TranslateError,
  type QueryPruning,
  type TranslateInput,
} from '../../src/search/translator.js';
import { prune } from '../../src/encoder/prune.js';
import type { SparseVector } from '../../src/sparse.js';

function vec(entries: Record<number, number>): SparseVector {
  const sorted = Object.entries(entries)
    .map(([k, v]) => [Number(k), v] as const)
    .sort((a, b) => a[0] - b[0]);
  return { indices: Uint32Array.from(sorted.map((e) => e[0])), values: Float32Array.from(sorted.map((e) => e[1])) };
}

const EMPTY = vec({});
// Weights exactly representable in float32, so the emitted JSON is exact.
const Q = vec({ 4711: 2.5, 12: 0.5, 300: 1.25 });

function base(over: Partial<TranslateInput> = {}): TranslateInput {
  return { text: 'heart attack', vector: Q, mode: 'concepts', size: 10, ...over };
}

const rf = (id: number, boost: number) => ({ rank_feature: { field: `concepts.${id}`, linear: {}, boost } });

describe('translate: exact DSL', () => {
  it('concepts: bool.should of linear rank_feature clauses, heaviest first, no total hit count', () => {
    const plan = translate(base());
    expect(plan.kind).toBe('single');
    if (plan.kind !== 'single') return;
    expect(plan.body).toEqual({
      query: { bool: { should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)] } },
      from: 0,
      size: 10,
      track_total_hits: false,
      _source: { excludes: ['concepts'] },
    });
    expect(plan.fallback).toBeUndefined();
    expect(plan.stats).toEqual({ nonZeros: 3, used: 3, firstPhase: 3, maxWeight: 2.5, keptMass: 1, clauseBudget: 1024 });
    // JSON round trip keeps it byte-identical (no typed arrays or undefined leak into the body)
    expect(JSON.parse(JSON.stringify(plan.body))).toEqual(plan.body);
  });

  it('concepts with filter, pagination and _source fields', () => {
    const plan = translate(base({ filter: { term: { 'metadata.lang': 'en' } }, from: 20, size: 5, source: ['title'] }));
    if (plan.kind !== 'single') throw new Error('single expected');
    expect(plan.body).toEqual({
      query: {
        bool: {
          should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)],
          filter: [{ term: { 'metadata.lang': 'en' } }],
          minimum_should_match: 1,
        },
      },
      from: 20,
      size: 5,
      track_total_hits: false,
      _source: ['title'],
    });
    expect(plan.stats.clauseBudget).toBe(1023);
  });

  it('explanations add the concept field to _source', () => {
    const a = translate(base({ includeConcepts: true }));
    const b = translate(base({ includeConcepts: true, source: ['title'] }));
    const c = translate(base({ includeConcepts: true, source: false }));
    if (a.kind !== 'single' || b.kind !== 'single' || c.kind !== 'single') throw new Error();
    expect(a.body._source).toBe(true);
    expect(b.body._source).toEqual(['title', 'concepts']);
    expect(c.body._source).toEqual(['concepts']);
  });

  it('custom concept field and track_total_hits bound', () => {
    const plan = translate(base({ conceptField: 'sae', trackTotalHits: 100, vector: vec({ 7: 1 }) }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.body).toEqual({
      query: { bool: { should: [{ rank_feature: { field: 'sae.7', linear: {}, boost: 1 } }] } },
      from: 0,
      size: 10,
      track_total_hits: 100,
      _source: { excludes: ['sae'] },
    });
  });

  it('bm25 mode: multi_match on title and text', () => {
    const plan = translate(base({ mode: 'bm25' }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.mode).toBe('bm25');
    expect(plan.fallback).toBeUndefined();
    expect(plan.body).toEqual({
      query: { multi_match: { query: 'heart attack', fields: ['title', 'text'] } },
      from: 0,
      size: 10,
      track_total_hits: false,
      _source: { excludes: ['concepts'] },
    });
  });

  it('bm25 with filter: must + filter', () => {
    const plan = translate(base({ mode: 'bm25', filter: [{ term: { lang: 'en' } }, { range: { year: { gte: 2000 } } }] }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.body.query).toEqual({
      bool: {
        must: [{ multi_match: { query: 'heart attack', fields: ['title', 'text'] } }],
        filter: [{ term: { lang: 'en' } }, { range: { year: { gte: 2000 } } }],
      },
    });
  });

  it('hybrid weighted sum: bool.should of the boosted concept bool and a boosted multi_match', () => {
    const plan = translate(base({ mode: 'hybrid', hybrid: { concepts: 1, bm25: 0.25 }, filter: { term: { lang: 'en' } } }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.body).toEqual({
      query: {
        bool: {
          should: [
            { bool: { should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)], boost: 1 } },
            { multi_match: { query: 'heart attack', fields: ['title', 'text'], boost: 0.25 } },
          ],
          filter: [{ term: { lang: 'en' } }],
          minimum_should_match: 1,
        },
      },
      from: 0,
      size: 10,
      track_total_hits: false,
      _source: { excludes: ['concepts'] },
    });
    // 1024 - 1 (filter) - 2 tokens x 2 fields
    expect(plan.stats.clauseBudget).toBe(1019);
  });

  it('two-phase: heavy concepts in query, all in rescore with query_weight 0', () => {
    const plan = translate(base({ twoPhase: { heavy: 1 }, size: 10, from: 0 }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.body).toEqual({
      query: { bool: { should: [rf(4711, 2.5)] } },
      from: 0,
      size: 10,
      track_total_hits: false,
      _source: { excludes: ['concepts'] },
      rescore: {
        window_size: 50,
        query: {
          rescore_query: { bool: { should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)] } },
          query_weight: 0,
          rescore_query_weight: 1,
          score_mode: 'total',
        },
      },
    });
    expect(plan.stats.firstPhase).toBe(1);
    expect(plan.stats.used).toBe(3);
  });

  it('two-phase: the window covers the page, and heavyMass splits by weight share', () => {
    const plan = translate(base({ twoPhase: { heavyMass: 0.6, window: 10 }, size: 10, from: 30 }));
    if (plan.kind !== 'single') throw new Error();
    // total 4.25; 2.5 = 59%, 2.5 + 1.25 = 88% >= 60%
    expect(plan.body.query).toEqual({ bool: { should: [rf(4711, 2.5), rf(300, 1.25)] } });
    expect((plan.body.rescore as any).window_size).toBe(40);
    expect(plan.stats.firstPhase).toBe(2);
  });

  it('two-phase with nothing light to add is a plain one-phase query', () => {
    const plan = translate(base({ twoPhase: { heavy: 8 } }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.body.rescore).toBeUndefined();
    expect(plan.body.query).toEqual({ bool: { should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)] } });
  });

  it('two-phase defaults: 16 heavy concepts, window 5 x size', () => {
    const v: SparseVector = { indices: Uint32Array.from({ length: 20 }, (_, i) => i), values: Float32Array.from({ length: 20 }, (_, i) => 20 - i) };
    const plan = translate(base({ vector: v, twoPhase: true, size: 4 }));
    if (plan.kind !== 'single') throw new Error();
    expect((plan.body.query as any).bool.should).toHaveLength(16);
    expect((plan.body.rescore as any).query.rescore_query.bool.should).toHaveLength(20);
    expect((plan.body.rescore as any).window_size).toBe(20);
  });

  it('two-phase hybrid: rescore with the full hybrid query', () => {
    const plan = translate(base({ mode: 'hybrid', twoPhase: { heavy: 1 }, hybrid: { concepts: 2, bm25: 1 } }));
    if (plan.kind !== 'single') throw new Error();
    const mm = { multi_match: { query: 'heart attack', fields: ['title', 'text'], boost: 1 } };
    expect(plan.body.query).toEqual({ bool: { should: [{ bool: { should: [rf(4711, 2.5)], boost: 2 } }, mm] } });
    expect(plan.body.rescore).toEqual({
      window_size: 50,
      query: {
        rescore_query: { bool: { should: [{ bool: { should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)], boost: 2 } }, mm] } },
        query_weight: 0,
        rescore_query_weight: 1,
        score_mode: 'total',
      },
    });
  });

  it('rrf: two bodies from 0 over the fusion window', () => {
    const plan = translate(base({ mode: 'rrf', size: 10, from: 10, rrf: { k: 60, weights: { concepts: 1, bm25: 0.5 } } }));
    if (plan.kind !== 'rrf') throw new Error();
    expect(plan.window).toBe(50);
    expect(plan.concepts).toEqual({
      query: { bool: { should: [rf(4711, 2.5), rf(300, 1.25), rf(12, 0.5)] } },
      from: 0,
      size: 50,
      track_total_hits: false,
      _source: false,
    });
    expect(plan.bm25).toEqual({
      query: { multi_match: { query: 'heart attack', fields: ['title', 'text'] } },
      from: 0,
      size: 50,
      track_total_hits: false,
      _source: false,
    });
    expect(plan.source).toEqual({ excludes: ['concepts'] });
    expect(rrfFetchBody(['a', 'b'], plan.source)).toEqual({
      query: { ids: { values: ['a', 'b'] } },
      size: 2,
      track_total_hits: false,
      _source: { excludes: ['concepts'] },
    });
    expect(plan.weights).toEqual({ concepts: 1, bm25: 0.5 });
    expect(plan.from).toBe(10);
    expect(plan.size).toBe(10);
  });
});

describe('translate: empty vector falls back to BM25', () => {
  for (const mode of ['concepts', 'hybrid', 'rrf'] as const) {
    it(`${mode} with an empty vector`, () => {
      const plan = translate(base({ mode, vector: EMPTY, filter: { term: { lang: 'en' } } }));
      expect(plan.kind).toBe('single');
      if (plan.kind !== 'single') return;
      expect(plan.fallback).toBe('bm25');
      expect(plan.mode).toBe('bm25');
      expect(plan.concepts).toEqual([]);
      expect(plan.body).toEqual({
        query: { bool: { must: [{ multi_match: { query: 'heart attack', fields: ['title', 'text'] } }], filter: [{ term: { lang: 'en' } }] } },
        from: 0,
        size: 10,
        track_total_hits: false,
        _source: { excludes: ['concepts'] },
      });
      expect(plan.stats.used).toBe(0);
      expect(plan.stats.keptMass).toBe(0);
      expect(JSON.stringify(plan.body)).not.toContain('rank_feature');
    });
  }

  it('a vector pruned to nothing falls back too (never an empty should)', () => {
    const plan = translate(base({ pruning: { minWeight: 100 } }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.fallback).toBe('bm25');
    expect(plan.stats.nonZeros).toBe(3);
  });

  it('empty text and empty vector: still a well-formed multi_match', () => {
    const plan = translate(base({ text: '', vector: EMPTY }));
    if (plan.kind !== 'single') throw new Error();
    expect(plan.body.query).toEqual({ multi_match: { query: '', fields: ['title', 'text'] } });
  });
});

describe('pruneQuery', () => {
  const V = vec({ 1: 0.1, 2: 0.2, 3: 0.4, 4: 0.8, 5: 1.6, 6: 3.2 }); // total 6.3
  const ids = (p: { id: number }[]) => p.map((c) => c.id);

  it('no pruning keeps everything by weight', () => expect(ids(pruneQuery(V))).toEqual([6, 5, 4, 3, 2, 1]));
  it('topK', () => expect(ids(pruneQuery(V, { topK: 2 }))).toEqual([6, 5]));
  it('topK 0 means no limit, as for documents (it used to keep nothing: a silent BM25)', () =>
    expect(ids(pruneQuery(V, { topK: 0 }))).toEqual([6, 5, 4, 3, 2, 1]));
  it('is the encoder prune() followed by the clause budget, for every rule and combination', () => {
    const rules: QueryPruning[] = [{}, { topK: 0 }, { topK: 3 }, { minWeight: 0.4 }, { maxRatio: 0.25 }, { maxRatio: 1 }, { mass: 0.5 },
      { mass: 0.8 }, { minWeight: 0.2, topK: 3, mass: 0.99 }, { topK: 4, maxRatio: 0.2, mass: 0.7 }];
    for (const r of rules) {
      const doc = prune(V.indices, V.values, r);
      const byW = [...doc.indices].sort((a, b) => doc.values[doc.indices.indexOf(b)]! - doc.values[doc.indices.indexOf(a)]! || a - b);
      expect(ids(pruneQuery(V, r)), JSON.stringify(r)).toEqual(byW);
      expect(ids(pruneQuery(V, r, 2)), JSON.stringify(r)).toEqual(byW.slice(0, 2));
    }
  });
  it('minWeight', () => expect(ids(pruneQuery(V, { minWeight: 0.4 }))).toEqual([6, 5, 4, 3]));
  it('maxRatio (relative to max)', () => expect(ids(pruneQuery(V, { maxRatio: 0.25 }))).toEqual([6, 5, 4]));
  it('mass share', () => {
    expect(ids(pruneQuery(V, { mass: 0.5 }))).toEqual([6]); // 3.2/6.3 = 0.508
    expect(ids(pruneQuery(V, { mass: 0.8 }))).toEqual([6, 5, 4]); // 5.6/6.3 = 0.889 (4.8/6.3 = 0.76)
    expect(ids(pruneQuery(V, { mass: 1 }))).toHaveLength(6);
  });
  it('rules combine', () => expect(ids(pruneQuery(V, { minWeight: 0.2, topK: 3, mass: 0.99 }))).toEqual([6, 5, 4]));
  it('ties break by smaller concept id', () => expect(ids(pruneQuery(vec({ 9: 1, 3: 1, 5: 2 })))).toEqual([5, 3, 9]));
  it('drops values rank_feature would reject', () => {
    const bad: SparseVector = { indices: Uint32Array.from([1, 2, 3, 4]), values: Float32Array.from([0, -1, NaN, 1]) };
    expect(ids(pruneQuery(bad))).toEqual([4]);
  });
  it('rejects nonsense settings', () => {
    expect(() => pruneQuery(V, { topK: -1 })).toThrow(TranslateError);
    expect(() => pruneQuery(V, { mass: 0 })).toThrow(TranslateError);
    expect(() => pruneQuery(V, { maxRatio: 2 })).toThrow(TranslateError);
  });
});

describe('clause limit', () => {
  // 5,000 distinct concepts with distinct weights
  const big: SparseVector = {
    indices: Uint32Array.from({ length: 5000 }, (_, i) => i),
    values: Float32Array.from({ length: 5000 }, (_, i) => 1 + i / 1000),
  };
  const clauses = (q: unknown): number => (JSON.stringify(q).match(/"rank_feature"/g) ?? []).length;

  it('concepts never exceed max clauses, and keep the heaviest', () => {
    const plan = translate(base({ vector: big }));
    if (plan.kind !== 'single') throw new Error();
    expect(clauses(plan.body.query)).toBe(DEFAULT_MAX_CLAUSES);
    expect((plan.body.query as any).bool.should[0].rank_feature.field).toBe('concepts.4999');
  });

  it('other clauses in the same bool are subtracted', () => {
    const f = [{ term: { a: 1 } }, { bool: { should: [{ term: { b: 1 } }, { term: { c: 1 } }] } }];
    const plan = translate(base({ vector: big, filter: f }));
    if (plan.kind !== 'single') throw new Error();
    const bool = (plan.body.query as any).bool;
    expect(bool.should.length + estimateLeafClauses(bool.filter)).toBeLessThanOrEqual(1024);
    expect(bool.should.length).toBe(1021);
  });

  it('hybrid reserves the multi_match terms', () => {
    const plan = translate(base({ vector: big, mode: 'hybrid', text: 'one two three' }));
    if (plan.kind !== 'single') throw new Error();
    expect(clauses(plan.body.query)).toBe(1024 - 6);
  });

  it('custom maxClauses, reserve, topK and two-phase all stay under the limit', () => {
    for (const maxClauses of [1, 16, 100, 1024, 4096]) {
      for (const topK of [undefined, 8, 2000]) {
        for (const twoPhase of [false, { heavy: 4 }]) {
          const plan = translate(base({ vector: big, maxClauses, reserveClauses: maxClauses > 1 ? 1 : 0, pruning: { topK }, twoPhase }));
          if (plan.kind !== 'single') throw new Error();
          const budget = maxClauses - (maxClauses > 1 ? 1 : 0);
          expect(clauses(plan.body.query)).toBeLessThanOrEqual(budget);
          if (plan.body.rescore) expect(clauses((plan.body.rescore as any).query.rescore_query)).toBeLessThanOrEqual(budget);
        }
      }
    }
  });

  it('refuses when other clauses leave no room', () => {
    expect(() => translate(base({ maxClauses: 1, filter: { term: { a: 1 } } }))).toThrow(/no room for concept clauses/);
  });

  it('estimates', () => {
    expect(estimateMultiMatchClauses('heart attack', 2)).toBe(4);
    expect(estimateMultiMatchClauses('COVID-19 in 2020', 1)).toBe(4);
    expect(estimateMultiMatchClauses('心臓発作', 2)).toBe(8);
    expect(estimateMultiMatchClauses('', 2)).toBe(2);
    expect(estimateLeafClauses({ terms: { id: ['a', 'b', 'c'] } })).toBe(1);
    expect(estimateLeafClauses({ bool: { must: [{ term: { a: 1 } }], must_not: { term: { b: 1 } } } })).toBe(2);
  });
});

describe('reciprocal rank fusion', () => {
  const L = (...ids: string[]) => ids.map((id) => ({ id }));

  it('sums w / (k + rank) over lists, 1-based ranks', () => {
    const fused = reciprocalRankFusion(L('a', 'b', 'c'), L('c', 'd'), 60);
    const score = Object.fromEntries(fused.map((f) => [f.id, f.score]));
    expect(score.a).toBeCloseTo(1 / 61, 15);
    expect(score.b).toBeCloseTo(1 / 62, 15);
    expect(score.c).toBeCloseTo(1 / 63 + 1 / 61, 15);
    expect(score.d).toBeCloseTo(1 / 62, 15);
    expect(fused.map((f) => f.id)).toEqual(['c', 'a', 'b', 'd']); // b and d tie: same best rank 2, then id
    expect(fused[0]!.ranks).toEqual({ concepts: 3, bm25: 1 });
  });

  it('weights and k', () => {
    const fused = reciprocalRankFusion(L('a'), L('b'), 10, { concepts: 1, bm25: 3 });
    expect(fused.map((f) => [f.id, f.score])).toEqual([
      ['b', 3 / 11],
      ['a', 1 / 11],
    ]);
  });

  it('a duplicate id in one list counts once, at its best rank', () => {
    const fused = reciprocalRankFusion(L('a', 'a'), L(), 60);
    expect(fused).toHaveLength(1);
    expect(fused[0]!.score).toBeCloseTo(1 / 61, 15);
  });

  it('keeps the concept-list hit object when a document is in both lists', () => {
    const fused = reciprocalRankFusion([{ id: 'x', from: 'c' }], [{ id: 'x', from: 'b' }]);
    expect(fused[0]!.hit.from).toBe('c');
  });
});

describe('input checks', () => {
  it('rejects a filter that is not one query clause', () => {
    expect(() => translate(base({ filter: { term: { a: 1 }, range: { b: { gt: 1 } } } }))).toThrow(/one OpenSearch query clause/);
    expect(() => translate(base({ filter: 'x' as any }))).toThrow(TranslateError);
  });
  it('rejects bad paging and weights', () => {
    expect(() => translate(base({ size: -1 }))).toThrow(/size/);
    expect(() => translate(base({ from: 1.5 }))).toThrow(/from/);
    expect(() => translate(base({ mode: 'hybrid', hybrid: { concepts: 0, bm25: 0 } }))).toThrow(/weights/);
    expect(() => translate(base({ mode: 'nope' as any }))).toThrow(/unknown search mode/);
  });
});
