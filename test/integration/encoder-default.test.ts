/**
 * The encoder runtime against the real default model package (models/default/, built by model/):
 * golden vectors computed in Python, in-process and in a worker pool; empty text; truncation;
 * passages. The package is committed, so a missing one fails here rather than skipping.
 * SAESPLADE_DEVICE=cuda runs the same checks on the GPU (see docs/GPU.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, PACKAGE_ROOT } from '../../src/config.js';
import { checkGolden, createEncoder, LocalEncoder, loadModelPackage, readGolden, type Encoder } from '../../src/encoder/index.js';

const present = existsSync(path.join(DEFAULT_MODEL_DIR, 'manifest.json'));
it('the default model package is present', () => expect(present, `${DEFAULT_MODEL_DIR}/manifest.json`).toBe(true));
const device = process.env.SAESPLADE_DEVICE ?? 'cpu';

/** The bundled SciFact sample: real abstracts, most longer than the model's 256 tokens. */
const SAMPLE = path.join(PACKAGE_ROOT, 'samples/scifact-mini/corpus.jsonl');
function longText(): string {
  const lines = readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 200).filter(Boolean);
  const docs = lines.map((l) => JSON.parse(l) as { title: string; text: string }).map((d) => `${d.title}\n${d.text}`);
  return docs.sort((a, b) => b.length - a.length).slice(0, 3).join('\n');
}

describe.skipIf(!present)('default model package', () => {
  const pkg = present ? loadModelPackage(DEFAULT_MODEL_DIR) : undefined;
  const golden = pkg ? readGolden(pkg) : undefined;

  it('has golden vectors', () => {
    expect(golden?.cases.length ?? 0).toBeGreaterThan(0);
  });

  describe.each([0, 2])('workers=%i', (workers) => {
    let enc: Encoder;
    beforeAll(async () => {
      enc = await createEncoder({ modelDir: DEFAULT_MODEL_DIR, workers, threads: 2, device });
    });
    afterAll(() => enc?.close());

    it('matches the Python golden vectors within the stated tolerance', async () => {
      const failures = await checkGolden(enc, golden!);
      expect(failures.map((f) => ({ text: f.case.text.slice(0, 60), mode: f.case.mode, problems: f.problems.slice(0, 5) }))).toEqual([]);
    });

    it('gives valid vectors within the package pruning, and empty ones for text without content', async () => {
      const texts = ['', '  ', '?!...', 'The heart pumps blood through the arteries.', longText()];
      for (const mode of ['document', 'query'] as const) {
        const vs = await enc.encode(texts, mode);
        expect(vs.slice(0, 3).every((v) => v.indices.length === 0)).toBe(true);
        const topK = pkg!.manifest.pruning[mode].top_k;
        for (const v of vs.slice(3)) {
          expect(v.indices.length).toBeGreaterThan(0);
          if (topK) expect(v.indices.length).toBeLessThanOrEqual(topK);
          for (let j = 0; j < v.indices.length; j++) {
            expect(v.indices[j]!).toBeLessThan(pkg!.identity.dictionarySize);
            if (j) expect(v.indices[j]!).toBeGreaterThan(v.indices[j - 1]!);
            expect(v.values[j]! > 0 && Number.isFinite(v.values[j]!)).toBe(true);
          }
        }
      }
    });

    it('counts truncation of long documents', async () => {
      const before = enc.stats().truncated;
      await enc.encode([longText()], 'document');
      expect(enc.stats().truncated).toBe(before + 1);
    });
  });

  it('gives a text the same vector whatever it is batched with', async () => {
    // the preliminary package is int8 dynamically quantized: batch-dependent, so the runtime
    // defaults to batch size 1 for it (see batchDependence in src/encoder/session.ts)
    const enc = await LocalEncoder.create({ modelDir: DEFAULT_MODEL_DIR, threads: 2, device });
    try {
      if (enc.batchDependence) expect(enc.batchSize).toBe(1);
      const text = 'Microstructural development of human newborn cerebral white matter assessed by diffusion imaging.';
      const [alone] = await enc.encode([text], 'document');
      const mixed = await enc.encode(['time sharing operating system', text, longText(), 'heart attack risk'], 'document');
      expect([...mixed[1]!.indices]).toEqual([...alone!.indices]);
      expect([...mixed[1]!.values]).toEqual([...alone!.values]);
    } finally {
      await enc.close();
    }
  });

  it('splits a long document into passages whose concepts all appear in the max-pooled vector', async () => {
    const enc = await LocalEncoder.create({ modelDir: DEFAULT_MODEL_DIR, threads: 2, device, long: 'passages' });
    try {
      const text = longText();
      const max = pkg!.manifest.max_length.document;
      const [pooled] = await enc.encode([text], 'document', { raw: true });
      const st = enc.stats();
      expect(st.passages).toBeGreaterThan(1);
      const { passages } = enc.tokenizer.passages(text, max, { overlap: Math.floor(max / 8), maxPassages: 32 });
      expect(passages.length).toBe(st.passages);
      const each = await enc.encodeTokenIds(passages, 'document');
      const m = new Map([...pooled!.indices].map((id, i) => [id, pooled!.values[i]!]));
      for (const v of each) {
        v.indices.forEach((id, i) => {
          expect(m.has(id)).toBe(true);
          expect(m.get(id)!).toBeGreaterThanOrEqual(v.values[i]! - 1e-6);
        });
      }
      // and it holds more than the first passage alone (what truncation keeps)
      expect(pooled!.indices.length).toBeGreaterThan(each[0]!.indices.length);
    } finally {
      await enc.close();
    }
  });
});
