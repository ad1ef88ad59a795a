import type { Redis } from 'ioredis';
import type { FailedDoc, JobSetStore } from '../queue/index.js';
import { activeKey, activeReindex, STATE_PREFIX, type ActiveReindex } from '../queue/forwarding.js';

/**
 * A reindex run's progress in Redis, so that a run that was interrupted (Ctrl-C, crash, killed
 * workers) continues where it stopped:
 *
 *   saesplade:reindex:<target>          hash: the run's plan (sources, alias, model, queue, job set,
 *                                       slices, page size, text fields), `status`, and one field
 *                                       `slice:<i>` per slice: {"after": <sort values>|null, "page": n, "done": bool}
 *   saesplade:reindex:active:<name>     string: ActiveReindex JSON, for the alias and each source index
 *                                       while a reindex of it runs (ingest forwards writes, forward.ts)
 *
 * A page is committed by one MULTI that moves its slice's cursor past it and adds its documents to
 * the job set's counters: a page is counted once however often it is read and queued (its job id is
 * deterministic, so re-queuing it is a no-op in BullMQ).
 */

export type ReindexStatus = 'copying' | 'copied' | 'verify_failed' | 'switched';

export interface SliceCursor {
  /** Sort values of the last document queued, or null before the first page. */
  after: unknown[] | null;
  /** Pages of this slice queued so far (the next page's number). */
  page: number;
  done: boolean;
}

export interface ReindexPlan {
  target: string;
  alias: string;
  /** Concrete source indices (the alias or index given, resolved when the run started). */
  sources: string[];
  modelName: string;
  modelVersion: string;
  queue: string;
  setId: string;
  slices: number;
  pageSize: number;
  textFields: string[];
}

export interface ReindexRecord extends ReindexPlan {
  status: ReindexStatus;
  createdAt: string;
  switchedAt?: string;
  /** Indices the alias pointed to before the switch. */
  previous?: string[];
  cursors: SliceCursor[];
}

// The active-reindex record that ingest workers read (the contract both sides share): src/queue/forwarding.ts
export { activeKey, STATE_PREFIX, type ActiveReindex } from '../queue/forwarding.js';
const TTL_S = 30 * 24 * 3600;

export function stateKey(target: string): string {
  return `${STATE_PREFIX}:${target}`;
}

export const initialCursor = (): SliceCursor => ({ after: null, page: 0, done: false });

/** Parses the state hash (pure). Undefined when the hash is empty. */
export function parseRecord(h: Record<string, string>): ReindexRecord | undefined {
  if (!h.target) return undefined;
  const slices = Number(h.slices);
  const cursors: SliceCursor[] = [];
  for (let i = 0; i < slices; i++) {
    const raw = h[`slice:${i}`];
    cursors.push(raw ? (JSON.parse(raw) as SliceCursor) : initialCursor());
  }
  return {
    target: h.target,
    alias: h.alias ?? '',
    sources: JSON.parse(h.sources ?? '[]') as string[],
    modelName: h.model_name ?? '',
    modelVersion: h.model_version ?? '',
    queue: h.queue ?? '',
    setId: h.set_id ?? '',
    slices,
    pageSize: Number(h.page_size),
    textFields: JSON.parse(h.text_fields ?? '[]') as string[],
    status: (h.status ?? 'copying') as ReindexStatus,
    createdAt: h.created_at ?? '',
    ...(h.switched_at ? { switchedAt: h.switched_at } : {}),
    ...(h.previous ? { previous: JSON.parse(h.previous) as string[] } : {}),
    cursors,
  };
}

export class ReindexStateStore {
  constructor(readonly redis: Redis) {}

  async get(target: string): Promise<ReindexRecord | undefined> {
    return parseRecord(await this.redis.hgetall(stateKey(target)));
  }

  /** Records a new run's plan (all slices at their start). */
  async create(plan: ReindexPlan): Promise<ReindexRecord> {
    const fields: Record<string, string | number> = {
      target: plan.target,
      alias: plan.alias,
      sources: JSON.stringify(plan.sources),
      model_name: plan.modelName,
      model_version: plan.modelVersion,
      queue: plan.queue,
      set_id: plan.setId,
      slices: plan.slices,
      page_size: plan.pageSize,
      text_fields: JSON.stringify(plan.textFields),
      status: 'copying',
      created_at: new Date().toISOString(),
    };
    for (let i = 0; i < plan.slices; i++) fields[`slice:${i}`] = JSON.stringify(initialCursor());
    await this.redis.multi().del(stateKey(plan.target)).hset(stateKey(plan.target), fields).expire(stateKey(plan.target), TTL_S).exec();
    return (await this.get(plan.target))!;
  }

  /**
   * Moves slice `slice` past a queued page and counts the page in the job set, atomically.
   * `docs`: documents queued in the page's job (0: none, e.g. all rejected); `rejected`: source
   * documents that could not become documents (no text), recorded as failed.
   */
  async commitPage(
    store: JobSetStore,
    rec: Pick<ReindexPlan, 'target' | 'setId'>,
    slice: number,
    cursor: SliceCursor,
    counts: { docs: number; rejected: FailedDoc[] },
  ): Promise<void> {
    const m = this.redis.multi().hset(stateKey(rec.target), `slice:${slice}`, JSON.stringify(cursor));
    await store
      .queueProduced(m, rec.setId, {
        read: counts.docs + counts.rejected.length,
        queued: counts.docs,
        jobs: counts.docs > 0 ? 1 : 0,
        rejected: counts.rejected,
      })
      .exec();
  }

  async setStatus(target: string, status: ReindexStatus, extra: Record<string, string> = {}): Promise<void> {
    await this.redis.hset(stateKey(target), { status, ...extra });
  }

  /** Starts forwarding writes to `names` (the alias and the source indices) into the new index. */
  async activate(names: string[], a: ActiveReindex): Promise<void> {
    const m = this.redis.multi();
    for (const n of names) m.set(activeKey(n), JSON.stringify(a), 'EX', TTL_S);
    await m.exec();
  }

  /** Keeps forwarding for `graceS` more seconds (after the switch: batches already in flight), then stops. */
  async deactivate(names: string[], graceS: number): Promise<void> {
    const m = this.redis.multi();
    for (const n of names) graceS > 0 ? m.expire(activeKey(n), graceS) : m.del(activeKey(n));
    await m.exec();
  }

  async active(name: string): Promise<ActiveReindex | undefined> {
    return activeReindex(this.redis, name);
  }

  async delete(target: string): Promise<void> {
    await this.redis.del(stateKey(target));
  }
}
