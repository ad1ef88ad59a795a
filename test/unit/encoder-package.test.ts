import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEncoder, ModelPackageError } from '../../src/encoder/index.js';
import { loadModelPackage } from '../../src/encoder/package.js';
import { batchDependence } from '../../src/encoder/session.js';
import { cleanupFixtures, TINY_MODEL, tinyVariant } from '../helpers/encoder-fixture.js';

afterAll(cleanupFixtures);

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<ModelPackageError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelPackageError);
    return e as ModelPackageError;
  }
  throw new Error('expected a ModelPackageError');
}

describe('model package loading', () => {
  it('loads the fixture package: identity, graphs, labels', () => {
    const pkg = loadModelPackage(TINY_MODEL);
    expect(pkg.identity).toEqual({ name: 'tiny-fixture', version: '0.0.1', dictionarySize: 64 });
    expect(pkg.labels?.[3]).toBe('concept-3');
    expect(path.basename(pkg.graphFile.query)).toBe('query.onnx');
    expect(pkg.manifest.graphs.query?.inputs.token_type_ids).toBeNull();
  });

  it('refuses a missing directory', async () => {
    const e = await refusal(() => loadModelPackage('/nonexistent/model'));
    expect(e.message).toMatch(/\/nonexistent\/model: model package directory not found/);
  });

  it('refuses a manifest that is not JSON, naming the file', async () => {
    const dir = tinyVariant('{ "format": "sae-splade-model/1", ');
    const e = await refusal(() => loadModelPackage(dir));
    expect(e.message).toMatch(/manifest\.json: manifest is not valid JSON/);
    expect(e.file).toBe(path.join(dir, 'manifest.json'));
  });

  it('refuses an invalid manifest, listing each bad key', async () => {
    const dir = tinyVariant((m) => {
      m.format = 'something/2';
      m.dictionary_size = -1;
      m.graphs.document.output = { kind: 'dense', weights: 'w' };
      delete m.max_length.query;
    });
    const e = await refusal(() => loadModelPackage(dir));
    expect(e.message).toMatch(/manifest\.json: invalid manifest/);
    expect(e.message).toMatch(/format:/);
    expect(e.message).toMatch(/dictionary_size:/);
    expect(e.message).toMatch(/graphs\.document\.output/);
    expect(e.message).toMatch(/max_length\.query:/);
  });

  it('refuses paths that leave the package', async () => {
    const e = await refusal(() => loadModelPackage(tinyVariant((m) => (m.tokenizer = '../tokenizer.json'))));
    expect(e.message).toMatch(/tokenizer: must be a path inside the package/);
  });

  it('refuses a topk k larger than the dictionary', async () => {
    const e = await refusal(() => loadModelPackage(tinyVariant((m) => (m.graphs.document.output.k = 65))));
    expect(e.message).toMatch(/graphs\.document\.output\.k: k = 65 exceeds dictionary_size = 64/);
  });

  it('refuses a missing graph file, naming the key and the file', async () => {
    const dir = tinyVariant(undefined, ['query.onnx']);
    const e = await refusal(() => loadModelPackage(dir));
    expect(e.message).toMatch(/manifest\.json: graphs\.query\.file = 'query\.onnx' but .*query\.onnx does not exist/);
  });

  it('refuses a missing tokenizer and a tokenizer that is not one', async () => {
    let e = await refusal(() => loadModelPackage(tinyVariant(undefined, ['tokenizer.json'])));
    expect(e.message).toMatch(/tokenizer = 'tokenizer\.json' but .* does not exist/);
    e = await refusal(() => loadModelPackage(tinyVariant((m) => (m.tokenizer = 'concepts.json'))));
    expect(e.message).toMatch(/concepts\.json: not a Hugging Face tokenizer\.json/);
  });

  it('refuses concepts.json with the wrong number of labels', async () => {
    const e = await refusal(() => loadModelPackage(tinyVariant((m) => (m.dictionary_size = 32))));
    expect(e.message).toMatch(/concepts\.json: 64 labels but dictionary_size = 32/);
  });

  it('works without concepts.json: no labels', async () => {
    const enc = await createEncoder({ modelDir: tinyVariant((m) => delete m.concepts, ['concepts.json']), threads: 1 });
    expect(enc.label(3)).toBeUndefined();
    await enc.close();
  });
});

describe('graph checks against the manifest', () => {
  it('refuses a graph whose outputs have other names', async () => {
    const dir = tinyVariant((m) => (m.graphs.document.file = 'wrong-outputs.onnx'));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/manifest\.json: graphs\.document\.output\.indices = 'indices' but .*wrong-outputs\.onnx outputs \[idx, vals\]/);
  });

  it('refuses a manifest input the graph does not take', async () => {
    const dir = tinyVariant((m) => (m.graphs.query.inputs.token_type_ids = 'token_type_ids'));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/graphs\.query\.inputs\.token_type_ids = 'token_type_ids' but .*query\.onnx takes inputs \[input_ids, attention_mask\]/);
  });

  it('refuses a graph input the manifest does not feed', async () => {
    const dir = tinyVariant((m) => (m.graphs.document.inputs.token_type_ids = null));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/document\.onnx takes inputs \[input_ids, attention_mask, token_type_ids\] but graphs\.document\.inputs feeds only \[input_ids, attention_mask\]/);
  });

  it('refuses an output kind the graph does not have', async () => {
    const dir = tinyVariant((m) => (m.graphs.document.output = { kind: 'pooled', weights: 'weights' }));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/graphs\.document\.output\.weights = 'weights' but .*document\.onnx outputs \[indices, values\]/);
  });

  it('refuses a topk k that differs from the graph', async () => {
    const dir = tinyVariant((m) => (m.graphs.document.output.k = 8));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/graphs\.document\.output k = 8 but .*document\.onnx output 'indices' has dimension 16/);
  });

  it('refuses a pooled graph of another dictionary size', async () => {
    const dir = tinyVariant((m) => {
      m.dictionary_size = 128;
      delete m.concepts;
      m.graphs.document = { file: 'pooled.onnx', inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', token_type_ids: null }, output: { kind: 'pooled', weights: 'weights' } };
      delete m.graphs.query;
    });
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/dictionary_size = 128 but .*pooled\.onnx output 'weights' has dimension 64/);
  });

  it('refuses a file that is not an ONNX graph', async () => {
    const dir = tinyVariant((m) => (m.graphs.document.file = 'broken.onnx'));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1 }));
    expect(e.message).toMatch(/broken\.onnx: onnxruntime cannot load this graph/);
  });

  it('refuses a broken package in worker-pool mode too, with the same error type', async () => {
    const dir = tinyVariant((m) => (m.graphs.document.file = 'wrong-outputs.onnx'));
    const e = await refusal(createEncoder({ modelDir: dir, threads: 1, workers: 1 }));
    expect(e.message).toMatch(/outputs \[idx, vals\]/);
  });
});

describe('batch dependence', () => {
  it('flags graphs with int8 dynamic quantization, whose outputs depend on the batch', async () => {
    expect(batchDependence(path.join(TINY_MODEL, 'document.onnx'))).toBeUndefined();
    const dir = tinyVariant();
    const fake = path.join(dir, 'q.onnx');
    writeFileSync(fake, Buffer.concat([Buffer.from([8, 8, 18]), Buffer.from('DynamicQuantizeLinear'), Buffer.from([0, 1])]));
    expect(batchDependence(fake)).toMatch(/q\.onnx uses DynamicQuantizeLinear/);
    const enc = await createEncoder({ modelDir: TINY_MODEL, threads: 1 });
    expect((enc as unknown as { batchSize: number }).batchSize).toBe(8);
    await enc.close();
  });
});
