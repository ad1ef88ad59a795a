import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { log as defaultLog } from '../log.js';
import type { SparseVector } from '../sparse.js';
import { SaespladeError } from '../errors.js';
import { ModelPackageError } from './errors.js';
import { addStats, newStats, packagePruning, type LocalEncoderOptions } from './local.js';
import { loadModelPackage, type ModelPackage } from './package.js';
import { unpack, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';
import { defaultThreads } from './session.js';
import { TableQueryEncoder } from './table-encoder.js';
import type { EncodeCallOptions, EncodeMode, EncodeStats, Encoder, ModelIdentity } from './types.js';

export interface WorkerPoolOptions extends LocalEncoderOptions {
  /** Worker threads, each with its own ONNX session (default 1). */
  workers?: number;
  /** Total threads shared by the workers (default os.availableParallelism()); each gets threads / workers. */
  threads?: number;
}

/**
 * How to start the worker script. From the built package (dist/src/encoder/pool.js) it is the
 * sibling worker.js. From TypeScript sources (vitest, tsx) a worker thread cannot load .ts by
 * itself, and on Node 20 neither `--import tsx` in the worker's execArgv nor the parent's loader
 * hooks reach it; so the worker starts as a small eval'd script that loads worker.ts through tsx's
 * `tsImport` API (tsx is a dev dependency; the built package never needs it).
 */
export function workerEntry(): { script: URL | string; eval: boolean } {
  const self = import.meta.url;
  if (/\.ts$/.test(new URL(self).pathname)) {
    let api: string;
    try {
      // the "import" build of tsx/esm/api (require.resolve gives the .cjs one)
      api = createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
    } catch {
      throw new Error('running the encoder worker pool from TypeScript sources needs the dev dependency tsx (or run the built dist/)');
    }
    const target = new URL('./worker.ts', self).href;
    const code =
      `import(${JSON.stringify(pathToFileURL(api).href)})` +
      `.then((m) => m.tsImport(${JSON.stringify(target)}, ${JSON.stringify(self)}))` +
      `.catch((e) => { setImmediate(() => { throw e; }); });`;
    return { script: code, eval: true };
  }
  return { script: new URL('./worker.js', self), eval: false };
}

/** Every encoder thread is gone and none could be started again: encoding cannot go on in this process. */
export class EncoderUnavailableError extends SaespladeError {
  override name = 'EncoderUnavailableError';
}

interface Job {
  id: number;
  texts: string[];
  mode: EncodeMode;
  options?: EncodeCallOptions;
  resolve: (v: SparseVector[]) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Job;
}

/**
 * The encoder behind a pool of worker threads, so that tokenization and the forward pass never
 * block the caller's event loop. Texts of one call are sorted by length, cut into batches and
 * spread over the workers; results come back in input order.
 */
export class WorkerPoolEncoder implements Encoder {
  readonly model: ModelIdentity;
  device = 'cpu';
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private readonly counters = newStats();
  private nextId = 1;
  private closed = false;
  /** Set when the last thread is gone and could not be started again: calls fail at once with it. */
  private broken: Error | undefined;
  private tables: TableQueryEncoder | undefined;
  private init: WorkerInit | undefined;

  private constructor(
    readonly pkg: ModelPackage,
    private readonly batchSize: number,
    private readonly log?: Logger,
  ) {
    this.model = pkg.identity;
  }

  static async create(opts: WorkerPoolOptions): Promise<WorkerPoolEncoder> {
    const pkg = loadModelPackage(opts.modelDir); // fail fast, in the caller's thread, on a bad manifest
    const n = Math.max(1, Math.floor(opts.workers ?? 1));
    const total = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
    const perWorker = Math.max(1, Math.floor(total / n));
    // texts per job sent to a worker; the worker picks its own forward batch size (1 for a graph
    // whose outputs depend on the batch, see LocalEncoder)
    const chunk = Math.max(1, Math.floor(opts.batchSize ?? 8));
    const pool = new WorkerPoolEncoder(pkg, chunk, opts.log);
    const { log, ...rest } = opts;
    const init: WorkerInit = { ...rest, modelDir: pkg.dir, threads: perWorker, logLevel: log?.level ?? defaultLog.level };
    delete (init as { workers?: number }).workers;
    pool.init = init;
    try {
      await Promise.all(Array.from({ length: n }, () => pool.spawn(init)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    log?.debug({ workers: n, threadsPerWorker: perWorker, device: pool.device }, 'encoder worker pool ready');
    return pool;
  }

  private spawn(init: WorkerInit): Promise<void> {
    const entry = workerEntry();
    const worker = new Worker(entry.script, { workerData: init, eval: entry.eval });
    const slot: Slot = { worker };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            ready = true;
            this.device = m.device;
            this.slots.push(slot);
            resolve();
            this.pump();
            return;
          case 'init-error':
            reject(m.name === 'ModelPackageError' ? new ModelPackageError(m.message, m.file) : Object.assign(new Error(m.message), { name: m.name }));
            void worker.terminate();
            return;
          case 'result': {
            const job = slot.busy;
            slot.busy = undefined;
            if (job && job.id === m.id) {
              addStats(this.counters, m.stats);
              job.resolve(unpack(m.packed));
            }
            this.pump();
            return;
          }
          case 'error': {
            const job = slot.busy;
            slot.busy = undefined;
            if (job && job.id === m.id) job.reject(Object.assign(new Error(m.message), { name: m.name }));
            this.pump();
            return;
          }
        }
      });
      worker.on('error', (e) => {
        if (!ready) return reject(e);
        this.log?.error({ err: e.message }, 'encoder worker crashed; restarting it');
        slot.busy?.reject(e);
        slot.busy = undefined;
        this.replace(slot);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new Error(`encoder worker exited with code ${code} before it was ready`));
        else if (slot.busy) {
          slot.busy.reject(new Error(`encoder worker exited with code ${code}`));
          slot.busy = undefined;
        }
        // A thread that ends while the pool is open (killed, out of memory) is replaced like a crashed one.
        if (ready && !this.closed && this.slots.includes(slot)) {
          this.log?.error({ code }, 'encoder worker exited; restarting it');
          this.replace(slot);
        } else this.retire(slot);
      });
    });
  }

  /**
   * Retires a dead thread and starts another. When that fails and no thread is left, the waiting
   * calls and every later one fail with EncoderUnavailableError instead of waiting for a thread
   * that will never come (before: they waited forever, their jobs' locks renewed).
   */
  private replace(slot: Slot): void {
    this.retire(slot);
    if (this.closed || !this.init) return;
    this.spawn(this.init).catch((err: Error) => {
      this.log?.error({ err: err.message, left: this.slots.length }, 'cannot restart encoder worker');
      if (this.slots.length === 0 && !this.closed) {
        this.broken = new EncoderUnavailableError(`every encoder worker thread is gone and none could be restarted: ${err.message}`, { cause: err });
        for (const j of this.waiting.splice(0)) j.reject(this.broken);
      }
    });
  }

  private retire(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (this.slots.length === 0 && this.closed) for (const j of this.waiting.splice(0)) j.reject(new Error('encoder is closed'));
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const job = this.waiting.shift();
      if (!job) return;
      slot.busy = job;
      const msg: ToWorker = { type: 'encode', id: job.id, texts: job.texts, mode: job.mode, options: job.options };
      slot.worker.postMessage(msg);
    }
  }

  private submit(texts: string[], mode: EncodeMode, options?: EncodeCallOptions): Promise<SparseVector[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, texts, mode, options, resolve, reject });
      this.pump();
    });
  }

  async encode(texts: string[], mode: EncodeMode, options?: EncodeCallOptions): Promise<SparseVector[]> {
    if (this.closed) throw new Error('encoder is closed');
    if (options?.inferenceFree) {
      // A tokenization and table reads: on this thread, not behind the workers' document batches.
      if (mode !== 'query') throw new RangeError('inferenceFree applies to query mode only');
      this.tables ??= TableQueryEncoder.for(this.pkg, packagePruning(this.pkg, 'query'));
      return this.tables.encode(texts, options, this.counters);
    }
    if (this.broken) throw this.broken;
    if (texts.length === 0) return [];
    // sort by length (chars approximate tokens) so each worker batch has similar lengths
    const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
    const chunks: number[][] = [];
    for (let s = 0; s < order.length; s += this.batchSize) chunks.push(order.slice(s, s + this.batchSize));
    const results = await Promise.all(chunks.map((c) => this.submit(c.map((i) => texts[i]!), mode, options)));
    const out: SparseVector[] = new Array(texts.length);
    chunks.forEach((c, k) => c.forEach((i, j) => (out[i] = results[k]![j]!)));
    return out;
  }

  label(conceptId: number): string | undefined {
    return this.pkg.labels?.[conceptId];
  }

  stats(): Required<EncodeStats> {
    return { ...this.counters };
  }

  get workers(): number {
    return this.slots.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.waiting.splice(0);
    for (const j of pending) j.reject(new Error('encoder is closed'));
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => void s.worker.terminate().then(() => resolve()), 5000);
            s.worker.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            s.worker.postMessage({ type: 'close' } satisfies ToWorker);
          }),
      ),
    );
  }
}
