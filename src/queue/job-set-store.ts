import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import type { SourceDoc } from './source-doc.js';

/**
 * Per-run bookkeeping of an ingestion ("job set") in Redis, beside BullMQ's own keys:
 *
 *   <prefix>:<id>          hash: metadata and counters (see JobSetCounters)
 *   <prefix>:<id>:failed   list: one JSON FailedDoc per document that was not indexed
 *   <prefix>:<id>:commits  hash: batch job ids whose outcome has been counted
 *
 * Counting is exactly-once per batch job: a worker commits a batch's outcome with a Lua script that
 * adds the counts only if the job id is not yet in `commits`, so retries, stalled-job re-runs and a
 * duplicate worker cannot count a document twice. Keys expire after `ttlSeconds` (default 7 days).
 */

export interface FailedDoc {
  /** Where the document came from: `file:line` (or the doc id when no location is known). */
  source: string;
  id?: string;
  /** Stable code: a parser RejectCode, `index_rejected`, `index_unavailable`, `encode_failed`, `model_mismatch`, ... */
  code: string;
  reason: string;
  /** ISO timestamp. */
  at: string;
  /**
   * The document as it was queued, kept for failures after entry (index rejected, unavailable,
   * batch failed, job failed), so that `failed --requeue` can queue it again. Absent for lines
   * rejected at entry: those need fixing in the source.
   */
  doc?: SourceDoc;
}

/** What a producer did since its last report: lines read, documents and jobs queued, rejected lines. */
export interface ProducedDelta {
  read: number;
  queued: number;
  jobs: number;
  rejected: FailedDoc[];
}

export interface JobSetCounters {
  /** Non-blank lines read by the producer. */
  read: number;
  /** Documents queued in batch jobs. */
  queued: number;
  /** Documents written to the index. */
  indexed: number;
  /** Documents whose stored content hash (and metadata) matched: not re-encoded. */
  skipped: number;
  /** Documents not indexed: rejected at entry plus failed in workers. */
  failed: number;
  /** Of `failed`, rejected by the producer's validation (never queued). */
  failedAtEntry: number;
  /** Batch jobs queued / whose outcome is counted. */
  jobs: number;
  jobsDone: number;
}

export interface JobSetInfo extends JobSetCounters {
  id: string;
  source: string;
  index: string;
  queue: string;
  createdAt: string;
  /** The producer has read its whole source. */
  producerDone: boolean;
  /** All read documents are accounted for (indexed, skipped or failed). */
  done: boolean;
  finishedAt?: string;
}

const COUNTER_FIELDS: Record<keyof JobSetCounters, string> = {
  read: 'read',
  queued: 'queued',
  indexed: 'indexed',
  skipped: 'skipped',
  failed: 'failed',
  failedAtEntry: 'failed_entry',
  jobs: 'jobs',
  jobsDone: 'jobs_done',
};

/**
 * commitBatch-3.lua, inline.
 * KEYS[1] set hash, KEYS[2] failed list, KEYS[3] commits hash.
 * ARGV[1] job id, ARGV[2] indexed, ARGV[3] skipped, ARGV[4] ttl seconds, ARGV[5..] FailedDoc JSON.
 * Returns 1 when counted now, 0 when this job's outcome was already counted.
 */
const COMMIT_BATCH_LUA = `
if redis.call('HSETNX', KEYS[3], ARGV[1], 1) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'indexed', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'skipped', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'jobs_done', 1)
local nfailed = #ARGV - 4
if nfailed > 0 then
  redis.call('HINCRBY', KEYS[1], 'failed', nfailed)
  for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
`;

/**
 * addProducedOnce-2.lua, inline: counts a produced job in a set at most once per marker.
 * KEYS[1] set hash, KEYS[2] marker hash. ARGV[1] marker, ARGV[2] read, ARGV[3] queued, ARGV[4] jobs,
 * ARGV[5] ttl seconds. Returns 1 when counted now, 0 when that marker was counted before.
 */
const ADD_PRODUCED_ONCE_LUA = `
if redis.call('HSETNX', KEYS[2], ARGV[1], 1) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'read', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'queued', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'jobs', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
`;

/**
 * The two scripts as ioredis commands (`defineCommand`): sent once, then run by SHA (EVALSHA, with
 * ioredis' own fallback to EVAL after a Redis restart), and called with typed arguments.
 */
const COMMANDS = {
  saespladeCommitBatch: { numberOfKeys: 3, lua: COMMIT_BATCH_LUA },
  saespladeAddProducedOnce: { numberOfKeys: 2, lua: ADD_PRODUCED_ONCE_LUA },
} as const;

interface JobSetCommands {
  saespladeCommitBatch(set: string, failed: string, commits: string, jobId: string, indexed: number, skipped: number, ttlSeconds: number, ...failedDocs: string[]): Promise<number>;
  saespladeAddProducedOnce(set: string, forwarded: string, marker: string, read: number, queued: number, jobs: number, ttlSeconds: number): Promise<number>;
}

export interface JobSetStoreOptions {
  /** Key prefix (default `saesplade:jobset`). */
  prefix?: string;
  /** Lifetime of a job set's keys after its last update (default 7 days). */
  ttlSeconds?: number;
}

export function newJobSetId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export class JobSetStore {
  readonly prefix: string;
  readonly ttlSeconds: number;

  constructor(
    readonly redis: Redis,
    opts: JobSetStoreOptions = {},
  ) {
    this.prefix = opts.prefix ?? 'saesplade:jobset';
    this.ttlSeconds = opts.ttlSeconds ?? 7 * 24 * 3600;
    if (!/^[^:\s]+(:[^:\s]+)*$/.test(this.prefix)) throw new Error(`invalid job set key prefix "${this.prefix}"`);
    for (const [name, def] of Object.entries(COMMANDS)) if (!(name in redis)) redis.defineCommand(name, def);
  }

  private get scripts(): JobSetCommands {
    return this.redis as unknown as JobSetCommands;
  }

  keys(id: string): { set: string; failed: string; commits: string; forwarded: string } {
    const set = `${this.prefix}:${id}`;
    return { set, failed: `${set}:failed`, commits: `${set}:commits`, forwarded: `${set}:forwarded` };
  }

  async create(meta: { id: string; source: string; index: string; queue: string }): Promise<void> {
    const k = this.keys(meta.id);
    const fields: Record<string, string | number> = {
      id: meta.id,
      source: meta.source,
      index: meta.index,
      queue: meta.queue,
      created_at: new Date().toISOString(),
      producer_done: 0,
    };
    for (const f of Object.values(COUNTER_FIELDS)) fields[f] = 0;
    await this.redis.multi().hset(k.set, fields).expire(k.set, this.ttlSeconds).exec();
  }

  /** Adds what the producer did since its last call: lines read, documents/jobs queued, rejected lines. */
  async addProduced(id: string, delta: ProducedDelta): Promise<void> {
    await this.queueProduced(this.redis.multi(), id, delta).exec();
  }

  /**
   * Appends the commands of `addProduced` to a caller's transaction, so that the counts land
   * atomically with the caller's own state (reindex moves a slice cursor in the same MULTI).
   */
  queueProduced(m: ChainableCommander, id: string, delta: ProducedDelta): ChainableCommander {
    const k = this.keys(id);
    m.hincrby(k.set, 'read', delta.read).hincrby(k.set, 'queued', delta.queued).hincrby(k.set, 'jobs', delta.jobs);
    if (delta.rejected.length > 0) {
      m.hincrby(k.set, 'failed', delta.rejected.length)
        .hincrby(k.set, 'failed_entry', delta.rejected.length)
        .rpush(k.failed, ...delta.rejected.map((f) => JSON.stringify(f)))
        .expire(k.failed, this.ttlSeconds);
    }
    return m.expire(k.set, this.ttlSeconds);
  }

  /**
   * Counts one job added to a set by someone other than its producer (a write forwarded during a
   * reindex, src/ingest/forward.ts) at most once per `marker`, in one atomic step: the marker and
   * the counters land together or not at all, so a crash between them cannot leave the marker set
   * and the job uncounted (the set would then read done before that job ran). Returns true when
   * counted now.
   */
  async addProducedOnce(id: string, marker: string, delta: Omit<ProducedDelta, 'rejected'>): Promise<boolean> {
    const k = this.keys(id);
    const res = await this.scripts.saespladeAddProducedOnce(k.set, k.forwarded, marker, delta.read, delta.queued, delta.jobs, this.ttlSeconds);
    return res === 1;
  }

  async markProducerDone(id: string): Promise<void> {
    await this.redis.hset(this.keys(id).set, 'producer_done', 1);
  }

  /** Counts one batch job's outcome exactly once; returns false if it was counted before. */
  async commitBatch(id: string, jobId: string, outcome: { indexed: number; skipped: number; failed: FailedDoc[] }): Promise<boolean> {
    const k = this.keys(id);
    const res = await this.scripts.saespladeCommitBatch(
      k.set,
      k.failed,
      k.commits,
      jobId,
      outcome.indexed,
      outcome.skipped,
      this.ttlSeconds,
      ...outcome.failed.map((f) => JSON.stringify(f)),
    );
    return res === 1;
  }

  async isCommitted(id: string, jobId: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys(id).commits, jobId)) === 1;
  }

  async get(id: string): Promise<JobSetInfo | undefined> {
    const h = await this.redis.hgetall(this.keys(id).set);
    if (!h || h.id === undefined) return undefined;
    const n = (f: string) => Number(h[f] ?? 0);
    const counters = Object.fromEntries(
      (Object.entries(COUNTER_FIELDS) as [keyof JobSetCounters, string][]).map(([k, f]) => [k, n(f)]),
    ) as unknown as JobSetCounters;
    const producerDone = h.producer_done === '1';
    const done = producerDone && counters.jobsDone >= counters.jobs;
    if (done && !h.finished_at) {
      h.finished_at = new Date().toISOString();
      await this.redis.hsetnx(this.keys(id).set, 'finished_at', h.finished_at);
    }
    return {
      id: h.id,
      source: h.source ?? '',
      index: h.index ?? '',
      queue: h.queue ?? '',
      createdAt: h.created_at ?? '',
      producerDone,
      done,
      ...(h.finished_at ? { finishedAt: h.finished_at } : {}),
      ...counters,
    };
  }

  /** The failed-documents record, in the order recorded (`start`/`count` page through it). */
  async failures(id: string, start = 0, count = -1): Promise<FailedDoc[]> {
    const stop = count < 0 ? -1 : start + count - 1;
    const raw = await this.redis.lrange(this.keys(id).failed, start, stop);
    return raw.map((r) => JSON.parse(r) as FailedDoc);
  }

  /** Iterates the whole failed record in pages (for export of large records). */
  async *iterateFailures(id: string, pageSize = 1000): AsyncGenerator<FailedDoc> {
    for (let start = 0; ; start += pageSize) {
      const page = await this.failures(id, start, pageSize);
      yield* page;
      if (page.length < pageSize) return;
    }
  }

  async delete(id: string): Promise<void> {
    const k = this.keys(id);
    await this.redis.del(k.set, k.failed, k.commits, k.forwarded);
  }
}
