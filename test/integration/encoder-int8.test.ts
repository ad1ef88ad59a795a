/**
 * The opt-in int8 package (models/int8: the default's weights with int8 compute, one activation scale per
 * token; docs/ENCODER.md) in the real runtime: it loads (onnxruntime's com.microsoft MatMulIntegerToFloat),
 * a text's vector does not depend on its batch mates, and it computes the default's model (vectors close to
 * the default's). Its golden vectors are not checked here: they hold only on the CPU kernel family that made
 * them (AVX2), which is why it is not the default.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, PACKAGE_ROOT } from '../../src/config.js';
import { sparseCosine } from '../../src/encoder/golden.js';
import { createEncoder, LocalEncoder, type Encoder } from '../../src/encoder/index.js';
import type { SparseVector } from '../../src/sparse.js';

const INT8_DIR = path.join(PACKAGE_ROOT, 'models/int8');
const TEXTS = readFileSync(path.join(PACKAGE_ROOT, 'samples/scifact-mini/corpus.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, 12)
  .map((l) => JSON.parse(l) as { title: string; text: string })
  .map((d) => `${d.title} ${d.text}`);

function maxDiff(a: SparseVector, b: SparseVector): number {
  const m = new Map<number, number>();
  a.indices.forEach((i, k) => m.set(i, a.values[k]!));
  let d = 0;
  b.indices.forEach((i, k) => {
    d = Math.max(d, Math.abs((m.get(i) ?? 0) - b.values[k]!));
    m.delete(i);
  });
  for (const v of m.values()) d = Math.max(d, Math.abs(v));
  return d;
}

describe('models/int8', () => {
  let one: Encoder;
  let eight: Encoder;
  let fp32: Encoder;
  beforeAll(async () => {
    one = await createEncoder({ modelDir: INT8_DIR, batchSize: 1, threads: 2 });
    eight = await createEncoder({ modelDir: INT8_DIR, batchSize: 8, threads: 2 });
    fp32 = await createEncoder({ modelDir: DEFAULT_MODEL_DIR, batchSize: 8, threads: 2 });
  });
  afterAll(async () => {
    await Promise.all([one?.close(), eight?.close(), fp32?.close()]);
  });

  it('is the default model in int8 compute, not batch-dependent', () => {
    expect(one.model.version).toBe('2.0.0-int8');
    expect(one.model.name).toBe(fp32.model.name);
    expect(one).toBeInstanceOf(LocalEncoder);
    expect((one as LocalEncoder).batchDependence).toBeUndefined();
  });

  it('gives a text the same vector alone and in a batch of 8', async () => {
    const alone = await one.encode(TEXTS, 'document');
    const batched = await eight.encode(TEXTS, 'document');
    alone.forEach((v, i) => {
      expect(v.indices.length).toBeGreaterThan(100);
      expect(maxDiff(v, batched[i]!), `text ${i}`).toBeLessThanOrEqual(1e-6);
    });
  });

  it("stays close to the default graph's vectors (the same weights in fp32 compute)", async () => {
    const a = await eight.encode(TEXTS, 'document');
    const b = await fp32.encode(TEXTS, 'document');
    const cos = a.map((v, i) => sparseCosine(v, b[i]!));
    const mean = cos.reduce((s, x) => s + x, 0) / cos.length;
    // measured 0.97-0.98 on cacm documents (docs/ENCODER.md); an unrelated model gives about 0
    expect(mean).toBeGreaterThan(0.9);
    expect(Math.min(...cos)).toBeGreaterThan(0.8);
  });
});
