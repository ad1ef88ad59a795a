/**
 * `eval` end to end on a small slice of the bundled SciFact sample: the real queue, an in-process
 * worker, the real default model, OpenSearch and Redis (scripts/services.sh start). The slice is
 * the first 12 judged queries of samples/scifact-mini, their relevant documents and 50 others,
 * written to a temporary BEIR directory (about 60 documents: ~30 s to encode on 2 busy cores).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { loadBeirDataset } from '../../src/eval/dataset.js';
import { reuseProblem } from '../../src/eval/index-stats.js';
import { evaluateRun, parseQrels, type Run } from '../../src/eval/metrics.js';
import { renderEvalMarkdown, renderEvalTable } from '../../src/eval/render.js';
import { EvalError, runEval, type EvalResult } from '../../src/eval/run-eval.js';
import { modelIdentity } from '../../src/ingest/run-ingest.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';

const SAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'samples', 'scifact-mini');
const stamp = `${process.pid}-${Date.now().toString(36)}`;
const INDEX = `test-eval-${stamp}`;
const config = loadConfig({ logLevel: 'warn' });
const silent = () => {};

let work: string;
let dataset: string;
let runDir: string;
let reference: string;
let client: Client;
let first: EvalResult;

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
}

/** Writes the slice: first `nq` judged queries, all their relevant documents, `others` more documents. */
function writeSlice(dir: string, nq: number, others: number): void {
  mkdirSync(path.join(dir, 'qrels'), { recursive: true });
  const queries = lines(path.join(SAMPLE, 'queries.jsonl')).slice(0, nq);
  const qids = new Set(queries.map((l) => String(JSON.parse(l)._id)));
  const qrelRows = lines(path.join(SAMPLE, 'qrels', 'test.tsv'))
    .slice(1)
    .filter((l) => qids.has(l.split('\t')[0]!));
  const relevant = new Set(qrelRows.map((l) => l.split('\t')[1]!));
  const corpus = lines(path.join(SAMPLE, 'corpus.jsonl'));
  const rel = corpus.filter((l) => relevant.has(String(JSON.parse(l)._id)));
  const rest = corpus.filter((l) => !relevant.has(String(JSON.parse(l)._id))).slice(0, others);
  writeFileSync(path.join(dir, 'corpus.jsonl'), [...rel, ...rest].join('\n') + '\n');
  writeFileSync(path.join(dir, 'queries.jsonl'), queries.join('\n') + '\n');
  writeFileSync(path.join(dir, 'qrels', 'test.tsv'), ['query-id\tcorpus-id\tscore', ...qrelRows].join('\r\n') + '\r\n');
}

/** A TREC run file read back independently of the code that wrote it. */
function readTrecRun(file: string): Run {
  const byQuery = new Map<string, { id: string; rank: number }[]>();
  for (const l of lines(file)) {
    const [qid, q0, doc, rank, score, tag] = l.split(' ');
    expect(q0).toBe('Q0');
    expect(Number.isFinite(Number(score))).toBe(true);
    expect(tag).toMatch(/^saesplade-/);
    if (!byQuery.has(qid!)) byQuery.set(qid!, []);
    byQuery.get(qid!)!.push({ id: doc!, rank: Number(rank) });
  }
  return new Map([...byQuery].map(([q, hits]) => [q, hits.sort((a, b) => a.rank - b.rank).map((h) => h.id)]));
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'saesplade-eval-test-'));
  dataset = path.join(work, 'sfslice');
  runDir = path.join(work, 'runs');
  reference = path.join(work, 'REPORT.md');
  writeSlice(dataset, 12, 50);
  // A REPORT.md in the toolkit's format with a figure for this slice (the value is arbitrary).
  writeFileSync(
    reference,
    '| system | sfslice nDCG@10 / MRR@10 / R@100 |\n|---|---|\n| BM25 (bm25s) | 0.9 / 0.9 / 1.0 |\n' +
      '| SAE-SPLADE shipped graph: int8 weights, fp32 activations (ONNX, end to end) | 0.500 / 0.500 / 1.000 |\n',
  );
  client = createOpenSearchClient(config);
  first = await runEval({ config, dataset, index: INDEX, runDir, referenceReport: reference, progress: false, say: silent, warmup: 1 });
});

afterAll(async () => {
  await client?.indices.delete({ index: INDEX, ignore_unavailable: true } as any).catch(() => undefined);
  await client?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('eval on a SciFact slice', () => {
  it('ingests the whole slice through the queue and reports every judged query in every mode', () => {
    const corpus = lines(path.join(dataset, 'corpus.jsonl')).length;
    expect(first.index.reused).toBe(false);
    expect(first.ingest).toMatchObject({ docs: corpus, indexed: corpus, failed: 0 });
    expect(first.dataset).toMatchObject({ name: 'sfslice', docs: corpus, judgedQueries: 12, queriesRun: 12 });
    expect(first.modes.map((m) => m.mode)).toEqual(['concepts', 'bm25', 'hybrid', 'rrf']);
    for (const m of first.modes) expect(m.queries).toBe(12);
  });

  it('the reported metrics equal those computed from the TREC run files and the qrels', () => {
    const qrels = parseQrels(readFileSync(path.join(dataset, 'qrels', 'test.tsv'), 'utf8'));
    for (const m of first.modes) {
      expect(m.runFile).toBe(path.join(runDir, `sfslice.${m.mode}.trec`));
      const run = readTrecRun(m.runFile!);
      expect(run.size).toBe(12);
      for (const ranked of run.values()) expect(ranked.length).toBeLessThanOrEqual(100);
      const expected = evaluateRun(run, qrels);
      expect(m.ndcg10).toBeCloseTo(expected.ndcg10, 12);
      expect(m.mrr10).toBeCloseTo(expected.mrr10, 12);
      expect(m.recall100).toBeCloseTo(expected.recall100, 12);
    }
  });

  it('concepts and BM25 rank far above chance on the slice', () => {
    // ~1 relevant document among ~60: a random ranking scores about 0.05 nDCG@10.
    const by = (mode: string) => first.modes.find((m) => m.mode === mode)!;
    expect(by('concepts').ndcg10).toBeGreaterThan(0.3);
    expect(by('bm25').ndcg10).toBeGreaterThan(0.3);
    expect(by('hybrid').ndcg10).toBeGreaterThan(0.3);
    expect(by('rrf').ndcg10).toBeGreaterThan(0.3);
    expect(by('concepts').recall100).toBeGreaterThan(0.9);
  });

  it('index size on disk is measured from _stats after a flush', () => {
    expect(first.index.storeBytes).toBeGreaterThan(0);
    expect(first.index.docs).toBe(first.dataset.docs);
    expect(first.index.bytesPerDoc).toBeCloseTo(first.index.storeBytes / first.index.docs, 9);
    expect(first.index.segments).toBeGreaterThanOrEqual(1);
    expect(first.index.forceMerged).toBe(false);
  });

  it('non-zeros per document equal the mean over the stored vectors; FLOPS within its bounds', async () => {
    const res = await client.search({ index: INDEX, body: { size: 1000, _source: ['concepts'], query: { match_all: {} } } as any });
    const hits = (res.body as any).hits.hits as { _source: { concepts?: Record<string, number> } }[];
    expect(hits.length).toBe(first.dataset.docs);
    const mean = hits.reduce((s, h) => s + Object.values(h._source.concepts ?? {}).filter((w) => w > 0).length, 0) / hits.length;
    expect(first.sparsity.docNnz).toBeCloseTo(mean, 9);
    expect(first.sparsity.queryNnz).toBeGreaterThan(0);
    expect(first.sparsity.queryNnzUsed).toBeLessThanOrEqual(first.sparsity.queryNnz);
    // Each query-document pair shares at most min(nnz_q, nnz_d) concepts, and FLOPS is their mean.
    expect(first.sparsity.flops).toBeGreaterThan(0);
    expect(first.sparsity.flops).toBeLessThanOrEqual(Math.min(first.sparsity.queryNnzUsed, first.sparsity.docNnz));
  });

  it('latency percentiles per mode are ordered, BM25 needs no encoding', () => {
    for (const m of first.modes) {
      expect(m.latencyMs.n).toBe(12);
      expect(m.latencyMs.p50).toBeGreaterThan(0);
      expect(m.latencyMs.p50).toBeLessThanOrEqual(m.latencyMs.p95);
      expect(m.latencyMs.p95).toBeLessThanOrEqual(m.latencyMs.p99);
      expect(m.searchMs.p50).toBeLessThanOrEqual(m.latencyMs.p50);
    }
    expect(first.modes.find((m) => m.mode === 'bm25')!.encodeMs.max).toBeLessThan(5);
    expect(first.latencyRatio!.total).toBeGreaterThan(0);
  });

  it('compares concepts nDCG@10 with the REPORT.md figure and prints the gap', () => {
    const c = first.consistency!;
    const concepts = first.modes.find((m) => m.mode === 'concepts')!;
    expect(c.reference.ndcg10).toBe(0.5);
    expect(c.reference.system).toMatch(/shipped graph/);
    expect(c.gap).toBeCloseTo(concepts.ndcg10 - 0.5, 12);
    expect(c.comparable).toBe(true);
    expect(c.withinTolerance).toBe(Math.abs(c.gap) <= 0.01);
    expect(renderEvalTable(first)).toMatch(/gap [+-]\d\.\d{4}/);
    const md = renderEvalMarkdown(first, 'saesplade eval --dataset x');
    expect(md).toContain('| concepts | ');
    expect(md).toContain('saesplade eval --dataset x');
  });

  it('--reuse evaluates the existing index without ingesting (force-merged this time); the same rankings come back', async () => {
    const again = await runEval({ config, dataset, index: INDEX, reuse: true, forceMerge: true, modes: ['concepts'], limitQueries: 4, referenceReport: reference, progress: false, say: silent, warmup: 0 });
    expect(again.index.reused).toBe(true);
    // no new ingest: the one recorded in _meta when the index was built
    expect(again.ingest?.previous?.at).toMatch(/^\d{4}-/);
    expect(again.ingest?.indexed).toBe(first.ingest!.indexed);
    expect(again.ingest?.setId).toBeUndefined();
    // force-merged to one segment, measured once the merged-away segments are gone
    expect(again.index).toMatchObject({ forceMerged: true, segments: 1, docs: first.dataset.docs });
    expect(again.index.storeBytes).toBeGreaterThan(0);
    expect(again.dataset.queriesRun).toBe(4);
    expect(again.consistency?.comparable).toBe(false);
    const firstRun = readTrecRun(path.join(runDir, 'sfslice.concepts.trec'));
    const qrels = parseQrels(readFileSync(path.join(dataset, 'qrels', 'test.tsv'), 'utf8'));
    const four = new Map([...firstRun].slice(0, 4));
    expect(again.modes[0]!.ndcg10).toBeCloseTo(evaluateRun(four, new Map([...qrels].filter(([q]) => four.has(q)))).ndcg10, 9);
  });

  it('an existing index is never silently reused or overwritten; one built from another corpus is refused', async () => {
    await expect(runEval({ config, dataset, index: INDEX, progress: false, say: silent })).rejects.toThrow(EvalError);
    await expect(runEval({ config, dataset, index: INDEX, progress: false, say: silent })).rejects.toThrow(/--reuse/);
    // The same collection with one more document: count and checksum differ.
    const other = path.join(work, 'sfslice2');
    mkdirSync(path.join(other, 'qrels'), { recursive: true });
    for (const f of ['queries.jsonl', 'qrels/test.tsv']) writeFileSync(path.join(other, f), readFileSync(path.join(dataset, f)));
    writeFileSync(path.join(other, 'corpus.jsonl'), readFileSync(path.join(dataset, 'corpus.jsonl'), 'utf8') + JSON.stringify({ _id: 'extra-1', title: 'x', text: 'an extra document' }) + '\n');
    const problem = await reuseProblem(client, INDEX, await loadBeirDataset(other), modelIdentity(config.modelDir));
    expect(problem).toMatch(/another corpus/);
    await expect(runEval({ config, dataset: other, index: INDEX, reuse: true, progress: false, say: silent })).rejects.toThrow(/cannot reuse/);
  });

  it('--reuse completes an interrupted load of the corpus: only the missing documents are encoded', async () => {
    // Simulate an ingest that stopped early: 3 documents missing, no collection recorded in _meta.
    const ids = lines(path.join(dataset, 'corpus.jsonl')).slice(-3).map((l) => String(JSON.parse(l)._id));
    for (const id of ids) await client.delete({ index: INDEX, id, refresh: true });
    const mapping = (await client.indices.getMapping({ index: INDEX })).body as any;
    const { saesplade_eval: _drop, ...meta } = mapping[INDEX].mappings._meta;
    await client.indices.putMapping({ index: INDEX, body: { _meta: meta } as any });
    expect((await client.indices.getMapping({ index: INDEX })).body[INDEX]!.mappings._meta!.saesplade_eval).toBeUndefined();
    await expect(runEval({ config, dataset, index: INDEX, progress: false, say: silent })).rejects.toThrow(/interrupted load/);

    const resumed = await runEval({ config, dataset, index: INDEX, reuse: true, modes: ['concepts', 'bm25'], progress: false, say: silent, warmup: 0 });
    expect(resumed.index.reused).toBe(false);
    expect(resumed.ingest).toMatchObject({ indexed: 3, skipped: first.dataset.docs - 3, failed: 0 });
    expect(resumed.index.docs).toBe(first.dataset.docs);
    // Concept scores do not depend on collection statistics: the same rankings. (BM25's do: the
    // deleted documents still count in its statistics until a merge.)
    expect(resumed.modes.find((m) => m.mode === 'concepts')!.ndcg10).toBeCloseTo(first.modes.find((m) => m.mode === 'concepts')!.ndcg10, 9);
    expect(resumed.modes.find((m) => m.mode === 'bm25')!.ndcg10).toBeGreaterThan(0.3);
  });
});
