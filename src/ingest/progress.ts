import cliProgress from 'cli-progress';
import type { Queue } from 'bullmq';
import type { IngestBatchJob, IngestBatchResult, JobSetCounters, JobSetInfo, JobSetStore } from '../queue/index.js';
import type { Client } from '../opensearch/client.js';
import { reconcileJobSet } from './reconcile.js';
import { SaespladeError } from '../errors.js';

export interface WaitOptions {
  store: JobSetStore;
  /** With a queue, failed jobs of the set are reconciled now and then (see reconcileJobSet). */
  queue?: Queue<IngestBatchJob, IngestBatchResult>;
  setId: string;
  /** Poll interval, ms (default 500). */
  intervalMs?: number;
  onUpdate?: (info: JobSetInfo) => void;
  /** Stop waiting (resolves with the last state). */
  signal?: AbortSignal;
  /**
   * Give up with JobSetStalledError when no counter of the set moved for this long, ms (default
   * 1 800 000: 30 minutes, longer than a worker's outage patience; 0: wait forever). A set whose
   * jobs were removed from the queue, or that no worker serves, otherwise waits forever.
   */
  stallTimeoutMs?: number;
  /** Rejects the wait when this rejects (an in-process worker that gave up: `IngestWorkerHandle.fatal`). */
  failOn?: Promise<never>;
  /** With a client, reconciled jobs count what is in the index as indexed (see settleFailedJob). */
  client?: Client;
}

/** A job set whose counters did not move for the stall timeout. */
export class JobSetStalledError extends SaespladeError {
  override name = 'JobSetStalledError';
  constructor(
    message: string,
    readonly info: JobSetInfo | undefined,
  ) {
    super(message);
  }
}

/** Counters that move when anything happens to a set. */
function progressKey(i: JobSetInfo): string {
  return [i.read, i.queued, i.jobs, i.jobsDone, i.indexed, i.skipped, i.failed, i.producerDone].join(',');
}

/**
 * Polls a job set until every document read is indexed, skipped or failed. Bounded: it throws
 * JobSetStalledError once nothing moved for `stallTimeoutMs` (a Redis that stops answering counts
 * as nothing moving), naming what the queue holds, so a set that cannot finish is an error, not a hang.
 */
export async function waitForJobSet(opts: WaitOptions): Promise<JobSetInfo> {
  const interval = opts.intervalMs ?? 500;
  const stallMs = opts.stallTimeoutMs ?? 30 * 60_000;
  let lastKey = '';
  let lastMove = Date.now();
  let last: JobSetInfo | undefined;
  let failure: unknown;
  let failed = false;
  let wake: ((e: unknown) => void) | undefined;
  opts.failOn?.catch((e) => {
    failure = e;
    failed = true;
    wake?.(e);
  });
  const deadline = () => (stallMs > 0 ? Math.max(0, lastMove + stallMs - Date.now()) : Infinity);
  // Each Redis call is raced against the stall deadline and `failOn`: with Redis gone the call
  // would wait for the reconnection forever.
  const bounded = async <T>(p: Promise<T>): Promise<T> => {
    if (failed) throw failure;
    const timers: NodeJS.Timeout[] = [];
    const races: Promise<T>[] = [p];
    if (Number.isFinite(deadline())) races.push(new Promise<T>((_, rej) => timers.push(setTimeout(() => rej(stalled()), deadline()))));
    if (opts.failOn) races.push(new Promise<T>((_, rej) => (wake = rej)));
    try {
      return await Promise.race(races);
    } finally {
      timers.forEach(clearTimeout);
      wake = undefined;
    }
  };
  const stalled = () =>
    new JobSetStalledError(
      `job set ${opts.setId} made no progress for ${Math.round(stallMs / 1000)} s` +
        (last
          ? ` (read ${last.read}, indexed ${last.indexed}, skipped ${last.skipped}, failed ${last.failed}; jobs done ${last.jobsDone} of ${last.jobs}${last.producerDone ? '' : ', producer not done'})`
          : '') +
        `: no worker is serving queue ${last?.queue || '(unknown)'}, its jobs are gone, or Redis does not answer. ` +
        `It stays queued: start a worker (saesplade worker) and follow it with saesplade status ${opts.setId}.`,
      last,
    );
  for (let tick = 0; ; tick++) {
    if (failed) throw failure;
    if (opts.queue && tick % 20 === 19) await bounded(reconcileJobSet(opts.queue, opts.store, opts.setId, opts.client));
    const info = await bounded(opts.store.get(opts.setId));
    if (!info) throw new Error(`job set ${opts.setId} not found (expired, or another Redis?)`);
    last = info;
    const key = progressKey(info);
    if (key !== lastKey) {
      lastKey = key;
      lastMove = Date.now();
    }
    opts.onUpdate?.(info);
    if (info.done || opts.signal?.aborted) return info;
    if (stallMs > 0 && Date.now() - lastMove >= stallMs) throw stalled();
    await bounded(new Promise<void>((r) => setTimeout(r, Math.min(interval, deadline()))));
  }
}

export interface IngestSummary extends Pick<JobSetCounters, 'read' | 'queued' | 'indexed' | 'skipped' | 'failed' | 'failedAtEntry'> {
  setId: string;
  index: string;
  elapsedS: number;
  docsPerS: number;
  /** Set when the final refresh failed (the documents are indexed all the same). */
  refreshError?: string;
}

export function summarize(info: JobSetInfo, elapsedMs: number): IngestSummary {
  const processed = info.indexed + info.skipped + info.failed;
  return {
    setId: info.id,
    index: info.index,
    read: info.read,
    queued: info.queued,
    indexed: info.indexed,
    skipped: info.skipped,
    failed: info.failed,
    failedAtEntry: info.failedAtEntry,
    elapsedS: round(elapsedMs / 1000, 2),
    docsPerS: round(processed / Math.max(elapsedMs / 1000, 1e-3), 1),
  };
}

export function formatSummary(s: IngestSummary): string {
  return [
    `job set ${s.setId} → index ${s.index}`,
    `  read ${s.read}, indexed ${s.indexed}, skipped (unchanged) ${s.skipped}, failed ${s.failed}` +
      (s.failedAtEntry ? ` (${s.failedAtEntry} rejected at entry)` : ''),
    `  ${s.elapsedS} s, ${s.docsPerS} docs/s`,
    ...(s.failed > 0 ? [`  see the failed documents with: saesplade failed ${s.setId}`] : []),
    ...(s.refreshError ? [`  warning: ${s.refreshError}`] : []),
  ].join('\n');
}

export interface ProgressReporter {
  update(info: JobSetInfo): void;
  stop(): void;
}

/**
 * Progress on stderr: a cli-progress bar (docs/s, ETA) on a TTY, otherwise one plain line every
 * `plainEveryMs` (default 10 s) so logs of non-interactive runs stay readable.
 */
export function progressReporter(opts: { tty?: boolean; stream?: NodeJS.WriteStream; plainEveryMs?: number } = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const start = Date.now();
  // No rate in the first second: a handful of rejected lines counted at once would read as thousands/s.
  const rate = (n: number) => (Date.now() - start < 1000 ? 0 : round(n / ((Date.now() - start) / 1000), 1));
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'ingest |{bar}| {value}/{total} docs | {rate} docs/s | ETA {eta_formatted} | skipped {skipped}, failed {failed}',
        etaBuffer: 50,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(info) {
        const done = info.indexed + info.skipped + info.failed;
        const payload = { rate: rate(done), skipped: info.skipped, failed: info.failed };
        if (!started) {
          bar.start(Math.max(info.read, 1), done, payload);
          started = true;
        }
        bar.setTotal(Math.max(info.read, 1));
        bar.update(done, payload);
      },
      stop: () => bar.stop(),
    };
  }
  const every = opts.plainEveryMs ?? 10_000;
  let last = 0;
  return {
    update(info) {
      const now = Date.now();
      if (now - last < every && !info.done) return;
      last = now;
      const done = info.indexed + info.skipped + info.failed;
      const r = rate(done);
      const eta = info.producerDone && r > 0 ? ` ETA ${Math.ceil((info.read - done) / r)} s,` : '';
      stream.write(
        `ingest ${info.id}: ${done}/${info.read}${info.producerDone ? '' : '+'} docs (indexed ${info.indexed}, skipped ${info.skipped}, failed ${info.failed}), ${r} docs/s,${eta} ${Math.round((now - start) / 1000)} s\n`,
      );
    },
    stop() {},
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
