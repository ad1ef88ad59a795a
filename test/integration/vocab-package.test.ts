/**
 * The vocabulary SPLADE package (models/splade-tiny, issue 20) through the same paths as the concept
 * model, against the real Redis, OpenSearch and ONNX runtime: the package checks (manifest, labels =
 * vocabulary tokens, golden vectors in-process and in worker threads, empty text), then a slice of
 * samples/scifact-mini ingested through the queue and a worker with `--model models/splade-tiny`,
 * searched with explanations, guarded against the other model, and reindexed to the concept model.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, PACKAGE_ROOT, type Config } from '../../src/config.js';
import { checkGolden, createEncoder, loadModelPackage, readGolden, type Encoder } from '../../src/encoder/index.js';
import { ingest, modelIdentity, startIngestWorker, type IngestWorkerHandle } from '../../src/ingest/index.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { IndexModelMismatchError, readIndexModel } from '../../src/opensearch/indexes.js';
import { aliasIndices, reindex, targetIndexName } from '../../src/reindex/index.js';
import { clearIndexModelCache, search } from '../../src/search/search.js';
import { cleanup, expectSameConcepts, indicesBehind, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';
import { cleanupReindex } from './reindex-helpers.js';

const VOCAB_DIR = path.join(PACKAGE_ROOT, 'models', 'splade-tiny');
const device = process.env.SAESPLADE_DEVICE ?? 'cpu';

describe('vocabulary package: package checks', () => {
  const pkg = loadModelPackage(VOCAB_DIR);
  const golden = readGolden(pkg)!;

  it('is a sae-splade-model/1 package over the 30,522-token vocabulary whose labels are the tokens', () => {
    expect(pkg.manifest).toMatchObject({ name: 'splade-tiny', dictionary_size: 30522, dictionary: 'vocabulary', activation: 'log1p_relu', pooling: 'max' });
    expect(pkg.labels).toHaveLength(30522);
    const vocab = (pkg.tokenizerJson as any).model.vocab as Record<string, number>;
    for (const t of ['heart', 'vitamin', '##ing', '[CLS]']) expect(pkg.labels![vocab[t]!]).toBe(t);
    expect(golden.tolerance).toEqual({ abs: 0.001, cosine: 0.9999 });
    expect(golden.cases.length).toBeGreaterThan(10);
  });

  describe.each([0, 2])('workers=%i', (workers) => {
    let enc: Encoder;
    beforeAll(async () => {
      enc = await createEncoder({ modelDir: VOCAB_DIR, workers, threads: 2, device });
    });
    afterAll(() => enc?.close());

    it('matches the Python golden vectors within the stated tolerance', async () => {
      const failures = await checkGolden(enc, golden);
      expect(failures.map((f) => ({ text: f.case.text.slice(0, 60), mode: f.case.mode, problems: f.problems.slice(0, 5) }))).toEqual([]);
    });

    it('gives empty vectors for text without content, and word-piece vectors within the pruning otherwise', async () => {
      for (const mode of ['document', 'query'] as const) {
        const vs = await enc.encode(['', '  ', '?!...', 'The heart pumps blood through the arteries.'], mode);
        expect(vs.slice(0, 3).every((v) => v.indices.length === 0)).toBe(true);
        const v = vs[3]!;
        expect(v.indices.length).toBeGreaterThan(0);
        expect(v.indices.length).toBeLessThanOrEqual(pkg.manifest.pruning[mode].top_k!);
        const words = [...v.indices].map((id) => enc.label(id));
        expect(words).toContain('heart');
        expect(words).toContain('blood');
      }
    });
  });
});

describe('vocabulary package: ingest -> worker -> search -> explain -> reindex', () => {
  const base = uniqueConfig('vocab');
  const config: Config = { ...base, modelDir: VOCAB_DIR };
  const model = modelIdentity(VOCAB_DIR);
  const concrete = targetIndexName(config.index, model);
  const N = 24;
  const lines = sampleLines(N, 360);
  const docs = lines.map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
  const setIds: string[] = [];
  const files: (() => void)[] = [];
  let client: Client;
  let encoder: Encoder;
  let worker: IngestWorkerHandle;
  let conceptTarget: string | undefined;

  beforeAll(async () => {
    client = createOpenSearchClient(config);
    encoder = await createEncoder({ modelDir: VOCAB_DIR, threads: 2, device });
    worker = await startIngestWorker({ config, client, concurrency: 2 });
  });

  afterAll(async () => {
    await worker?.close();
    await encoder?.close();
    const behind = await indicesBehind(client, config.index).catch(() => [] as string[]);
    if (conceptTarget)
      await cleanupReindex(base, client, { indices: [concrete], aliases: [config.index], targets: [conceptTarget], queues: [`${base.queue}-reindex`] }).catch(() => undefined);
    await client.indices.delete({ index: [concrete, ...behind, ...(conceptTarget ? [conceptTarget] : [])].join(','), ignore_unavailable: true } as any).catch(() => undefined);
    await cleanup(config, client, setIds);
    await client?.close();
    files.forEach((rm) => rm());
  });

  it('ingests through the queue and a worker into <name>-splade-tiny-<version>, recording the model in _meta', async () => {
    const f = tempFile('docs.jsonl', lines);
    files.push(f.remove);
    const res = await ingest({ config, source: f.file, wait: true, progress: false, batchSize: 8 });
    setIds.push(res.setId);
    expect(res.summary).toMatchObject({ read: N, indexed: N, failed: 0 });
    expect(await indicesBehind(client, config.index)).toEqual([concrete]);
    expect(await readIndexModel(client, config.index)).toMatchObject({ model_name: 'splade-tiny', model_version: model.version, dictionary_size: 30522 });
    // the stored vectors are the encoder's: word-piece ids with their weights
    const got = ((await client.mget({ index: config.index, body: { ids: docs.slice(0, 3).map((d) => d._id) } })).body as any).docs;
    const vecs = await encoder.encode(docs.slice(0, 3).map((d) => `${d.title}\n${d.text}`), 'document');
    got.forEach((g: any, i: number) => expectSameConcepts(g._source.concepts, vecs[i]!));
  });

  it('finds a document by its title and explains the hit in vocabulary tokens', async () => {
    const d = docs[5]!;
    const res = await search({ client, encoder }, { index: config.index, query: d.title, size: 5, explain: 5 });
    expect(res.hits.slice(0, 3).map((h) => h.id)).toContain(d._id);
    const hit = res.hits.find((h) => h.id === d._id)!;
    const labels = hit.explanation!.concepts.map((c: any) => c.label as string);
    expect(labels.length).toBeGreaterThan(0);
    const vocab = new Set(loadModelPackage(VOCAB_DIR).labels);
    for (const l of labels) expect(vocab.has(l)).toBe(true);
    // at least one explaining token occurs in the title (lower-cased, word pieces joined)
    const title = d.title.toLowerCase();
    expect(labels.some((l) => title.includes(l.replace(/^##/, '')))).toBe(true);
    for (const mode of ['bm25', 'hybrid', 'rrf'] as const) {
      const r = await search({ client, encoder }, { index: config.index, query: d.title, mode, size: 5 });
      expect(r.hits.length).toBeGreaterThan(0);
    }
  });

  it('refuses to search the index with the concept model, and reindexes it to the concept model', async () => {
    const concepts = await createEncoder({ modelDir: DEFAULT_MODEL_DIR, threads: 2, device });
    try {
      await expect(search({ client, encoder: concepts }, { index: config.index, query: 'vitamin D' })).rejects.toBeInstanceOf(IndexModelMismatchError);
      const cfg: Config = { ...base, modelDir: DEFAULT_MODEL_DIR, queue: `${base.queue}-reindex` };
      conceptTarget = targetIndexName(config.index, modelIdentity(DEFAULT_MODEL_DIR));
      const r = await reindex({ config: cfg, source: config.index, alias: config.index, pageSize: 8, withWorker: { concurrency: 2 }, progress: false });
      expect(r).toMatchObject({ status: 'switched', target: conceptTarget });
      expect(r.final).toMatchObject({ done: true, indexed: N, failed: 0 });
      expect(await aliasIndices(client, config.index)).toEqual([conceptTarget]);
      clearIndexModelCache(client); // the alias now points at another index
      const hits = await search({ client, encoder: concepts }, { index: config.index, query: docs[5]!.title, size: 5, explain: 3 });
      expect(hits.hits.length).toBeGreaterThan(0);
      await expect(search({ client, encoder }, { index: config.index, query: 'vitamin D' })).rejects.toBeInstanceOf(IndexModelMismatchError);
    } finally {
      await concepts.close();
    }
  });
});
