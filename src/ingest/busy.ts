/**
 * What a batch does when OpenSearch answers a whole request with 429 (docs/RELIABILITY.md,
 * "Outages"): the cluster is there but its write or search thread pool is full and rejecting. A
 * storm of these is a matter of seconds to minutes; spending the job's 5 attempts on it (2 + 4 +
 * 8 + 16 s of BullMQ back-off, ~30 s) turned a storm longer than that into failed documents.
 *
 * So a whole-request 429 is retried in place, with exponential back-off and jitter, without
 * spending an attempt, for up to a bounded patience (the worker's outage patience); past it the
 * 429 takes the ordinary path (isRetryableStatus: retried with the job's attempts). The worker is
 * not paused: a full pool is load, not absence, and `GET /` (the outage probe) answers right away
 * while `_bulk` is refused, so every job backs off on its own, which is what relieves the pool.
 * Per-item 429s inside a bulk answer are the bulk helper's (it retries them) and the job's.
 */
export function isClusterBusy(err: unknown): boolean {
  const e = err as { name?: string; statusCode?: number; meta?: { statusCode?: number }; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.name === 'ResponseError') return (e.statusCode ?? e.meta?.statusCode) === 429;
  if (e.cause && e.cause !== err) return isClusterBusy(e.cause);
  return false;
}

export interface BusyBackoffOptions {
  /** How long one job may keep meeting 429s before they spend its attempts, ms. */
  patienceMs: number;
  /** First wait, ms (default 500); doubles up to `maxDelayMs` (default 8000). */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** The in-place back-off of one batch run (one per job run: its patience starts at the first 429). */
export class BusyBackoff {
  private since: number | undefined;
  private waits = 0;
  /** Time spent waiting, for the worker's log. */
  waitedMs = 0;

  constructor(private readonly opts: BusyBackoffOptions) {}

  /** True while another in-place wait fits in the patience (counted from the first 429). */
  canWait(now = Date.now()): boolean {
    return this.since === undefined || now - this.since < this.opts.patienceMs;
  }

  /** The next delay: first × 2^n, capped, with ±25% jitter so that the jobs of a worker do not retry in step. */
  nextDelayMs(): number {
    const first = this.opts.firstDelayMs ?? 500;
    const cap = this.opts.maxDelayMs ?? 8000;
    const base = Math.min(cap, first * 2 ** Math.min(this.waits, 30));
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  async wait(): Promise<void> {
    const now = Date.now();
    this.since ??= now;
    const left = this.since + this.opts.patienceMs - now;
    const ms = Math.max(0, Math.min(this.nextDelayMs(), left));
    this.waits++;
    this.waitedMs += ms;
    await new Promise((r) => setTimeout(r, ms));
  }

  get count(): number {
    return this.waits;
  }
}
