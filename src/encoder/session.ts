import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { SparseVector } from '../sparse.js';
import { ModelPackageError } from './errors.js';
import type { GraphSpec } from './manifest.js';
import { displayPath } from './package.js';

export interface SessionOptions {
  /** `cpu`, `cuda` or `cuda:N` (default cpu). */
  device?: string;
  /** intraOpNumThreads (default: os.availableParallelism()). */
  threads?: number;
  log?: Logger;
}

export function parseDevice(device: string | undefined): { kind: 'cpu' } | { kind: 'cuda'; id: number } {
  const d = device ?? 'cpu';
  if (d === 'cpu') return { kind: 'cpu' };
  const m = /^cuda(?::(\d+))?$/.exec(d);
  if (!m) throw new RangeError(`device must be cpu, cuda or cuda:N, got '${d}'`);
  return { kind: 'cuda', id: m[1] ? Number(m[1]) : 0 };
}

export function defaultThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Where onnxruntime-node looks for the CUDA provider libraries (next to onnxruntime_binding.node). */
export function ortBinDir(): string {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    return path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return 'node_modules/onnxruntime-node/bin/napi-v6/<platform>/<arch>';
  }
}

export function gpuHelp(): string {
  return (
    `the CUDA execution provider could not be loaded: onnxruntime-node needs libonnxruntime_providers_cuda.so and ` +
    `libonnxruntime_providers_shared.so in ${path.normalize(ortBinDir())}, and the CUDA 12 + cuDNN 9 libraries on the ` +
    `library path (see docs/GPU.md). Falling back to CPU.`
  );
}

/** Opens an ONNX session; for cuda, falls back to CPU with a warning when the CUDA provider cannot load. */
export async function openSession(file: string, opts: SessionOptions = {}): Promise<{ session: ort.InferenceSession; device: string }> {
  const dev = parseDevice(opts.device);
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: Math.max(1, Math.floor(opts.threads ?? defaultThreads())),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // QDQ handling off: with it on, onnxruntime turns each weight-only DequantizeLinear -> MatMul into an
    // int8 kernel that quantizes activations on the fly with CPU-specific code, and AVX2 and AVX-512
    // machines then disagree by 2-4 % in the hidden states, enough to swap concepts at the per-token
    // top-k. Off, constant folding dequantizes the weights once at load and the MatMuls run in fp32: the
    // CPUs agree to ~1e-6 (docs/ENCODER.md, "Across machines"). `extra` reaches the native session config.
    extra: { session: { disable_quant_qdq: '1' } },
    // warnings such as "Removing initializer" are noise for users; errors still surface as exceptions
    logSeverityLevel: 3,
  };
  const create = async (eps: ort.InferenceSession.ExecutionProviderConfig[]) => {
    try {
      return await ort.InferenceSession.create(file, { ...base, executionProviders: eps });
    } catch (e) {
      throw e instanceof Error ? e : new Error(String(e));
    }
  };
  if (dev.kind === 'cuda') {
    try {
      const session = await create([{ name: 'cuda', deviceId: dev.id }, 'cpu']);
      return { session, device: `cuda:${dev.id}` };
    } catch (e) {
      const msg = `cannot use device cuda:${dev.id}: ${gpuHelp()}`;
      if (opts.log) opts.log.warn({ err: (e as Error).message, file: displayPath(file) }, msg);
      else process.emitWarning(`${msg} (${(e as Error).message})`);
    }
  }
  try {
    return { session: await create(['cpu']), device: 'cpu' };
  } catch (e) {
    throw new ModelPackageError(`${displayPath(file)}: onnxruntime cannot load this graph: ${(e as Error).message}`, file);
  }
}

function outputNamesOf(spec: GraphSpec): { key: string; name: string }[] {
  const o = spec.output;
  switch (o.kind) {
    case 'topk':
      return [
        { key: 'indices', name: o.indices },
        { key: 'values', name: o.values },
      ];
    case 'pooled':
      return [{ key: 'weights', name: o.weights }];
    case 'token':
      return [{ key: 'activations', name: o.activations }];
  }
}

function list(names: readonly string[]): string {
  return `[${names.join(', ')}]`;
}

/**
 * Checks a session's inputs and outputs against the manifest's graph entry. `where` is the manifest
 * key prefix (e.g. `graphs.document`) and `manifestFile` the manifest's path, for the message.
 */
export function checkGraph(session: ort.InferenceSession, spec: GraphSpec, dictionarySize: number, file: string, manifestFile: string, where: string): void {
  const gf = displayPath(file);
  const mf = displayPath(manifestFile);
  const fail = (msg: string) => {
    throw new ModelPackageError(`${mf}: ${msg}`, manifestFile);
  };
  const inputs = session.inputNames;
  const fed: string[] = [];
  for (const key of ['input_ids', 'attention_mask', 'token_type_ids'] as const) {
    const name = spec.inputs[key];
    if (name === null) continue;
    if (!inputs.includes(name)) fail(`${where}.inputs.${key} = '${name}' but ${gf} takes inputs ${list(inputs)}`);
    fed.push(name);
  }
  const unfed = inputs.filter((n) => !fed.includes(n));
  if (unfed.length > 0)
    fail(`${gf} takes inputs ${list(inputs)} but ${where}.inputs feeds only ${list(fed)} (missing: ${list(unfed)})`);
  for (const { key, name } of outputNamesOf(spec)) {
    if (!session.outputNames.includes(name))
      fail(`${where}.output.${key} = '${name}' but ${gf} outputs ${list(session.outputNames)}`);
  }
  // types and static shapes, where the graph declares them
  const meta = (names: readonly string[], md: readonly ort.InferenceSession.ValueMetadata[] | undefined, name: string) => {
    const i = names.indexOf(name);
    const m = md?.[i];
    return m && m.isTensor ? m : undefined;
  };
  for (const name of fed) {
    const m = meta(inputs, session.inputMetadata, name);
    if (m && m.type !== 'int64') fail(`${gf} input '${name}' is ${m.type}, the contract requires int64`);
  }
  const o = spec.output;
  const expectDim = (name: string, axis: number, want: number, what: string) => {
    const m = meta(session.outputNames, session.outputMetadata, name);
    const dim = m?.shape[axis];
    if (typeof dim === 'number' && dim !== want) fail(`${where}.output ${what} = ${want} but ${gf} output '${name}' has dimension ${dim}`);
  };
  const expectType = (name: string, types: string[]) => {
    const m = meta(session.outputNames, session.outputMetadata, name);
    if (m && !types.includes(m.type)) fail(`${gf} output '${name}' is ${m.type}, expected ${types.join(' or ')}`);
  };
  if (o.kind === 'topk') {
    expectDim(o.indices, 1, o.k, 'k');
    expectDim(o.values, 1, o.k, 'k');
    expectType(o.indices, ['int64', 'int32']);
    expectType(o.values, ['float32']);
  } else if (o.kind === 'pooled') {
    expectDim(o.weights, 1, dictionarySize, 'dictionary_size');
    expectType(o.weights, ['float32']);
  } else {
    expectDim(o.activations, 2, dictionarySize, 'dictionary_size');
    expectType(o.activations, ['float32']);
  }
}

/**
 * Why a graph's output for one text may depend on the other texts in its batch, or undefined.
 * ONNX Runtime's dynamic int8 quantization (`quantize_dynamic`: DynamicQuantizeLinear +
 * MatMulInteger) computes one activation scale over the whole input tensor, i.e. over every row
 * of the batch: the same document encodes differently next to different neighbours (measured on
 * the preliminary default package: mean cosine 0.85 between batch 1 and batch 8). The graph file
 * is scanned for the op name (protobuf stores op types as plain strings).
 */
export function batchDependence(file: string): string | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.includes('DynamicQuantizeLinear'))
    return `${displayPath(file)} uses DynamicQuantizeLinear (int8 dynamic quantization computes activation scales over the whole batch, so a text's vector depends on the texts batched with it)`;
  return undefined;
}

/** Runs a graph on a batch of token id lists (each already wrapped in specials and truncated). */
export class GraphRunner {
  constructor(
    readonly session: ort.InferenceSession,
    readonly spec: GraphSpec,
    readonly dictionarySize: number,
    readonly file: string,
  ) {}

  /** Raw pooled vectors (before pruning): entries with weight > 0, any order of rows preserved. */
  async run(batch: number[][]): Promise<{ indices: Uint32Array; values: Float32Array }[]> {
    const B = batch.length;
    const S = Math.max(...batch.map((b) => b.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    for (let r = 0; r < B; r++) {
      const row = batch[r]!;
      for (let t = 0; t < row.length; t++) {
        ids[r * S + t] = BigInt(row[t]!);
        mask[r * S + t] = 1n;
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      [this.spec.inputs.input_ids]: new ort.Tensor('int64', ids, [B, S]),
      [this.spec.inputs.attention_mask]: new ort.Tensor('int64', mask, [B, S]),
    };
    if (this.spec.inputs.token_type_ids) feeds[this.spec.inputs.token_type_ids] = new ort.Tensor('int64', new BigInt64Array(B * S), [B, S]);
    const o = this.spec.output;
    const fetch = o.kind === 'topk' ? [o.indices, o.values] : o.kind === 'pooled' ? [o.weights] : [o.activations];
    const out = await this.session.run(feeds, fetch);
    try {
      if (o.kind === 'topk') return decodeTopK(out[o.indices]!, out[o.values]!, B, this.dictionarySize, this.file);
      if (o.kind === 'pooled') return decodePooled(out[o.weights]!, B, this.dictionarySize, this.file);
      return decodeTokens(out[o.activations]!, batch, this.dictionarySize, this.file);
    } finally {
      for (const t of Object.values(out)) t.dispose?.();
    }
  }
}

function shapeError(file: string, msg: string): never {
  throw new ModelPackageError(`${displayPath(file)}: ${msg}`, file);
}

function decodeTopK(idxT: ort.OnnxValue, valT: ort.OnnxValue, B: number, D: number, file: string): SparseVector[] {
  const it = idxT as ort.Tensor;
  const vt = valT as ort.Tensor;
  if (it.dims.length !== 2 || it.dims[0] !== B || vt.dims[0] !== B || vt.dims[1] !== it.dims[1])
    shapeError(file, `topk outputs have shapes [${it.dims}] / [${vt.dims}], expected [${B}, k] both`);
  const k = it.dims[1]!;
  const idx = it.data as BigInt64Array | Int32Array;
  const val = vt.data as Float32Array;
  const res: SparseVector[] = [];
  for (let r = 0; r < B; r++) {
    const ii: number[] = [];
    const vv: number[] = [];
    const seen = new Set<number>();
    for (let j = 0; j < k; j++) {
      const v = val[r * k + j]!;
      if (!(v > 0) || !Number.isFinite(v)) continue; // zero = padding
      const id = Number(idx[r * k + j]!);
      if (id < 0 || id >= D) shapeError(file, `topk index ${id} outside the dictionary [0, ${D})`);
      if (seen.has(id)) continue;
      seen.add(id);
      ii.push(id);
      vv.push(v);
    }
    res.push({ indices: Uint32Array.from(ii), values: Float32Array.from(vv) });
  }
  return res;
}

function decodePooled(t: ort.OnnxValue, B: number, D: number, file: string): SparseVector[] {
  const w = t as ort.Tensor;
  if (w.dims.length !== 2 || w.dims[0] !== B || w.dims[1] !== D) shapeError(file, `pooled output has shape [${w.dims}], expected [${B}, ${D}]`);
  const data = w.data as Float32Array;
  const res: SparseVector[] = [];
  for (let r = 0; r < B; r++) {
    const ii: number[] = [];
    const vv: number[] = [];
    for (let c = 0; c < D; c++) {
      const v = data[r * D + c]!;
      if (v > 0 && Number.isFinite(v)) {
        ii.push(c);
        vv.push(v);
      }
    }
    res.push({ indices: Uint32Array.from(ii), values: Float32Array.from(vv) });
  }
  return res;
}

/** SPLADE pooling of per-token activations: max over unmasked tokens of log(1 + relu(x)). */
export function poolTokenActivations(data: Float32Array, lengths: number[], S: number, D: number): SparseVector[] {
  const res: SparseVector[] = [];
  const mx = new Float32Array(D);
  for (let r = 0; r < lengths.length; r++) {
    mx.fill(0);
    const len = lengths[r]!;
    for (let t = 0; t < len; t++) {
      const off = (r * S + t) * D;
      for (let c = 0; c < D; c++) {
        const v = data[off + c]!;
        if (v > mx[c]!) mx[c] = v;
      }
    }
    const ii: number[] = [];
    const vv: number[] = [];
    for (let c = 0; c < D; c++) {
      const v = mx[c]!;
      if (v > 0 && Number.isFinite(v)) {
        ii.push(c);
        vv.push(Math.log1p(v));
      }
    }
    res.push({ indices: Uint32Array.from(ii), values: Float32Array.from(vv) });
  }
  return res;
}

function decodeTokens(t: ort.OnnxValue, batch: number[][], D: number, file: string): SparseVector[] {
  const a = t as ort.Tensor;
  const B = batch.length;
  const S = Math.max(...batch.map((b) => b.length));
  if (a.dims.length !== 3 || a.dims[0] !== B || a.dims[1] !== S || a.dims[2] !== D)
    shapeError(file, `token output has shape [${a.dims}], expected [${B}, ${S}, ${D}]`);
  return poolTokenActivations(a.data as Float32Array, batch.map((b) => b.length), S, D);
}
