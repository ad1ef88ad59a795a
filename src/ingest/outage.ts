import type { Client } from '@opensearch-project/opensearch';
import type { Logger } from 'pino';
import { DEFAULT_OUTAGE_PATIENCE_S } from '../defaults.js';
import { describeNetworkError, redactUrl, SaespladeError, EXIT_UNAVAILABLE } from '../errors.js';

/**
 * What a worker does when OpenSearch goes away (docs/RELIABILITY.md, "Outages").
 *
 * A batch job that meets an *unavailable* cluster (connection refused or reset, no living
 * connection, a whole request answered 502/503/504) does not spend one of its attempts: it reports
 * the outage here and waits, holding its job (BullMQ keeps renewing the lock). The first report
 * pauses the worker (it takes no new job) and starts probing the cluster (`GET /` every
 * `probeIntervalMs`); the first probe that answers resumes the worker and wakes the waiting jobs,
 * which run their batch again (re-reading the stored hashes, so only what did not land is written).
 *
 * Patience is bounded: a job that has met an unavailable cluster for `patienceMs` without one
 * successful run gives up with `OutagePatienceError`; the processor then puts the job back in the
 * queue untouched (no attempt spent, no document failed) and the worker stops (`fatal`), so an
 * outage costs time, never documents.
 */
export interface OutageGateOptions {
  client: Client;
  /** The cluster URL, for messages (redacted here). */
  url: string;
  /** How long a job may wait for the cluster to come back, ms (default 600 000: 10 minutes). */
  patienceMs?: number;
  /** Time between probes while the cluster is down, ms (default 2000). */
  probeIntervalMs?: number;
  /** Called when the cluster is found gone (the worker pauses taking jobs). */
  onDown?: () => unknown;
  /** Called when it is back (the worker resumes). */
  onUp?: () => unknown;
  /** Called once when patience ran out. */
  onGiveUp?: (err: OutagePatienceError) => unknown;
  log?: Logger;
}

/** The cluster stayed unavailable longer than the configured patience. */
export class OutagePatienceError extends SaespladeError {
  override name = 'OutagePatienceError';
  constructor(
    message: string,
    readonly downForMs: number,
  ) {
    super(message, { exitCode: EXIT_UNAVAILABLE });
  }
}

/** The gate was closed (worker closing) while a job waited for the cluster. */
export class OutageGateClosedError extends SaespladeError {
  override name = 'OutageGateClosedError';
}

/**
 * True for an error that says the cluster (or the proxy in front of it) is not there right now, as
 * opposed to a refused request: connection errors and whole-request 502/503/504. A 500 or a 429
 * means the cluster answered; those are retried with the job's attempts (errors.ts).
 */
export function isClusterUnavailable(err: unknown): boolean {
  const e = err as { name?: string; statusCode?: number; meta?: { statusCode?: number }; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.name === 'ConnectionError' || e.name === 'NoLivingConnectionsError') return true;
  if (e.name === 'ResponseError') {
    const status = e.statusCode ?? e.meta?.statusCode;
    return status === 502 || status === 503 || status === 504;
  }
  // A TransientIngestError wrapping one of those.
  if (e.cause && e.cause !== err) return isClusterUnavailable(e.cause);
  return false;
}

/** A short description of an unavailability error: "connection refused (ECONNREFUSED)", "HTTP 503". */
export function describeUnavailable(err: unknown): string {
  const e = err as { name?: string; statusCode?: number; meta?: { statusCode?: number }; cause?: unknown; message?: string };
  if (e?.name === 'ResponseError') return `HTTP ${e.statusCode ?? e.meta?.statusCode}`;
  if (e?.name === 'ConnectionError' || e?.name === 'NoLivingConnectionsError') return describeNetworkError(err).what;
  if (e?.cause && e.cause !== err) return describeUnavailable(e.cause);
  return e?.message ?? String(err);
}

export class OutageGate {
  readonly patienceMs: number;
  readonly probeIntervalMs: number;
  private readonly where: string;
  private downSince: number | undefined;
  private waiters = new Set<{ resolve: () => void; reject: (e: Error) => void; since: number; timer: NodeJS.Timeout }>();
  private probing = false;
  private closed = false;
  private gaveUp: OutagePatienceError | undefined;
  /** Outages seen and the total time spent in them (for tests and the worker's summary). */
  readonly stats = { outages: 0, downMs: 0, probes: 0 };

  constructor(private readonly opts: OutageGateOptions) {
    this.patienceMs = opts.patienceMs ?? DEFAULT_OUTAGE_PATIENCE_S * 1000;
    this.probeIntervalMs = opts.probeIntervalMs ?? 2000;
    this.where = redactUrl(opts.url);
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /**
   * Reports an unavailability error met by a job that has been meeting them since `since` (the
   * first one of this job's run), then waits for the cluster to answer again. Rejects with
   * OutagePatienceError once `since + patienceMs` passes, or OutageGateClosedError on close.
   */
  waitUntilUp(err: unknown, since: number): Promise<void> {
    if (this.closed) return Promise.reject(new OutageGateClosedError('worker closing'));
    if (this.gaveUp) return Promise.reject(this.gaveUp);
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.stats.outages++;
      this.opts.log?.warn(
        { opensearch: this.where, patienceS: Math.round(this.patienceMs / 1000) },
        `OpenSearch at ${this.where} is unavailable (${describeUnavailable(err)}): pausing, taking no new job; probing every ${this.probeIntervalMs / 1000} s for up to ${Math.round(this.patienceMs / 1000)} s`,
      );
      void this.opts.onDown?.();
    }
    void this.probeLoop();
    return new Promise<void>((resolve, reject) => {
      const left = Math.max(0, since + this.patienceMs - Date.now());
      const w = {
        resolve,
        reject,
        since,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          this.giveUp(Date.now() - since);
          reject(this.gaveUp!);
        }, left),
      };
      this.waiters.add(w);
    });
  }

  private giveUp(downForMs: number): void {
    if (this.gaveUp) return;
    this.gaveUp = new OutagePatienceError(
      `OpenSearch at ${this.where} has been unavailable for ${Math.round(downForMs / 1000)} s, longer than the outage patience ` +
        `(${Math.round(this.patienceMs / 1000)} s, --outage-patience): the worker stops; its jobs are back in the queue, ` +
        `no attempt spent and no document failed. Start a worker again once the cluster answers.`,
      downForMs,
    );
    this.opts.log?.error({ opensearch: this.where }, this.gaveUp.message);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(this.gaveUp);
    }
    this.waiters.clear();
    void this.opts.onGiveUp?.(this.gaveUp);
  }

  private async probeLoop(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      while (!this.closed && !this.gaveUp && this.downSince !== undefined) {
        await new Promise((r) => setTimeout(r, this.probeIntervalMs).unref?.());
        if (this.closed || this.gaveUp) return;
        this.stats.probes++;
        const ok = await this.opts.client.info({}, { requestTimeout: Math.max(1000, this.probeIntervalMs * 2), maxRetries: 0 }).then(
          () => true,
          () => false,
        );
        if (ok) this.up();
      }
    } finally {
      this.probing = false;
    }
  }

  private up(): void {
    if (this.downSince === undefined) return;
    const ms = Date.now() - this.downSince;
    this.stats.downMs += ms;
    this.downSince = undefined;
    this.opts.log?.warn({ opensearch: this.where, downS: Math.round(ms / 100) / 10 }, `OpenSearch at ${this.where} answers again after ${Math.round(ms / 1000)} s: resuming`);
    void this.opts.onUp?.();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this.waiters.clear();
  }

  /** Wakes every waiting job with OutageGateClosedError (they put their job back) and stops probing. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new OutageGateClosedError('worker closing'));
    }
    this.waiters.clear();
  }
}
