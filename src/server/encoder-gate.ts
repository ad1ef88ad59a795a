/**
 * Admission control in front of the encoder's worker threads (src/encoder/pool.ts). At most
 * `concurrency` encode calls run at once (one per worker thread); up to `maxQueue` more wait, in
 * order; one more is refused at once with EncoderBusyError (the server answers 503 + Retry-After)
 * instead of queueing without bound, so a burst costs some requests a retry, not everybody seconds
 * of latency. Background work (an in-process ingest worker) waits without a bound and yields to
 * foreground calls (searches, /v1/encode) whenever a thread frees up.
 */
import type { SparseVector } from '../sparse.js';
import type { EncodeCallOptions, EncodeMode, Encoder } from '../encoder/types.js';

export type Priority = 'foreground' | 'background';

/** Every encoder thread is busy and `maxQueue` calls already wait. */
export class EncoderBusyError extends Error {
  override name = 'EncoderBusyError';
  constructor(
    message: string,
    /** Seconds after which a retry probably finds room. */
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

export class EncoderGateClosedError extends Error {
  override name = 'EncoderGateClosedError';
}

export interface EncoderGateOptions {
  /** Calls that run at once: the encoder's worker threads. */
  concurrency: number;
  /** Foreground calls that may wait; more are refused. 0: none waits. */
  maxQueue: number;
  /** Texts per worker job (the pool's chunk size): how many threads one call of n texts occupies. */
  textsPerThread?: number;
  /** Called after each call with its mode, time in the encoder and time waited, seconds. */
  onEncoded?: (mode: EncodeMode, encodeS: number, waitS: number) => void;
  onRejected?: () => void;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
  weight: number;
}

export class EncoderGate {
  private running = 0;
  private threadsBusy = 0;
  private readonly fg: Waiter[] = [];
  private readonly bg: Waiter[] = [];
  /** Exponentially weighted mean of one call's time in the encoder, ms. */
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

  /** Encode calls running now. */
  get active(): number {
    return this.running;
  }

  /** Worker threads busy now (a call of n texts occupies min(threads, ceil(n / textsPerThread))). */
  get busyThreads(): number {
    return this.threadsBusy;
  }

  /** Calls waiting for a thread: foreground (bounded) and background. */
  get waiting(): { foreground: number; background: number } {
    return { foreground: this.fg.length, background: this.bg.length };
  }

  /** A guess of when a refused call would find room: the queue ahead drained at the mean call time. */
  retryAfterSeconds(): number {
    const ahead = this.fg.length + this.running;
    const s = Math.ceil(((ahead / this.opts.concurrency) * this.meanMs) / 1000);
    return Math.max(1, Math.min(60, s));
  }

  private acquire(priority: Priority, weight: number): Promise<void> | undefined {
    if (this.closed) throw new EncoderGateClosedError('the encoder is shutting down');
    // Room now, and nobody ahead: run. (A foreground call never waits behind background work.)
    const ahead = priority === 'foreground' ? this.fg.length : this.fg.length + this.bg.length;
    if (ahead === 0 && this.threadsBusy + weight <= this.opts.concurrency) {
      this.running++;
      this.threadsBusy += weight;
      return undefined;
    }
    if (priority === 'foreground' && this.fg.length >= this.opts.maxQueue) {
      this.opts.onRejected?.();
      const retry = this.retryAfterSeconds();
      throw new EncoderBusyError(
        `the encoder is busy: ${this.busyThreads} of ${this.opts.concurrency} thread(s) busy and ${this.fg.length} call(s) waiting (the bound); retry in ${retry} s`,
        retry,
      );
    }
    return new Promise<void>((resolve, reject) => (priority === 'foreground' ? this.fg : this.bg).push({ resolve, reject, weight }));
  }

  private release(weight: number): void {
    this.running--;
    this.threadsBusy -= weight;
    // Hand the freed threads on, in order, foreground first, while the next waiter fits.
    for (;;) {
      const queue = this.fg.length > 0 ? this.fg : this.bg;
      const next = queue[0];
      if (!next || this.threadsBusy + next.weight > this.opts.concurrency) return;
      queue.shift();
      this.running++;
      this.threadsBusy += next.weight;
      next.resolve();
    }
  }

  private weightOf(texts: number): number {
    const per = Math.max(1, this.opts.textsPerThread ?? 8);
    return Math.min(this.opts.concurrency, Math.max(1, Math.ceil(texts / per)));
  }

  /** Encodes through the gate; throws EncoderBusyError (foreground only) when the queue is full. */
  async encode(texts: string[], mode: EncodeMode, options?: EncodeCallOptions, priority: Priority = 'foreground'): Promise<SparseVector[]> {
    const weight = this.weightOf(texts.length);
    const queued = performance.now();
    const wait = this.acquire(priority, weight);
    if (wait) await wait;
    const start = performance.now();
    try {
      const out = await this.base.encode(texts, mode, options);
      this.lastSuccessAt = Date.now();
      return out;
    } finally {
      const ms = performance.now() - start;
      this.meanMs = 0.8 * this.meanMs + 0.2 * ms;
      this.release(weight);
      this.opts.onEncoded?.(mode, ms / 1000, (start - queued) / 1000);
    }
  }

  /** The encoder seen through the gate at one priority (what search() and an ingest worker take). */
  encoder(priority: Priority): Encoder {
    const gate = this;
    return {
      get model() {
        return gate.base.model;
      },
      encode: (texts, mode, options) => gate.encode(texts, mode, options, priority),
      stats: () => gate.base.stats(),
      label: (id) => gate.base.label(id),
      // The gate's owner closes the encoder once, after everything that uses it.
      close: async () => {},
    };
  }

  /** Refuses new calls and fails the waiting ones; running calls finish. */
  close(): void {
    this.closed = true;
    for (const w of [...this.fg.splice(0), ...this.bg.splice(0)]) w.reject(new EncoderGateClosedError('the encoder is shutting down'));
  }
}
