import { describe, expect, it } from 'vitest';
import { IndexModelMismatchError } from '../../src/opensearch/indexes.js';
import { explainHit, search, SearchError } from '../../src/search/search.js';
import { shortLabel } from '../../src/commands/search.js';
import { parseVariant } from '../../src/commands/bench-query.js';
import { percentile } from '../../src/eval/stats.js';
import type { SparseVector } from '../../src/sparse.js';

const MODEL = { name: 'm', version: '1', dictionarySize: 100 };
const META = { model_name: 'm', model_version: '1', dictionary_size: 100, concept_field: 'concepts' };

function vec(entries: Record<number, number>): SparseVector {
  const sorted = Object.entries(entries)
    .map(([k, v]) => [Number(k), v] as const)
    .sort((a, b) => a[0] - b[0]);
  return { indices: Uint32Array.from(sorted.map((e) => e[0])), values: Float32Array.from(sorted.map((e) => e[1])) };
}

/** A stand-in client: records search bodies, answers with canned hits per query kind. */
function fakeClient(opts: { meta?: object; concepts?: string[]; bm25?: string[] } = {}) {
  const calls = { getMapping: 0, searches: [] as any[] };
  const hits = (ids: string[], from: number, size: number) =>
    ids.slice(from, from + size).map((id, i) => ({ _id: id, _score: 10 - i, _source: { title: `t-${id}`, concepts: { '1': 2, '2': 1 } } }));
  const client = {
    indices: {
      getMapping: async () => {
        calls.getMapping++;
        return { body: { idx: { mappings: { _meta: opts.meta ?? META } } } };
      },
    },
    search: async ({ body }: { body: any }) => {
      calls.searches.push(body);
      if (body.query.ids) return { body: { took: 1, hits: { hits: hits(body.query.ids.values, 0, body.size).map((h) => ({ ...h, _score: 0 })) } } };
      const isBm25 = JSON.stringify(body.query).includes('multi_match');
      const ids = isBm25 ? (opts.bm25 ?? []) : (opts.concepts ?? []);
      return { body: { took: 3, hits: { hits: hits(ids, body.from, body.size) } } };
    },
  };
  return { client: client as any, calls };
}

function fakeEncoder(v: SparseVector) {
  return { model: MODEL, encode: async () => [v], label: (id: number) => `label ${id} more words here` };
}

describe('explainHit', () => {
  it('contributions, shares, the rest, and labels', () => {
    const e = explainHit(
      [
        { id: 1, weight: 2 },
        { id: 2, weight: 1 },
        { id: 3, weight: 1 },
      ],
      { '1': 1.5, '2': 1, '9': 4 },
      1,
      (id) => (id === 1 ? 'heart cardiac' : undefined),
    );
    expect(e.dot).toBe(4);
    expect(e.matched).toBe(2);
    expect(e.concepts).toEqual([{ id: 1, label: 'heart cardiac', queryWeight: 2, docWeight: 1.5, contribution: 3, share: 0.75 }]);
    expect(e.otherShare).toBeCloseTo(0.25, 12);
  });

  it('no overlap and missing concept map', () => {
    expect(explainHit([{ id: 1, weight: 1 }], { '2': 1 }, 5)).toEqual({ dot: 0, concepts: [], otherShare: 0, matched: 0 });
    expect(explainHit([{ id: 1, weight: 1 }], undefined, 5).unavailable).toMatch(/no concept weights/);
  });
});

describe('search (stub client)', () => {
  it('checks the index model once per client and index, and refuses a mismatch', async () => {
    const { client, calls } = fakeClient();
    const encoder = fakeEncoder(vec({ 1: 1 }));
    await search({ client, encoder }, { index: 'idx', query: 'q' });
    await search({ client, encoder }, { index: 'idx', query: 'q' });
    expect(calls.getMapping).toBe(1);

    const other = fakeClient({ meta: { ...META, model_version: '2' } });
    await expect(search({ client: other.client, encoder }, { index: 'idx', query: 'q' })).rejects.toBeInstanceOf(IndexModelMismatchError);
    await expect(search({ client: other.client, encoder }, { index: 'idx', query: 'q' })).rejects.toBeInstanceOf(IndexModelMismatchError);
    expect(other.calls.getMapping).toBe(2);
    expect(other.calls.searches).toHaveLength(0);
  });

  it('bm25 needs neither encoder nor model check', async () => {
    const { client, calls } = fakeClient({ bm25: ['a'] });
    const r = await search({ client }, { index: 'idx', query: 'q', mode: 'bm25' });
    expect(r.hits.map((h) => h.id)).toEqual(['a']);
    expect(calls.getMapping).toBe(0);
    await expect(search({ client }, { index: 'idx', query: 'q' })).rejects.toBeInstanceOf(SearchError);
  });

  it('empty vector: BM25 fallback reported', async () => {
    const { client, calls } = fakeClient({ bm25: ['b'] });
    const r = await search({ client, encoder: fakeEncoder(vec({})) }, { index: 'idx', query: 'q', mode: 'hybrid' });
    expect(r.fallback).toBe('bm25');
    expect(r.executed).toBe('bm25');
    expect(r.mode).toBe('hybrid');
    expect(r.hits.map((h) => h.id)).toEqual(['b']);
    expect(calls.searches).toHaveLength(1);
  });

  it('rrf: fuses, then pages; ranks count from the first page', async () => {
    const { client, calls } = fakeClient({ concepts: ['a', 'b', 'c', 'd'], bm25: ['c', 'e', 'a'] });
    const r = await search({ client, encoder: fakeEncoder(vec({ 1: 1 })) }, { index: 'idx', query: 'q', mode: 'rrf', size: 2, from: 1 });
    // a: 1/61 + 1/63, c: 1/63 + 1/61 (tie, best rank 1 both: id order), b: 1/62, e: 1/62, d: 1/64
    expect(r.hits.map((h) => [h.rank, h.id])).toEqual([
      [2, 'c'],
      [3, 'b'],
    ]);
    expect(r.hits[0]!.ranks).toEqual({ concepts: 3, bm25: 1 });
    expect(r.hits[0]!.score).toBeCloseTo(1 / 61 + 1 / 63, 12);
    expect(calls.searches.map((b) => [b.from, b.size, b._source])).toEqual([
      [0, 10, false],
      [0, 10, false],
      [undefined, 2, { excludes: ['concepts'] }],
    ]);
    expect(calls.searches[2].query).toEqual({ ids: { values: ['c', 'b'] } });
    expect(r.hits[0]!.source).toEqual({ title: 't-c' });
  });

  it('explain asks for the concept map and strips it from the returned source', async () => {
    const { client, calls } = fakeClient({ concepts: ['a'] });
    const r = await search({ client, encoder: fakeEncoder(vec({ 1: 1, 2: 3 })) }, { index: 'idx', query: 'q', explain: 2 });
    expect(calls.searches[0]._source).toBe(true);
    expect(r.hits[0]!.source).toEqual({ title: 't-a' });
    expect(r.hits[0]!.explanation!.dot).toBe(5);
    expect(r.hits[0]!.explanation!.concepts.map((c) => [c.id, c.share])).toEqual([
      [2, 0.6],
      [1, 0.4],
    ]);
    expect(r.queryVector.concepts[0]).toEqual({ id: 2, weight: 3, label: 'label 2 more words here' });
  });

  it('OpenSearch errors carry the root cause', async () => {
    const client = {
      indices: { getMapping: async () => ({ body: { idx: { mappings: { _meta: META } } } }) },
      search: async () => {
        throw Object.assign(new Error('x'), { meta: { body: { error: { root_cause: [{ reason: 'no [query] registered for [nope]' }] } } } });
      },
    } as any;
    await expect(search({ client }, { index: 'idx', query: 'q', mode: 'bm25' })).rejects.toThrow(/rejected the search on "idx": no \[query\] registered/);
  });
});

describe('command helpers', () => {
  it('short labels', () => {
    expect(shortLabel('heart cardiac cardiovascular artery', 4)).toBe('heart|cardiac|cardiovascular#4');
    expect(shortLabel(undefined, 4)).toBe('#4');
  });
  it('bench variants and percentiles', () => {
    expect(parseVariant('concepts:k=8')).toEqual({ name: 'concepts:k=8', mode: 'concepts', topK: 8 });
    expect(parseVariant('hybrid:2p=4')).toEqual({ name: 'hybrid:2p=4', mode: 'hybrid', twoPhase: 4 });
    expect(() => parseVariant('nope')).toThrow();
    expect(() => parseVariant('concepts:x=1')).toThrow();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
  });
});
