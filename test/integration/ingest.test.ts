/**
 * Queued ingestion end to end: file → producer → BullMQ → worker (in this process) → OpenSearch,
 * against real services and the real default model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder } from '../../src/encoder/index.js';
import type { Encoder } from '../../src/encoder/types.js';
import { encoderInput, ingest, startIngestWorker, type IngestWorkerHandle, type SourceDoc } from '../../src/ingest/index.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { conceptIndexBody } from '../../src/opensearch/indexes.js';
import { JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, expectSameConcepts, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('ingest');
const N = 30;
const lines = sampleLines(N);
const docs = lines.map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
let client: Client;
let encoder: Encoder;
let worker: IngestWorkerHandle;
const redis = createRedis(config);
const store = new JobSetStore(redis);
const setIds: string[] = [];
const files: (() => void)[] = [];

beforeAll(async () => {
  client = createOpenSearchClient(config);
  encoder = await createEncoder({ modelDir: config.modelDir });
  // Batches of 8 documents: several jobs, so that concurrency and batching are exercised.
  worker = await startIngestWorker({ config, client, concurrency: 2 });
});

afterAll(async () => {
  await worker?.close();
  await encoder?.close();
  await cleanup(config, client, setIds);
  await redis.quit();
  await client?.close();
  files.forEach((rm) => rm());
});

async function run(fileLines: string[], opts: { maxDocBytes?: number; batchSize?: number } = {}) {
  const f = tempFile('docs.jsonl', fileLines);
  files.push(f.remove);
  const res = await ingest({
    config,
    source: f.file,
    wait: true,
    progress: false,
    batchSize: opts.batchSize ?? 8,
    ...(opts.maxDocBytes ? { parse: { maxDocBytes: opts.maxDocBytes } } : {}),
  });
  setIds.push(res.setId);
  return { ...res, file: f.file };
}

async function stored(ids: string[]) {
  const res = await client.mget({ index: config.index, body: { ids } });
  return (res.body as any).docs as { _id: string; found: boolean; _version: number; _source: any }[];
}

describe('ingest', () => {
  it('indexes every document with the encoder\'s concept vector', async () => {
    const { final } = await run(lines);
    expect(final).toMatchObject({ read: N, queued: N, indexed: N, skipped: 0, failed: 0, jobs: 4, jobsDone: 4, done: true });

    const got = await stored(docs.map((d) => d._id));
    const vectors = await encoder.encode(docs.map((d) => encoderInput(d as unknown as SourceDoc)), 'document');
    got.forEach((g, i) => {
      expect(g.found, g._id).toBe(true);
      expect(g._source.title).toBe(docs[i]!.title);
      expect(g._source.text).toBe(docs[i]!.text);
      expect(g._source.model_version).toBe(encoder.model.version);
      expect(g._source.content_hash).toMatch(/^[0-9a-f]{64}$/);
      expectSameConcepts(g._source.concepts, vectors[i]!);
    });
    const count = (await client.count({ index: config.index })).body as any;
    expect(count.count).toBe(N);
  });

  it('re-ingesting the same documents changes nothing and counts them all skipped-unchanged', async () => {
    const before = await stored(docs.map((d) => d._id));
    const { final } = await run(lines);
    expect(final).toMatchObject({ read: N, queued: N, indexed: 0, skipped: N, failed: 0, done: true });
    const after = await stored(docs.map((d) => d._id));
    // Not even rewritten: the version of every document is unchanged.
    expect(after.map((d) => d._version)).toEqual(before.map((d) => d._version));
    expect(after.map((d) => d._source)).toEqual(before.map((d) => d._source));
    expect(((await client.count({ index: config.index })).body as any).count).toBe(N);
  });

  it('a changed text or metadata is re-indexed, the rest skipped', async () => {
    const changed = lines.slice(0, 4).map((l, i) => {
      const d = JSON.parse(l);
      if (i === 0) d.text += ' An added sentence.';
      if (i === 1) d.metadata = { year: 2024 };
      return JSON.stringify(d);
    });
    const { final } = await run(changed);
    expect(final).toMatchObject({ indexed: 2, skipped: 2, failed: 0 });
    const [a, b] = await stored([docs[0]!._id, docs[1]!._id]);
    expect(a!._source.text.endsWith(' An added sentence.')).toBe(true);
    expect(b!._source.metadata).toEqual({ year: 2024 });
    // restore, so the other tests see the original corpus
    expect((await run(lines.slice(0, 2))).final).toMatchObject({ indexed: 2 });
  });

  it('records bad lines with their line numbers and indexes all the others', async () => {
    const big = JSON.stringify({ _id: 'too-big', title: 'big', text: 'word '.repeat(1000) });
    const bad = [
      lines[0]!, // 1
      'this is not JSON', // 2
      JSON.stringify({ title: 'no id', text: 'a document without an id' }), // 3
      lines[1]!, // 4
      '', // 5: blank, ignored
      JSON.stringify({ _id: 'empty', title: '', text: '  ' }), // 6
      big, // 7
      lines[2]!, // 8
      JSON.stringify({ _id: 'new-doc', title: 'A fresh document', text: 'Vitamin D and bone density in older adults.' }), // 9
    ];
    const { final, setId, file } = await run(bad, { maxDocBytes: 4000 });
    expect(final).toMatchObject({ read: 8, queued: 4, failed: 4, failedAtEntry: 4, done: true });
    expect(final!.indexed + final!.skipped).toBe(4);
    const failures = await store.failures(setId);
    expect(failures.map((f) => [f.source, f.code])).toEqual([
      [`${file}:2`, 'invalid_json'],
      [`${file}:3`, 'missing_id'],
      [`${file}:6`, 'empty_text'],
      [`${file}:7`, 'too_large'],
    ]);
    expect(failures[2]!.id).toBe('empty');
    const got = await stored(['new-doc', 'too-big', 'empty']);
    expect(got.map((g) => g.found)).toEqual([true, false, false]);
  });
});

describe('ingest into an index that rejects some documents', () => {
  const cfg = { ...config, index: `${config.index}-reject` };
  afterAll(async () => {
    await client.indices.delete({ index: cfg.index, ignore_unavailable: true } as any).catch(() => undefined);
  });

  it('records mapping rejections with the document id and OpenSearch\'s reason; the batch proceeds', async () => {
    // A concept index of the right model whose `title` is (wrongly) an integer: titles that are not
    // numbers are refused by OpenSearch with a 400 mapper_parsing_exception.
    const body = conceptIndexBody(encoder.model);
    body.mappings.properties.title = { type: 'integer' };
    await client.indices.create({ index: cfg.index, body });
    const f = tempFile('mixed.jsonl', [
      JSON.stringify({ id: 'n1', title: '123', text: 'Insulin resistance and type 2 diabetes.' }),
      JSON.stringify({ id: 'w1', title: 'words', text: 'Gut microbiota and immunity.' }),
      JSON.stringify({ id: 'n2', title: '456', text: 'Statins lower LDL cholesterol.' }),
    ]);
    files.push(f.remove);
    const res = await ingest({ config: cfg, source: f.file, wait: true, progress: false });
    setIds.push(res.setId);
    expect(res.final).toMatchObject({ indexed: 2, failed: 1, failedAtEntry: 0, done: true });
    const [failure] = await store.failures(res.setId);
    expect(failure).toMatchObject({ id: 'w1', source: `${f.file}:2`, code: 'index_rejected' });
    expect(failure!.reason).toMatch(/400.*(mapper_parsing_exception|failed to parse)/);
  });
});
