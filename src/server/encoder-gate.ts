/**
 * Admission control in front of the encoder's worker threads (src/encoder/pool.ts). Encode calls
 * run while threads are free (a call of n texts takes ceil(n / textsPerThread) of them); up to
 * `maxQueue` more wait, in order; one more is refused at once with EncoderBusyError (the server
 * answers 503 + Retry-After) instead of queueing without bound, so a burst costs some requests a
 * retry, not everybody seconds of latency. Background work (an in-process ingest worker) waits
 * without a bound and yields to foreground calls (searches, /v1/encode) whenever a thread frees.
 *
 * Coalescing: when a thread frees, the small calls waiting with the same mode and options go to it
 * as one encode call (up to textsPerThread texts), so that under load one forward pass serves
 * several searches. Nobody waits for a batch to fill: a call that finds a free thread runs alone.
 * Vectors do not change: the pool's worker chooses its own forward batch size, and runs a graph
 * whose outputs depend on the batch one text at a time (src/encoder/local.ts).
 */
import { EXIT_UNAVAILABLE, SaespladeError } from '../errors.js';
import type { SparseVector } from '../sparse.js';
import type { EncodeCallOptions, EncodeMode, Encoder } from '../encoder/types.js';

export type Priority = 'foreground' | 'background';

/** Every encoder thread is busy and `maxQueue` calls already wait. */
export class EncoderBusyError extends SaespladeError {
  override name = 'EncoderBusyError';
  constructor(
    message: string,
    /** Seconds after which a retry probably finds room. */
    readonly retryAfterS: number,
  ) {
    super(message, { exitCode: EXIT_UNAVAILABLE });
  }
}

export class EncoderGateClosedError extends SaespladeError {
  override name = 'EncoderGateClosedError';
}

export interface EncoderGateOptions {
  /** Worker threads: calls run while their weights fit. */
  concurrency: number;
  /** Foreground calls that may wait; more are refused. 0: none waits. */
  maxQueue: number;
  /** Texts per worker job (the pool's chunk size, default 8): a call of n texts occupies ceil(n / this) threads; the most texts coalesced into one call. */
  textsPerThread?: number;
  /** Merge waiting calls of the same mode and options into one encode call (default true). */
  coalesce?: boolean;
  /** Called after each call with its mode, the time of the encode call that served it and its wait, seconds. */
  onEncoded?: (mode: EncodeMode, encodeS: number, waitS: number) => void;
  onRejected?: () => void;
  /** Called with the number of calls each encode call served (1 when nothing was coalesced). */
  onBatch?: (calls: number) => void;
}

interface Call {
  texts: string[];
  mode: EncodeMode;
  options?: EncodeCallOptions;
  /** Calls with the same key may share an encode call. */
  key: string;
  weight: number;
  queuedAt: number;
  resolve: (v: SparseVector[]) => void;
  reject: (e: Error) => void;
}

export class EncoderGate {
  private running = 0;
  private threadsBusy = 0;
  private readonly fg: Call[] = [];
  private readonly bg: Call[] = [];
  /** Exponentially weighted mean time of one encode call, ms. */
  private meanMs = 50;
  private closed = false;
  /** When an encode call last succeeded (Date.now()), for readiness. */
  lastSuccessAt?: number;

  constructor(
    readonly base: Encoder,
    readonly opts: EncoderGateOptions,
  ) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error(`encoder gate concurrency must be a positive integer, got ${opts.concurrency}`);
    if (!Number.isInteger(opts.maxQueue) || opts.maxQueue < 0) throw new Error(`encoder queue bound must be an integer >= 0, got ${opts.maxQueue}`);
  }

  private get perThread(): number {
    return Math.max(1, Math.floor(this.opts.textsPerThread ?? 8));
  }

  /** Encode calls (after coalescing) running now. */
  get active(): number {
    return this.running;
  }

  /** Worker threads busy now. */
  get busyThreads(): number {
    return this.threadsBusy;
  }

  /** Calls waiting for a thread: foreground (bounded) and background. */
  get waiting(): { foreground: number; background: number } {
    return { foreground: this.fg.length, background: this.bg.length };
  }

  /** A guess of when a refused call would find room: the calls ahead drained at the mean call time. */
  retryAfterSeconds(): number {
    const ahead = this.fg.length + this.running;
    const s = Math.ceil(((ahead / this.opts.concurrency) * this.meanMs) / 1000);
    return Math.max(1, Math.min(60, s));
  }

  private weightOf(texts: number): number {
    return Math.min(this.opts.concurrency, Math.max(1, Math.ceil(texts / this.perThread)));
  }

  /** Encodes through the gate; throws EncoderBusyError (foreground only) when the queue is full. */
  encode(texts: string[], mode: EncodeMode, options?: EncodeCallOptions, priority: Priority = 'foreground'): Promise<SparseVector[]> {
    if (this.closed) return Promise.reject(new EncoderGateClosedError('the encoder is shutting down'));
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise<SparseVector[]>((resolve, reject) => {
      const call: Call = { texts, mode, key: `${priority}\u0000${mode}\u0000${options ? JSON.stringify(options) : ''}`, weight: this.weightOf(texts.length), queuedAt: performance.now(), resolve, reject };
      if (options) call.options = options;
      const queue = priority === 'foreground' ? this.fg : this.bg;
      // Room now and nobody ahead (a foreground call never waits behind background work): run.
      const ahead = priority === 'foreground' ? this.fg.length : this.fg.length + this.bg.length;
      if (ahead === 0 && this.threadsBusy + call.weight <= this.opts.concurrency) {
        this.start([call]);
        return;
      }
      if (priority === 'foreground' && this.fg.length >= this.opts.maxQueue) {
        this.opts.onRejected?.();
        const retry = this.retryAfterSeconds();
        reject(
          new EncoderBusyError(
            `the encoder is busy: ${this.threadsBusy} of ${this.opts.concurrency} thread(s) busy and ${this.fg.length} call(s) waiting (the bound); retry in ${retry} s`,
            retry,
          ),
        );
        return;
      }
      queue.push(call);
    });
  }

  /** Hands free threads to waiting calls, in order, foreground first, coalescing small calls. */
  private dispatch(): void {
    for (;;) {
      const queue = this.fg.length > 0 ? this.fg : this.bg;
      const head = queue[0];
      if (!head || this.threadsBusy + head.weight > this.opts.concurrency) return;
      queue.shift();
      const batch = [head];
      if (this.opts.coalesce !== false) {
        let texts = head.texts.length;
        for (let i = 0; i < queue.length && texts < this.perThread; ) {
          const c = queue[i]!;
          if (c.key === head.key && texts + c.texts.length <= this.perThread) {
            batch.push(c);
            texts += c.texts.length;
            queue.splice(i, 1);
          } else i++;
        }
      }
      this.start(batch);
    }
  }

  private start(batch: Call[]): void {
    const texts = batch.length === 1 ? batch[0]!.texts : batch.flatMap((c) => c.texts);
    const weight = this.weightOf(texts.length);
    const head = batch[0]!;
    this.running++;
    this.threadsBusy += weight;
    const started = performance.now();
    this.opts.onBatch?.(batch.length);
    this.base.encode(texts, head.mode, head.options).then(
      (vectors) => {
        this.lastSuccessAt = Date.now();
        this.finish(batch, weight, started);
        let at = 0;
        for (const c of batch) {
          c.resolve(vectors.slice(at, at + c.texts.length));
          at += c.texts.length;
        }
      },
      (err: Error) => {
        this.finish(batch, weight, started);
        for (const c of batch) c.reject(err);
      },
    );
  }

  private finish(batch: Call[], weight: number, started: number): void {
    const ms = performance.now() - started;
    this.meanMs = 0.8 * this.meanMs + 0.2 * ms;
    this.running--;
    this.threadsBusy -= weight;
    for (const c of batch) this.opts.onEncoded?.(c.mode, ms / 1000, (started - c.queuedAt) / 1000);
    if (!this.closed) this.dispatch();
  }

  /** The encoder seen through the gate at one priority (what search() and an ingest worker take). */
  encoder(priority: Priority): Encoder {
    const gate = this;
    return {
      get model() {
        return gate.base.model;
      },
      // An inference-free query runs no graph (a table lookup on the caller's thread): it needs no thread slot.
      encode: (texts, mode, options) => (options?.inferenceFree ? gate.base.encode(texts, mode, options) : gate.encode(texts, mode, options, priority)),
      stats: () => gate.base.stats(),
      label: (id) => gate.base.label(id),
      // The gate's owner closes the encoder once, after everything that uses it.
      close: async () => {},
    };
  }

  /** Refuses new calls and fails the waiting ones; running calls finish. */
  close(): void {
    this.closed = true;
    for (const c of [...this.fg.splice(0), ...this.bg.splice(0)]) c.reject(new EncoderGateClosedError('the encoder is shutting down'));
  }
}
