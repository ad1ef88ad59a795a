/**
 * Search against the real OpenSearch node (scripts/services.sh start) and the real default model
 * (models/default, or SAESPLADE_MODEL). Expectations come from the encoder's own vectors, never from
 * concept ids of a particular model version.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createEncoder } from '../../src/encoder/index.js';
import type { Encoder } from '../../src/encoder/types.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { ensureConceptIndex, IndexModelMismatchError } from '../../src/opensearch/indexes.js';
import { search, type SearchHit } from '../../src/search/search.js';
import { reciprocalRankFusion } from '../../src/search/translator.js';
import { dot, toFeatureMap, type SparseVector } from '../../src/sparse.js';
import { runBuiltCli } from '../helpers/cli.js';

/**
 * Tolerance of a score against the exact dot product. rank_features stores a value as its float32
 * bits shifted right by 15 (Lucene FeatureField): 9 significant bits, truncated, so each stored
 * d' is in (d(1 - 2^-8), d]. The query weight is sent as the exact float32 (its JSON decimal parses
 * back to the same float), so each term q*d' is within 2^-8 (0.39%) below q*d, and a sum of positive
 * terms keeps that relative bound. Add float32 rounding of the products and the sum (a few 2^-24 per
 * term, bounded here by 1e-5 relative) and an absolute 1e-6 for tiny scores.
 */
const REL_LOW = 2 ** -8 + 1e-5;
const REL_HIGH = 1e-5;
function expectDotScore(score: number, exact: number): void {
  expect(score).toBeLessThanOrEqual(exact * (1 + REL_HIGH) + 1e-6);
  expect(score).toBeGreaterThanOrEqual(exact * (1 - REL_LOW) - 1e-6);
}

interface Doc {
  id: string;
  topic: string;
  title: string;
  text: string;
}

const DOCS: Doc[] = [
  ['heart', 'Heart attacks and the coronary arteries', 'A myocardial infarction happens when a coronary artery is blocked and the heart muscle loses its blood supply.'],
  ['heart', 'High blood pressure', 'Hypertension strains the heart and the blood vessels and raises the risk of stroke and cardiac failure.'],
  ['heart', 'The cardiac cycle', 'The heart pumps blood through the body: the ventricles contract in systole and relax in diastole.'],
  ['heart', 'Cholesterol and cardiovascular disease', 'LDL cholesterol builds plaques in arteries, a main cause of cardiovascular disease and heart attacks.'],
  ['space', 'The planets of the solar system', 'Mercury, Venus, Earth and Mars are rocky planets; Jupiter and Saturn are gas giants orbiting the Sun.'],
  ['space', 'Black holes', 'A black hole is a region of spacetime where gravity is so strong that not even light escapes.'],
  ['space', 'Telescopes and galaxies', 'Astronomers use telescopes to observe distant galaxies, nebulae and stars in the night sky.'],
  ['space', 'Rockets to the Moon', 'The Apollo missions launched astronauts on Saturn V rockets to land on the Moon.'],
  ['food', 'Baking sourdough bread', 'Sourdough bread rises with a starter of wild yeast; knead the dough, let it proof, then bake it in a hot oven.'],
  ['food', 'Italian pasta sauces', 'A tomato sauce with garlic, olive oil and basil goes well with spaghetti; carbonara uses eggs and cheese.'],
  ['food', 'Chocolate cake recipe', 'Mix flour, sugar, cocoa and eggs, pour the batter into a tin and bake the cake for forty minutes.'],
  ['food', 'Grilling vegetables', 'Brush peppers, courgettes and aubergines with oil and grill them over charcoal until tender.'],
  ['code', 'Sorting algorithms', 'Quicksort and merge sort order an array in n log n time; bubble sort is quadratic.'],
  ['code', 'Garbage collection', 'A garbage collector frees memory the program no longer references, so programmers need not free it by hand.'],
  ['code', 'Databases and SQL', 'A relational database stores rows in tables and answers SQL queries using indexes.'],
  ['code', 'Compilers', 'A compiler translates source code into machine code: parsing, type checking, optimisation and code generation.'],
  ['sport', 'The football World Cup', 'National football teams compete every four years; the final is the most watched match in the world.'],
  ['sport', 'Marathon running', 'Runners train for months to run the 42 kilometre marathon; pacing and hydration matter.'],
  ['sport', 'Tennis at Wimbledon', 'Wimbledon is a tennis tournament played on grass courts in London every summer.'],
  ['sport', 'Swimming strokes', 'Freestyle, backstroke, breaststroke and butterfly are the four competitive swimming strokes.'],
].map(([topic, title, text], i) => ({ id: `d${String(i).padStart(2, '0')}-${topic}`, topic: topic!, title: title!, text: text! }));

const QUERIES = [
  'what causes a heart attack',
  'planets orbiting the sun',
  'how to bake bread at home',
  'fast sorting of an array',
  'training for a marathon race',
];

const config = loadConfig();
const stamp = `${process.pid}-${Date.now()}`;
const INDEX = `test-search-${stamp}`;
const OTHER = `test-search-other-${stamp}`;
let client: Client;
let encoder: Encoder;
const docVec = new Map<string, SparseVector>();

async function queryVector(text: string): Promise<SparseVector> {
  return (await encoder.encode([text], 'query'))[0]!;
}

/** Exact dot products of a query with every document, best first, only the positive ones. */
function exactRanking(q: SparseVector): { id: string; score: number }[] {
  return DOCS.map((d) => ({ id: d.id, score: dot(q, docVec.get(d.id)!) }))
    .filter((r) => r.score > 0)
    .sort((a, b) => b.score - a.score);
}

beforeAll(async () => {
  client = createOpenSearchClient(config);
  encoder = await createEncoder({ modelDir: config.modelDir });
  await ensureConceptIndex(client, INDEX, encoder.model, { replicas: 0 });
  const vecs = await encoder.encode(
    DOCS.map((d) => `${d.title} ${d.text}`),
    'document',
  );
  const ops: unknown[] = [];
  DOCS.forEach((d, i) => {
    docVec.set(d.id, vecs[i]!);
    ops.push({ index: { _index: INDEX, _id: d.id } });
    ops.push({ title: d.title, text: d.text, concepts: toFeatureMap(vecs[i]!), model_version: encoder.model.version, metadata: { topic: d.topic } });
  });
  const res = await client.bulk({ body: ops as any, refresh: true });
  expect((res.body as any).errors).toBe(false);
});

afterAll(async () => {
  await client?.indices.delete({ index: [INDEX, OTHER], ignore_unavailable: true } as any).catch(() => undefined);
  await encoder?.close();
  await client?.close();
});

describe('concept search scores are dot products', () => {
  it('every hit scores the exact dot product within rank_features precision, and all matching documents come back in order', async () => {
    let checked = 0;
    for (const q of QUERIES) {
      const qv = await queryVector(q);
      expect(qv.indices.length).toBeGreaterThan(0);
      const res = await search({ client, encoder }, { index: INDEX, query: q, size: DOCS.length });
      expect(res.fallback).toBeUndefined();
      expect(res.queryVector.used).toBe(qv.indices.length);
      const exact = exactRanking(qv);
      expect(res.hits.map((h) => h.id).sort()).toEqual(exact.map((e) => e.id).sort());
      for (const h of res.hits) {
        expectDotScore(h.score, dot(qv, docVec.get(h.id)!));
        checked++;
      }
      // Ranks follow the scores; documents whose exact scores differ by more than the precision keep their order.
      for (let i = 1; i < res.hits.length; i++) expect(res.hits[i]!.score).toBeLessThanOrEqual(res.hits[i - 1]!.score);
      const pos = new Map(res.hits.map((h, i) => [h.id, i]));
      for (let i = 0; i < exact.length; i++)
        for (let j = i + 1; j < exact.length; j++)
          if (exact[i]!.score > exact[j]!.score * (1 + 2 * REL_LOW)) expect(pos.get(exact[i]!.id)!).toBeLessThan(pos.get(exact[j]!.id)!);
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('a query that is a document finds that document first', async () => {
    // Self-match: the document's own text as the query. Checked against the encoder's own ranking.
    for (const d of [DOCS[0]!, DOCS[8]!, DOCS[12]!]) {
      const q = `${d.title} ${d.text}`;
      const exact = exactRanking(await queryVector(q));
      const res = await search({ client, encoder }, { index: INDEX, query: q, size: 3 });
      // the top hit is the encoder's own best (or ties with it within the stored precision)
      expect(dot(await queryVector(q), docVec.get(res.hits[0]!.id)!)).toBeGreaterThanOrEqual(exact[0]!.score * (1 - 2 * REL_LOW));
    }
  });

  it('pagination: from/size pages are slices of one ranking, with ranks counting from 1', async () => {
    const all = await search({ client, encoder }, { index: INDEX, query: QUERIES[0]!, size: 10 });
    const page = await search({ client, encoder }, { index: INDEX, query: QUERIES[0]!, size: 5, from: 5 });
    expect(page.hits.map((h) => h.id)).toEqual(all.hits.slice(5, 10).map((h) => h.id));
    expect(page.hits.map((h) => h.rank)).toEqual(all.hits.slice(5, 10).map((_, i) => 6 + i));
  });

  it('two-phase: scores inside the rescore window are the full dot product', async () => {
    for (const q of QUERIES.slice(0, 3)) {
      const qv = await queryVector(q);
      const res = await search({ client, encoder }, { index: INDEX, query: q, size: 5, twoPhase: { heavy: 2, window: 10 } });
      expect(res.queryVector.firstPhase).toBe(Math.min(2, qv.indices.length));
      for (const h of res.hits) expectDotScore(h.score, dot(qv, docVec.get(h.id)!));
    }
  });

  it('query pruning keeps the clause count under the limit even for an oversized vector', async () => {
    const n = Math.min(encoder.model.dictionarySize, 3000);
    const big: SparseVector = {
      indices: Uint32Array.from({ length: n }, (_, i) => i),
      values: Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 97) / 100),
    };
    const res = await search(
      { client, encoder },
      { index: INDEX, query: 'x', vector: big, size: 5, filter: { terms: { _id: DOCS.map((d) => d.id) } } },
    );
    expect(res.queryVector.used).toBeLessThanOrEqual(1023);
    expect(res.queryVector.used).toBe(Math.min(n, 1023));
  });
});

describe('composition', () => {
  it('filters return only matching documents', async () => {
    const allowed = [DOCS[1]!.id, DOCS[5]!.id, DOCS[9]!.id];
    for (const mode of ['concepts', 'bm25', 'hybrid', 'rrf'] as const) {
      const res = await search({ client, encoder }, { index: INDEX, query: QUERIES[0]!, mode, size: 20, filter: { terms: { _id: allowed } } });
      for (const h of res.hits) expect(allowed).toContain(h.id);
    }
    // concepts + a text filter on an indexed field: exactly the heart-titled documents that share a concept with the query
    const q = QUERIES[0]!;
    const qv = await queryVector(q);
    const expected = DOCS.filter((d) => /heart/i.test(d.title) && dot(qv, docVec.get(d.id)!) > 0).map((d) => d.id);
    expect(expected.length).toBeGreaterThan(0);
    const res = await search({ client, encoder }, { index: INDEX, query: q, size: 20, filter: { match: { title: 'heart' } } });
    expect(res.hits.map((h) => h.id).sort()).toEqual(expected.sort());
    for (const h of res.hits) expect(String(h.source?.title).toLowerCase()).toMatch(/heart/);
  });

  it('_source selection, and the concept map only on request', async () => {
    const a = await search({ client, encoder }, { index: INDEX, query: QUERIES[2]!, size: 3, source: ['title'] });
    for (const h of a.hits) expect(Object.keys(h.source ?? {})).toEqual(['title']);
    const b = await search({ client, encoder }, { index: INDEX, query: QUERIES[2]!, size: 3 });
    for (const h of b.hits) {
      expect(h.source?.text).toBeTypeOf('string');
      expect(h.source?.concepts).toBeUndefined();
    }
    const c = await search({ client, encoder }, { index: INDEX, query: QUERIES[2]!, size: 3, source: false, explain: true });
    for (const h of c.hits) {
      expect(h.source).toBeUndefined();
      expect(h.explanation?.concepts.length).toBeGreaterThan(0);
    }
  });

  it('hybrid (weighted sum) scores a × concept score + b × BM25 score, and finds the known answer', async () => {
    const q = 'sourdough bread yeast';
    const w = { concepts: 1, bm25: 0.5 };
    const [c, b, h] = await Promise.all([
      search({ client, encoder }, { index: INDEX, query: q, mode: 'concepts', size: 20 }),
      search({ client, encoder }, { index: INDEX, query: q, mode: 'bm25', size: 20 }),
      search({ client, encoder }, { index: INDEX, query: q, mode: 'hybrid', size: 20, hybrid: w }),
    ]);
    const cs = new Map(c.hits.map((x) => [x.id, x.score]));
    const bs = new Map(b.hits.map((x) => [x.id, x.score]));
    for (const hit of h.hits) {
      const expected = w.concepts * (cs.get(hit.id) ?? 0) + w.bm25 * (bs.get(hit.id) ?? 0);
      expect(hit.score).toBeCloseTo(expected, 4);
    }
    // The only document with these words, first in BM25; the hybrid puts it first when the concept
    // part agrees with the encoder's own ranking (derived, not assumed).
    expect(b.hits[0]!.id).toBe(DOCS[8]!.id);
    const expectedTop = [...new Set([...cs.keys(), ...bs.keys()])]
      .map((id) => ({ id, s: w.concepts * (cs.get(id) ?? 0) + w.bm25 * (bs.get(id) ?? 0) }))
      .sort((x, y) => y.s - x.s)[0]!.id;
    expect(h.hits[0]!.id).toBe(expectedTop);
  });

  it('rrf fuses the concept and BM25 lists with 1/(60 + rank)', async () => {
    const q = 'black holes and gravity';
    const size = 5;
    const window = 20;
    const [c, b, r] = await Promise.all([
      search({ client, encoder }, { index: INDEX, query: q, mode: 'concepts', size: window }),
      search({ client, encoder }, { index: INDEX, query: q, mode: 'bm25', size: window }),
      search({ client, encoder }, { index: INDEX, query: q, mode: 'rrf', size, rrf: { window } }),
    ]);
    const fused = reciprocalRankFusion(c.hits, b.hits, 60);
    expect(r.hits.map((h) => h.id)).toEqual(fused.slice(0, size).map((f) => f.id));
    r.hits.forEach((h, i) => expect(h.score).toBeCloseTo(fused[i]!.score, 12));
    expect(b.hits[0]!.id).toBe(DOCS[5]!.id);
    // A document first in both lists is first in the fusion.
    if (c.hits[0]!.id === b.hits[0]!.id) expect(r.hits[0]!.id).toBe(DOCS[5]!.id);
    expect(r.hits[0]!.ranks).toBeDefined();
  });

  it('a query without concepts falls back to BM25, never a malformed request', async () => {
    for (const mode of ['concepts', 'hybrid', 'rrf'] as const) {
      const res = await search({ client, encoder }, { index: INDEX, query: '?!', mode });
      expect(res.fallback).toBe('bm25');
      expect(res.executed).toBe('bm25');
      expect(Array.isArray(res.hits)).toBe(true);
    }
    const empty = { indices: new Uint32Array(0), values: new Float32Array(0) };
    const res = await search({ client, encoder }, { index: INDEX, query: 'marathon', vector: empty });
    expect(res.fallback).toBe('bm25');
    expect(res.hits[0]!.id).toBe(DOCS[17]!.id);
  });
});

describe('explanations', () => {
  it("lists the heaviest contributions with labels; shares sum to 1 and dot matches the score", async () => {
    const res = await search({ client, encoder }, { index: INDEX, query: QUERIES[0]!, size: 5, explain: 3 });
    expect(res.hits.length).toBeGreaterThan(0);
    for (const h of res.hits as SearchHit[]) {
      const e = h.explanation!;
      expect(e.unavailable).toBeUndefined();
      expect(e.concepts.length).toBeGreaterThan(0);
      expect(e.concepts.length).toBeLessThanOrEqual(3);
      const sum = e.concepts.reduce((s, c) => s + c.share, 0) + e.otherShare;
      expect(sum).toBeCloseTo(1, 6);
      for (let i = 1; i < e.concepts.length; i++) expect(e.concepts[i]!.contribution).toBeLessThanOrEqual(e.concepts[i - 1]!.contribution);
      for (const c of e.concepts) {
        expect(c.contribution).toBeCloseTo(c.queryWeight * c.docWeight, 6);
        expect(c.label).toBe(encoder.label(c.id));
      }
      expectDotScore(h.score, e.dot);
      expect(h.source?.concepts).toBeUndefined(); // fetched for the explanation, not returned
    }
    // all concepts listed: their shares alone sum to 1
    const full = await search({ client, encoder }, { index: INDEX, query: QUERIES[0]!, size: 1, explain: 10_000 });
    const e = full.hits[0]!.explanation!;
    expect(e.concepts.length).toBe(e.matched);
    expect(e.concepts.reduce((s, c) => s + c.share, 0)).toBeCloseTo(1, 6);
  });
});

describe('model check', () => {
  it("refuses an index built with another model, naming both", async () => {
    const other = { name: 'some-other-model', version: '9.9.9', dictionarySize: encoder.model.dictionarySize };
    await ensureConceptIndex(client, OTHER, other, { replicas: 0 });
    const err = await search({ client, encoder }, { index: OTHER, query: QUERIES[0]! }).catch((e) => e);
    expect(err).toBeInstanceOf(IndexModelMismatchError);
    expect(err.message).toContain('some-other-model@9.9.9');
    expect(err.message).toContain(`${encoder.model.name}@${encoder.model.version}`);
    // still refused the second time (only successes are cached)
    await expect(search({ client, encoder }, { index: OTHER, query: QUERIES[0]! })).rejects.toThrow(IndexModelMismatchError);
    // BM25 needs no concepts: allowed
    const bm = await search({ client }, { index: OTHER, query: QUERIES[0]!, mode: 'bm25' });
    expect(bm.hits).toEqual([]);
  });

  it('a missing index is a clear error', async () => {
    await expect(search({ client, encoder }, { index: `${INDEX}-missing`, query: 'x' })).rejects.toThrow();
  });
});

describe('saesplade bench query', () => {
  it('--inference-free encodes the queries from the token table, with and without --end-to-end', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'bench-query-')), 'queries.jsonl');
    writeFileSync(file, QUERIES.map((q, i) => JSON.stringify({ _id: `q${i}`, text: q })).join('\n') + '\n');
    const run = (...extra: string[]) => {
      const r = runBuiltCli(['bench', 'query', '--index', INDEX, '--queries', file, '--concurrency', '1', '--warmup', '0', '--json', ...extra], {}, 120_000);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { inferenceFree: boolean; endToEnd: boolean; rows: { variant: string; conceptsUsed: number }[] };
    };
    const meanNnz = (vs: SparseVector[]) => vs.reduce((s, v) => s + v.indices.length, 0) / vs.length;
    const full = meanNnz(await encoder.encode(QUERIES, 'query'));
    const table = meanNnz(await encoder.encode(QUERIES, 'query', { inferenceFree: true }));
    expect(table).not.toBe(full);
    const used = (res: ReturnType<typeof run>) => res.rows.find((r) => r.variant === 'concepts')!.conceptsUsed;
    const plain = run();
    expect([plain.inferenceFree, plain.endToEnd]).toEqual([false, false]);
    expect(used(plain)).toBeCloseTo(full, 9);
    // queries encoded before the timed loop (the default): the option once reached the searches but not this
    // encoding, so the full encoder's vectors were searched
    const free = run('--inference-free');
    expect([free.inferenceFree, free.endToEnd]).toEqual([true, false]);
    expect(used(free)).toBeCloseTo(table, 9);
    // encoded inside each search
    const e2e = run('--inference-free', '--end-to-end');
    expect([e2e.inferenceFree, e2e.endToEnd]).toEqual([true, true]);
    expect(used(e2e)).toBeCloseTo(table, 9);
  });
});
