import path from 'node:path';
import type { Logger } from 'pino';
import type { SparseVector } from '../sparse.js';
import { loadModelPackage, type ModelPackage } from './package.js';
import { maxPool, mergePruning, prune, validatePruning, emptyVector, type Pruning } from './prune.js';
import { batchDependence, checkGraph, defaultThreads, GraphRunner, openSession } from './session.js';
import { TableQueryEncoder } from './table-encoder.js';
import { TextTokenizer } from './tokenize.js';
import type { EncodeCallOptions, EncodeMode, EncodeStats, Encoder, LongTextMode, ModelIdentity } from './types.js';

export interface LocalEncoderOptions {
  /** Model package directory. */
  modelDir: string;
  /** `cpu` (default), `cuda` or `cuda:N`; cuda falls back to cpu with a warning when unavailable. */
  device?: string;
  /** onnxruntime intraOpNumThreads (default: os.availableParallelism()). */
  threads?: number;
  /**
   * Texts per forward pass (default 8: small batches win on CPU; but 1 for a graph whose outputs
   * depend on the batch, see `batchDependence`, so that a text always gets the same vector).
   */
  batchSize?: number;
  /** Documents longer than max_length.document: `truncate` (default) or split into `passages` and max-pooled. */
  long?: LongTextMode;
  /** Content tokens shared by consecutive passages (default: max_length.document / 8). */
  passageOverlap?: number;
  /** At most this many passages per document (default 32); the rest is dropped and counted as truncated. */
  maxPassages?: number;
  /** Pruning overrides per mode, on top of the package's defaults. */
  pruning?: Partial<Record<EncodeMode, Pruning>>;
  log?: Logger;
}

export function newStats(): Required<EncodeStats> {
  return { texts: 0, tokens: 0, truncated: 0, passages: 0, empty: 0, batches: 0, modelMs: 0 };
}

export function addStats(into: Required<EncodeStats>, d: EncodeStats): void {
  into.texts += d.texts;
  into.tokens += d.tokens;
  into.truncated += d.truncated;
  into.passages += d.passages;
  into.empty += d.empty ?? 0;
  into.batches += d.batches ?? 0;
  into.modelMs += d.modelMs ?? 0;
}

export function packagePruning(pkg: ModelPackage, mode: EncodeMode): Pruning {
  const p = pkg.manifest.pruning[mode];
  return { topK: p.top_k, minWeight: p.min_weight, mass: p.mass, maxRatio: p.max_ratio };
}

/** The encoder pipeline in the calling thread: one ONNX session per graph, reused. */
export class LocalEncoder implements Encoder {
  readonly model: ModelIdentity;
  /** The device the sessions actually use (`cpu` after a cuda fallback). */
  device = 'cpu';
  private readonly tok: TextTokenizer;
  private readonly runners = {} as Record<EncodeMode, GraphRunner>;
  private readonly counters = newStats();
  private readonly pruning: Record<EncodeMode, Pruning>;
  /** Texts per forward pass in use. */
  readonly batchSize: number;
  /** Why vectors depend on batch composition (int8 dynamic quantization), or undefined. */
  readonly batchDependence?: string;
  private readonly long: LongTextMode;
  private readonly overlap: number;
  private readonly maxPassages: number;
  private queue: Promise<unknown> = Promise.resolve();
  private tables: TableQueryEncoder | undefined;
  private closed = false;

  private constructor(
    readonly pkg: ModelPackage,
    private readonly opts: LocalEncoderOptions,
  ) {
    this.model = pkg.identity;
    this.tok = new TextTokenizer(pkg.tokenizerJson);
    this.batchDependence = batchDependence(pkg.graphFile.document) ?? (pkg.graphFile.query !== pkg.graphFile.document ? batchDependence(pkg.graphFile.query) : undefined);
    if (this.batchDependence && opts.batchSize === undefined) {
      this.batchSize = 1;
      opts.log?.debug(`encoder batch size 1: ${this.batchDependence}`);
    } else {
      this.batchSize = Math.max(1, Math.floor(opts.batchSize ?? 8));
      if (this.batchDependence && this.batchSize > 1)
        opts.log?.warn(`encoder batch size ${this.batchSize}: vectors will depend on batch composition: ${this.batchDependence}`);
    }
    this.long = opts.long ?? 'truncate';
    if (this.long !== 'truncate' && this.long !== 'passages') throw new RangeError(`long must be truncate or passages, got '${String(this.long)}'`);
    this.overlap = opts.passageOverlap ?? Math.floor(pkg.manifest.max_length.document / 8);
    this.maxPassages = Math.max(1, opts.maxPassages ?? 32);
    this.pruning = {
      document: validatePruning(mergePruning(packagePruning(pkg, 'document'), opts.pruning?.document)),
      query: validatePruning(mergePruning(packagePruning(pkg, 'query'), opts.pruning?.query)),
    };
  }

  /** Loads and validates the package and opens (and checks) its graph sessions. */
  static async create(opts: LocalEncoderOptions): Promise<LocalEncoder> {
    const pkg = loadModelPackage(opts.modelDir);
    const enc = new LocalEncoder(pkg, opts);
    const manifestFile = path.join(pkg.dir, 'manifest.json');
    const sessOpts = { device: opts.device, threads: opts.threads ?? defaultThreads(), log: opts.log };
    const doc = await openSession(pkg.graphFile.document, sessOpts);
    try {
      checkGraph(doc.session, pkg.graph.document, pkg.identity.dictionarySize, pkg.graphFile.document, manifestFile, 'graphs.document');
      enc.device = doc.device;
      enc.runners.document = new GraphRunner(doc.session, pkg.graph.document, pkg.identity.dictionarySize, pkg.graphFile.document);
      if (pkg.manifest.graphs.query && (pkg.graphFile.query !== pkg.graphFile.document || JSON.stringify(pkg.graph.query) !== JSON.stringify(pkg.graph.document))) {
        // after a cuda fallback, the query graph goes straight to the device the document graph got
        const q = pkg.graphFile.query === pkg.graphFile.document ? doc : await openSession(pkg.graphFile.query, { ...sessOpts, device: doc.device });
        try {
          checkGraph(q.session, pkg.graph.query, pkg.identity.dictionarySize, pkg.graphFile.query, manifestFile, 'graphs.query');
        } catch (e) {
          if (q !== doc) await q.session.release().catch(() => undefined);
          throw e;
        }
        enc.runners.query = new GraphRunner(q.session, pkg.graph.query, pkg.identity.dictionarySize, pkg.graphFile.query);
      } else {
        enc.runners.query = enc.runners.document;
      }
    } catch (e) {
      await doc.session.release().catch(() => undefined);
      throw e;
    }
    opts.log?.debug({ model: pkg.identity, device: enc.device, threads: sessOpts.threads, batchSize: enc.batchSize, long: enc.long }, 'encoder ready');
    return enc;
  }

  /** The effective pruning per mode (package defaults + overrides). */
  pruningFor(mode: EncodeMode): Pruning {
    return { ...this.pruning[mode] };
  }

  get tokenizer(): TextTokenizer {
    return this.tok;
  }

  label(conceptId: number): string | undefined {
    return this.pkg.labels?.[conceptId];
  }

  stats(): Required<EncodeStats> {
    return { ...this.counters };
  }

  encode(texts: string[], mode: EncodeMode, call: EncodeCallOptions = {}): Promise<SparseVector[]> {
    if (this.closed) return Promise.reject(new Error('encoder is closed'));
    if (mode !== 'document' && mode !== 'query') return Promise.reject(new RangeError(`mode must be document or query, got '${String(mode)}'`));
    if (call.inferenceFree) {
      if (mode !== 'query') return Promise.reject(new RangeError('inferenceFree applies to query mode only'));
      // No graph run: not queued behind the forward passes.
      this.tables ??= new TableQueryEncoder(this.pkg, this.tok, this.pruning.query);
      return Promise.resolve().then(() => this.tables!.encode(texts, call, this.counters));
    }
    // one forward pass at a time: the session already uses all its threads
    const run = this.queue.then(() => this.encodeNow(texts, mode, call));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Raw pooled vectors (no pruning) for ready-made model inputs: token id lists that already carry
   * the special tokens and fit max_length[mode]. For tests and tools (e.g. checking passages).
   */
  encodeTokenIds(batch: number[][], mode: EncodeMode): Promise<SparseVector[]> {
    const max = this.pkg.manifest.max_length[mode];
    for (const ids of batch) if (ids.length === 0 || ids.length > max) return Promise.reject(new RangeError(`token id lists must have 1..${max} ids`));
    const run = this.queue.then(async () => {
      const out: SparseVector[] = [];
      for (let s = 0; s < batch.length; s += this.batchSize)
        for (const v of await this.runners[mode].run(batch.slice(s, s + this.batchSize))) out.push(prune(v.indices, v.values, {}));
      return out;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Encodes and returns the stats of this call alone (used by the worker pool). */
  async encodeWithStats(texts: string[], mode: EncodeMode, call: EncodeCallOptions = {}): Promise<{ vectors: SparseVector[]; stats: Required<EncodeStats> }> {
    const before = this.stats();
    const vectors = await this.encode(texts, mode, call);
    const after = this.stats();
    const d = newStats();
    for (const k of Object.keys(d) as (keyof typeof d)[]) d[k] = after[k] - before[k];
    return { vectors, stats: d };
  }

  private async encodeNow(texts: string[], mode: EncodeMode, call: EncodeCallOptions): Promise<SparseVector[]> {
    const maxLen = this.pkg.manifest.max_length[mode];
    const split = mode === 'document' && (call.long ?? this.long) === 'passages';
    const units: { text: number; ids: number[] }[] = [];
    const perText: number[] = new Array(texts.length).fill(0);
    const st = this.counters;
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw new TypeError(`texts[${i}] is not a string`);
      st.texts++;
      if (split) {
        const p = this.tok.passages(t, maxLen, { overlap: this.overlap, maxPassages: this.maxPassages });
        if (p.fullLength > maxLen) st.truncated++;
        if (p.passages.length > 1) st.passages += p.passages.length;
        for (const ids of p.passages) units.push({ text: i, ids });
        perText[i] = p.passages.length;
      } else {
        const e = this.tok.encode(t, maxLen);
        if (e.truncated) st.truncated++;
        if (e.ids.length > 0) units.push({ text: i, ids: e.ids });
        perText[i] = e.ids.length > 0 ? 1 : 0;
      }
      if (perText[i] === 0) st.empty++;
    }
    // length bucketing: sort by token length, run in batches, put results back per text
    const order = units.map((_, i) => i).sort((a, b) => units[a]!.ids.length - units[b]!.ids.length || a - b);
    const raw: SparseVector[] = new Array(units.length);
    const runner = this.runners[mode];
    for (let s = 0; s < order.length; s += this.batchSize) {
      const idx = order.slice(s, s + this.batchSize);
      const batch = idx.map((u) => units[u]!.ids);
      const t0 = performance.now();
      const out = await runner.run(batch);
      const ms = performance.now() - t0;
      st.batches++;
      st.modelMs += ms;
      let tokens = 0;
      for (const b of batch) tokens += b.length;
      st.tokens += tokens;
      idx.forEach((u, j) => (raw[u] = out[j]!));
      this.opts.log?.debug({ mode, size: batch.length, maxTokens: batch[batch.length - 1]!.length, tokens, ms: Math.round(ms) }, 'encoder batch');
    }
    const pruning = call.pruning ? validatePruning(mergePruning(this.pruning[mode], call.pruning)) : this.pruning[mode];
    const byText: SparseVector[][] = texts.map(() => []);
    units.forEach((u, i) => byText[u.text]!.push(raw[i]!));
    return byText.map((vs) => {
      if (vs.length === 0) return emptyVector();
      const pooled = maxPool(vs);
      return call.raw ? prune(pooled.indices, pooled.values, {}) : prune(pooled.indices, pooled.values, pruning);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    const sessions = new Set([this.runners.document?.session, this.runners.query?.session]);
    for (const s of sessions) await s?.release();
  }
}
