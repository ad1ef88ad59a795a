/** The pure parts of the OpenSearch-compatible endpoint: finding and rewriting concept_sparse clauses, the bulk wire format. */
import { describe, expect, it } from 'vitest';
import { failedItem, mergeItems, parseBulkBody, serializeBulk } from '../../src/server/compat/bulk-format.js';
import { documentText, mergeDoc } from '../../src/server/compat/bulk.js';
import { CompatError } from '../../src/server/compat/errors.js';
import { explanationConcepts, findConceptClauses, rewriteConceptClauses } from '../../src/server/compat/query-dsl.js';

const clause = (params: Record<string, unknown>) => ({ concept_sparse: { concepts: { query_text: 'q', ...params } } });

describe('concept_sparse clauses', () => {
  it('are found anywhere in the DSL and replaced in place; the rest of the body is untouched', () => {
    const body: any = {
      size: 3,
      query: { bool: { must: [clause({ boost: 2 })], filter: [{ term: { lang: 'en' } }] } },
      aggs: { f: { filter: clause({}), aggs: { t: { terms: { field: 'year' } } } } },
      highlight: { fields: { text: {} } },
    };
    const found = findConceptClauses(body);
    expect(found.map((c) => [c.root, c.boost])).toEqual([['query', 2], ['aggs', undefined]]);
    rewriteConceptClauses(body, found, [[{ id: 7, weight: 1.5 }], []]);
    expect(body.query.bool.must[0]).toEqual({ bool: { should: [{ rank_feature: { field: 'concepts.7', linear: {}, boost: 1.5 } }], boost: 2 } });
    expect(body.aggs.f.filter).toEqual({ match_none: {} });
    expect(body.query.bool.filter).toEqual([{ term: { lang: 'en' } }]);
    expect(body.highlight).toEqual({ fields: { text: {} } });
    expect(body.rescore).toBeUndefined();
  });

  it('leave a field merely named concept_sparse alone', () => {
    expect(findConceptClauses({ query: { term: { concept_sparse: 'x' } } })).toEqual([]);
    expect(findConceptClauses({ query: { match: { concept_sparse: { query: 'x' } } } })).toEqual([]);
  });

  it('two_phase keeps the heavy concepts in place and adds the light ones in a rescore with query_weight 1', () => {
    const body: any = { size: 4, query: clause({ two_phase: { heavy: 1 } }) };
    const found = findConceptClauses(body);
    rewriteConceptClauses(body, found, [[{ id: 1, weight: 3 }, { id: 2, weight: 1 }]]);
    expect(body.query).toEqual({ bool: { should: [{ rank_feature: { field: 'concepts.1', linear: {}, boost: 3 } }] } });
    expect(body.rescore).toEqual([
      { window_size: 20, query: { rescore_query: { bool: { should: [{ rank_feature: { field: 'concepts.2', linear: {}, boost: 1 } }] } }, query_weight: 1, rescore_query_weight: 1, score_mode: 'total' } },
    ]);
  });

  it('refuse unknown and bad parameters with a parsing_exception naming them', () => {
    const err = (p: Record<string, unknown>) => {
      try {
        findConceptClauses({ query: clause(p) });
      } catch (e) {
        return e as CompatError;
      }
      throw new Error('no error');
    };
    expect(err({ topk: 3 })).toMatchObject({ status: 400, type: 'parsing_exception' });
    expect(err({ topk: 3 }).message).toContain('unknown field [topk]');
    expect(err({ top_k: 0 }).message).toContain('[top_k] must be an integer from 1');
    expect(err({ query_text: '' }).message).toContain('[query_text] is required');
    expect(err({ explain_concepts: 1000 }).message).toContain('[explain_concepts]');
    expect(() => findConceptClauses({ post_filter: clause({ two_phase: true }) })).toThrow(/two_phase\] works in the search's "query" only/);
  });

  it('explanations sum the explaining clauses\' weights (times their boosts) and list the most asked for', () => {
    const body: any = { query: { bool: { should: [clause({ explain_concepts: 2, boost: 2 }), clause({ explain_concepts: 4 })] } } };
    const found = findConceptClauses(body);
    const e = explanationConcepts(found, [[{ id: 1, weight: 1 }], [{ id: 1, weight: 0.5 }, { id: 2, weight: 3 }]]);
    expect(e).toEqual({ field: 'concepts', top: 4, concepts: [{ id: 2, weight: 3 }, { id: 1, weight: 2.5 }] });
  });
});

describe('the bulk wire format', () => {
  it('parses actions with their source lines, keeps the raw lines, and serializes them back unchanged', () => {
    const text = '{"index":{"_id":"1"}}\n{"a": 1}\r\n{"delete":{"_index":"x","_id":"2"}}\n{"update":{"_id":"3"}}\nnot json\n';
    const items = parseBulkBody(text, 'idx');
    expect(items.map((i) => [i.op, i.index, i.meta._id])).toEqual([['index', 'idx', '1'], ['delete', 'x', '2'], ['update', 'idx', '3']]);
    expect(items[0]!.rawSource).toBe('{"a": 1}');
    expect(items[2]!.sourceError).toContain('failed to parse the source of line [5]');
    expect(serializeBulk(items.map((i) => ({ action: i.rawAction, ...(i.rawSource !== undefined ? { source: i.rawSource } : {}) })))).toBe(text.replace('\r', ''));
  });

  it('refuses a bad action line or a missing source line for the whole request, as OpenSearch does', () => {
    expect(() => parseBulkBody('{"index":{}}\n')).toThrow(/no source line/);
    expect(() => parseBulkBody('{"upsert":{}}\n{}\n')).toThrow(/unknown parameter \[upsert\]/);
    expect(() => parseBulkBody('nope\n')).toThrow(/Malformed action\/metadata line \[1\]/);
  });

  it('merges local failures and the cluster\'s answers back in request order', () => {
    const items = parseBulkBody('{"index":{"_id":"a"}}\n{}\n{"index":{"_id":"b"}}\n{}\n{"index":{"_id":"c"}}\n{}\n', 'i');
    const local = new Map([[1, failedItem(items[1]!, 400, { type: 't', reason: 'r' })]]);
    const merged = mergeItems(3, local, [0, 2], [{ index: { _id: 'a', status: 201 } }, { index: { _id: 'c', status: 201 } }]);
    expect(merged.map((m) => [m.index!._id, m.index!.status])).toEqual([['a', 201], ['b', 400], ['c', 201]]);
    expect(() => mergeItems(3, local, [0, 2], [{ index: {} }])).toThrow(/answered 1 bulk items for 2 sent/);
  });

  it('takes the text as ingest does, and merges partial updates as OpenSearch does', () => {
    expect(documentText({ title: 'T', text: 'body' }, ['title', 'text'])).toEqual({ title: 'T', text: 'body' });
    expect(documentText({ text: 'body' }, ['title', 'text'])).toEqual({ text: 'body' });
    expect(documentText({ title: 3 }, ['title', 'text'])).toEqual({ error: 'text field [title] must be a string, got number' });
    expect(documentText({ other: 'x' }, ['title', 'text'])).toEqual({ error: 'no text field (title, text) to encode' });
    expect(mergeDoc({ a: 1, o: { x: 1, y: 2 }, l: [1] }, { o: { y: 3 }, l: [2], n: null })).toEqual({ a: 1, o: { x: 1, y: 3 }, l: [2], n: null });
  });
});
