import { describe, expect, it } from 'vitest';
import {
  carriedMappings,
  compareStored,
  indexNamePart,
  pageBatchNumber,
  pageJobId,
  parseRecord,
  planSlices,
  reindexQueueName,
  reindexSetId,
  sourceHitToDoc,
  targetIndexName,
} from '../../src/reindex/index.js';
import { pitPageBody } from '../../src/opensearch/pit.js';

describe('reindex naming', () => {
  it('names the new index <alias>-<model>-<version>, lower-case, index-safe', () => {
    expect(targetIndexName('docs', { name: 'sae-splade-minilm-l6-16k', version: '0.1.0' })).toBe('docs-sae-splade-minilm-l6-16k-0.1.0');
    expect(targetIndexName('My Docs', { name: 'Org/Model v2', version: '1.0.0+k64' })).toBe('my-docs-org-model-v2-1.0.0-k64');
    expect(indexNamePart('__A*B?C..')).toBe('a-b-c');
  });

  it('cuts a long name to 255 bytes and keeps the version', () => {
    const n = targetIndexName('a'.repeat(300), { name: 'm', version: '9.9.9' });
    expect(n.length).toBeLessThanOrEqual(255);
    expect(n.endsWith('-9.9.9')).toBe(true);
  });

  it('derives queue, job set and page job ids deterministically (no ":" for BullMQ)', () => {
    const t = targetIndexName('docs', { name: 'm', version: '1' });
    expect(reindexQueueName(t)).toBe('saesplade-reindex-docs-m-1');
    expect(reindexSetId(t)).toBe('reindex-docs-m-1');
    expect(pageJobId(reindexSetId(t), 1, 7)).toBe('reindex-docs-m-1-s1-p7');
    expect(pageJobId('x', 1, 7)).toBe(pageJobId('x', 1, 7));
    expect(pageJobId('x', 1, 7)).not.toContain(':');
    expect(pageBatchNumber(0, 5)).not.toBe(pageBatchNumber(1, 5));
  });
});

describe('slice planning and page requests', () => {
  it('plans at least one slice and no more than the documents', () => {
    expect(planSlices(undefined, 100)).toBe(2);
    expect(planSlices(8, 100)).toBe(8);
    expect(planSlices(8, 3)).toBe(3);
    expect(planSlices(0, 100)).toBe(1);
    expect(planSlices(4, 0)).toBe(1);
  });

  it('builds a sliced point-in-time page with search_after', () => {
    const pit = { id: 'P', keep_alive: '5m' };
    const engine = { pitBody: (id: string, keepAlive: string) => ({ pit: { id, keep_alive: keepAlive } }), pitSort: () => [{ _id: 'asc' }] };
    const first = pitPageBody(engine, { pit: 'P', keepAlive: '5m', size: 32, slice: 1, slices: 4 }, null);
    expect(first).toMatchObject({ size: 32, pit, sort: [{ _id: 'asc' }], slice: { id: 1, max: 4 }, track_total_hits: false });
    expect(first).not.toHaveProperty('search_after');
    expect(first).not.toHaveProperty('index');
    const next = pitPageBody(engine, { pit: 'P', keepAlive: '5m', size: 32, slice: 0, slices: 1 }, ['d9']);
    expect(next.search_after).toEqual(['d9']);
    expect(next).not.toHaveProperty('slice'); // max 1 is refused by the engine
  });
});

describe('source hits as documents', () => {
  it('maps text fields like ingest and keeps other fields, dropping reserved ones', () => {
    const r = sourceHitToDoc(
      { _id: 'a1', _index: 'src', _source: { title: 'T', text: 'body', year: 2020, tags: ['x'], concepts: { '1': 2 }, content_hash: 'h' } },
      ['title', 'text'],
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.doc).toEqual({ id: 'a1', title: 'T', text: 'body', source: 'src/a1', fields: { year: 2020, tags: ['x'] } });
  });

  it('uses other text fields and keeps them as fields too', () => {
    const r = sourceHitToDoc({ _id: '7', _source: { body: 'hello world', lang: 'en' } }, ['body']);
    expect(r).toMatchObject({ ok: true, doc: { id: '7', text: 'hello world', fields: { body: 'hello world', lang: 'en' } } });
  });

  it('rejects a hit with no text', () => {
    const r = sourceHitToDoc({ _id: 'e', _source: { title: '', text: '  ' } }, ['title', 'text']);
    expect(r).toMatchObject({ ok: false, code: 'empty_text' });
    expect(sourceHitToDoc({ _id: 'n', _source: { other: 1 } }, ['text'])).toMatchObject({ ok: false, code: 'missing_text' });
  });
});

describe('carried mappings', () => {
  it('carries the source fields and analysis except the concept index own fields', () => {
    const c = carriedMappings([
      {
        mappings: { properties: { title: { type: 'keyword' }, year: { type: 'integer' }, body: { type: 'text', analyzer: 'mine' }, concepts: { type: 'object' } } },
        settings: { index: { analysis: { analyzer: { mine: { type: 'standard' } } } } },
      },
      { mappings: { properties: { year: { type: 'keyword' }, lang: { type: 'keyword' } } } },
    ]);
    expect(c.properties).toEqual({ year: { type: 'integer' }, body: { type: 'text', analyzer: 'mine' }, lang: { type: 'keyword' } });
    expect(c.analysis).toEqual({ analyzer: { mine: { type: 'standard' } } });
  });
});

describe('sample comparison', () => {
  const v = (pairs: [number, number][]) => ({ indices: Uint32Array.from(pairs.map((p) => p[0])), values: Float32Array.from(pairs.map((p) => p[1])) });
  it('is exact for the same vector and tolerant to rank_features rounding', () => {
    expect(compareStored({ '1': 0.5, '9': 2 }, v([[1, 0.5], [9, 2]]))).toEqual({ cosine: 1, maxRelDiff: 0, onlyOne: 0 });
    const c = compareStored({ '1': 0.501, '9': 1.995 }, v([[1, 0.5], [9, 2]]));
    expect(c.cosine).toBeGreaterThan(0.9999);
    expect(c.maxRelDiff).toBeLessThan(0.004);
  });
  it('sees missing and different concepts', () => {
    const c = compareStored({ '1': 1 }, v([[2, 1]]));
    expect(c).toEqual({ cosine: 0, maxRelDiff: 1, onlyOne: 2 });
    expect(compareStored({}, v([])).cosine).toBe(1);
  });
});

describe('reindex state', () => {
  it('parses the state hash, with unstarted slices at their beginning', () => {
    const rec = parseRecord({
      target: 't',
      alias: 'a',
      sources: '["s1"]',
      model_name: 'm',
      model_version: '1',
      queue: 'q',
      set_id: 'reindex-t',
      slices: '2',
      page_size: '8',
      text_fields: '["title","text"]',
      status: 'copying',
      created_at: 'now',
      'slice:0': JSON.stringify({ after: ['d3'], page: 2, done: false }),
    })!;
    expect(rec.cursors).toEqual([{ after: ['d3'], page: 2, done: false }, { after: null, page: 0, done: false }]);
    expect(rec).toMatchObject({ target: 't', sources: ['s1'], slices: 2, pageSize: 8, textFields: ['title', 'text'], status: 'copying' });
    expect(parseRecord({})).toBeUndefined();
  });
});
