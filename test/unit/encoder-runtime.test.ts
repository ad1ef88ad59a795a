import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGolden, createEncoder, readGolden, loadModelPackage, type Encoder, type EncodeStats } from '../../src/encoder/index.js';
import type { SparseVector } from '../../src/sparse.js';
import { cleanupFixtures, TINY_MODEL, tinyVariant } from '../helpers/encoder-fixture.js';

afterAll(cleanupFixtures);

const plain = (v: SparseVector) => ({ i: [...v.indices], v: [...v.values].map((x) => +x.toFixed(5)) });
const golden = readGolden(loadModelPackage(TINY_MODEL))!;

const graphVariant = (file: string, output: object) =>
  tinyVariant((m) => {
    for (const mode of ['document', 'query']) m.graphs[mode] = { file, inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', token_type_ids: null }, output };
  });

const TEXTS = [
  'The heart pumps blood through the arteries.',
  '',
  'Sparse autoencoders learn interpretable concepts from hidden states.',
  '?!',
  'a',
  'Retrieval with concepts instead of word pieces, stored as rank features in OpenSearch, scored by a dot product.',
  'blood',
];

function delta(a: EncodeStats, b: EncodeStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['texts', 'tokens', 'truncated', 'passages', 'empty', 'batches'] as const) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return out;
}

describe.each([0, 2])('encoder on the tiny fixture (workers=%i)', (workers) => {
  // one encoder with the default options for the tests that need nothing else (workers start slowly under tsx)
  let shared: Encoder;
  beforeAll(async () => {
    shared = await createEncoder({ modelDir: TINY_MODEL, workers, threads: 2 });
  });
  afterAll(() => shared?.close());

  it('matches the Python golden vectors', async () => {
    expect(await checkGolden(shared, golden)).toEqual([]);
  });

  it('returns vectors in input order with length bucketing, same as one by one', async () => {
    const enc = await createEncoder({ modelDir: TINY_MODEL, workers, threads: 2, batchSize: 2 });
    try {
      const all = await enc.encode(TEXTS, 'document');
      expect(all.length).toBe(TEXTS.length);
      for (let i = 0; i < TEXTS.length; i++) {
        const [one] = await enc.encode([TEXTS[i]!], 'document');
        expect(plain(all[i]!), TEXTS[i]).toEqual(plain(one!));
      }
      for (const v of all) {
        for (let j = 1; j < v.indices.length; j++) expect(v.indices[j]!).toBeGreaterThan(v.indices[j - 1]!);
        for (const x of v.values) expect(x > 0 && Number.isFinite(x)).toBe(true);
      }
    } finally {
      await enc.close();
    }
  });

  it('gives empty vectors for empty / whitespace / punctuation text without running the model', async () => {
    const before = shared.stats();
    const vs = await shared.encode(['', '   ', '...!?', '—', '\n\t'], 'document');
    expect(vs.every((v) => v.indices.length === 0 && v.values.length === 0)).toBe(true);
    const q = await shared.encode([''], 'query');
    expect(q[0]!.indices.length).toBe(0);
    expect(await shared.encode([], 'document')).toEqual([]);
    expect(delta(before, shared.stats())).toEqual({ texts: 6, empty: 6, batches: 0, tokens: 0, truncated: 0, passages: 0 });
  });

  it('counts texts, tokens and truncations', async () => {
    const before = shared.stats();
    await shared.encode(['word '.repeat(100), 'short text', 'another ' + 'long '.repeat(40)], 'document');
    await shared.encode(['query '.repeat(30)], 'query');
    const d = delta(before, shared.stats());
    expect(d.texts).toBe(4);
    expect(d.truncated).toBe(3);
    expect(d.passages).toBe(0);
    expect(d.tokens).toBe(32 + 4 + 32 + 16); // 'short text' = [CLS] short text [SEP]
  });

  it('applies the package pruning per mode, and overrides', async () => {
    const enc = await createEncoder({ modelDir: TINY_MODEL, workers, threads: 2, pruning: { query: { topK: 3 } } });
    try {
      const text = TEXTS[5]!;
      const [d] = await enc.encode([text], 'document');
      const [q] = await enc.encode([text], 'query');
      const [raw] = await enc.encode([text], 'document', { raw: true });
      const [call] = await enc.encode([text], 'document', { pruning: { topK: 5 } });
      expect(d!.indices.length).toBe(12); // package: top_k 12 (min_weight 0.05)
      expect(q!.indices.length).toBe(3); // override
      expect(raw!.indices.length).toBe(16); // the graph's k
      expect(call!.indices.length).toBe(5);
      // the pruned vector is the heaviest part of the raw one
      const rawMap = new Map([...raw!.indices].map((id, i) => [id, raw!.values[i]!]));
      for (const [i, id] of [...d!.indices].entries()) expect(rawMap.get(id)).toBeCloseTo(d!.values[i]!, 6);
    } finally {
      await enc.close();
    }
  });

  it('splits long documents into passages and max-pools them', async () => {
    // the fixture graph is position-independent, so max-pooling passages equals pooling the whole
    // text at once: compare with a package whose max_length fits the whole text
    const long = Array.from({ length: 120 }, (_, i) => `term${i}`).join(' ');
    const pooled = { kind: 'pooled', weights: 'weights' };
    const short = graphVariant('pooled.onnx', pooled);
    const wide = tinyVariant((m) => {
      m.max_length.document = 2048;
      for (const mode of ['document', 'query']) m.graphs[mode] = { file: 'pooled.onnx', inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', token_type_ids: null }, output: pooled };
    });
    const enc = await createEncoder({ modelDir: short, workers, threads: 2, long: 'passages', passageOverlap: 4 });
    const ref = await createEncoder({ modelDir: wide, workers: 0, threads: 1 });
    try {
      const [v] = await enc.encode([long], 'document', { raw: true });
      const [whole] = await ref.encode([long], 'document', { raw: true });
      expect(plain(v!)).toEqual(plain(whole!));
      const s = enc.stats();
      expect(s.truncated).toBe(1);
      expect(s.passages).toBeGreaterThan(1);
      // truncating instead keeps only the first window: a subset
      const [t] = await enc.encode([long], 'document', { raw: true, long: 'truncate' });
      expect(t!.indices.length).toBeLessThan(v!.indices.length);
      const ids = new Set(v!.indices);
      for (const id of t!.indices) expect(ids.has(id)).toBe(true);
      // queries are never split
      await enc.encode([long], 'query');
      expect(enc.stats().passages).toBe(s.passages);
    } finally {
      await enc.close();
      await ref.close();
    }
  });

  it('has concept labels and the model identity', () => {
    expect(shared.label(7)).toBe('concept-7');
    expect(shared.label(999)).toBeUndefined();
    expect(shared.model).toEqual({ name: 'tiny-fixture', version: '0.0.1', dictionarySize: 64 });
  });
});

describe('output kinds', () => {
  it('topk, pooled and token graphs give the same vectors (the runtime pools token activations)', async () => {
    const texts = TEXTS.concat(['word '.repeat(50)]);
    const topk = await createEncoder({ modelDir: graphVariant('query.onnx', { kind: 'topk', indices: 'indices', values: 'values', k: 16 }), threads: 1, batchSize: 3 });
    const pooled = await createEncoder({ modelDir: graphVariant('pooled.onnx', { kind: 'pooled', weights: 'weights' }), threads: 1, batchSize: 3 });
    const token = await createEncoder({ modelDir: graphVariant('token.onnx', { kind: 'token', activations: 'activations' }), threads: 1, batchSize: 3 });
    try {
      const p = await pooled.encode(texts, 'document', { raw: true });
      const t = await token.encode(texts, 'document', { raw: true });
      const k = await topk.encode(texts, 'document', { raw: true });
      const pk = await pooled.encode(texts, 'document', { pruning: { topK: 16 }, raw: false });
      for (let i = 0; i < texts.length; i++) {
        expect(t[i]!.indices).toEqual(p[i]!.indices);
        for (let j = 0; j < p[i]!.values.length; j++) expect(t[i]!.values[j]).toBeCloseTo(p[i]!.values[j]!, 5);
        // the in-graph top-16 equals the runtime's top-16 of the pooled weights (package min_weight 0.05 drops nothing here)
        expect(plain(k[i]!)).toEqual(plain(pk[i]!));
      }
    } finally {
      await Promise.all([topk.close(), pooled.close(), token.close()]);
    }
  });
});

describe('devices and options', () => {
  it('falls back to CPU when the CUDA provider is missing, and still encodes', async () => {
    const enc = await createEncoder({ modelDir: TINY_MODEL, device: 'cuda:0', threads: 1 });
    try {
      expect(['cpu', 'cuda:0']).toContain(enc.device);
      expect(await checkGolden(enc, golden)).toEqual([]);
    } finally {
      await enc.close();
    }
  });

  it('rejects a bad device and bad options', async () => {
    await expect(createEncoder({ modelDir: TINY_MODEL, device: 'tpu' })).rejects.toThrow(/device must be cpu, cuda or cuda:N/);
    await expect(createEncoder({ modelDir: TINY_MODEL, long: 'split' as never })).rejects.toThrow(/long must be/);
    await expect(createEncoder({ modelDir: TINY_MODEL, pruning: { document: { mass: 2 } } })).rejects.toThrow(/mass/);
  });

  it('refuses calls after close', async () => {
    const enc = await createEncoder({ modelDir: TINY_MODEL, threads: 1 });
    await enc.close();
    await expect(enc.encode(['x'], 'document')).rejects.toThrow(/closed/);
  });

  it('worker pool spreads concurrent calls over its workers', async () => {
    const enc = await createEncoder({ modelDir: TINY_MODEL, workers: 2, threads: 2, batchSize: 2 });
    try {
      const calls = await Promise.all([0, 1, 2, 3].map((k) => enc.encode(TEXTS.map((t) => `${t} ${k}`), 'document')));
      const local = await createEncoder({ modelDir: TINY_MODEL, threads: 1 });
      const ref = await Promise.all([0, 1, 2, 3].map((k) => local.encode(TEXTS.map((t) => `${t} ${k}`), 'document')));
      await local.close();
      expect(calls.map((c) => c.map(plain))).toEqual(ref.map((c) => c.map(plain)));
      expect(enc.stats().texts).toBe(4 * TEXTS.length);
    } finally {
      await enc.close();
    }
  });
});
