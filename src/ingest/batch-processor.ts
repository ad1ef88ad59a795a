import type { Client } from '@opensearch-project/opensearch';
import type { Logger } from 'pino';
import type { Encoder } from '../encoder/types.js';
import { describeModel, sameJobModel } from '../model-identity.js';
import { CONCEPT_FIELD } from '../opensearch/indexes.js';
import type { FailedDoc, IngestBatchJob, IngestBatchResult, JobSetStore } from '../queue/index.js';
import { toFeatureMap } from '../sparse.js';
import { canonicalJson, contentHash } from './content-hash.js';
import { encoderInput, type SourceDoc } from './document.js';
import { PermanentIngestError, TransientIngestError, classifyError, isRetryableStatus } from './errors.js';
import { isClusterUnavailable, type OutageGate } from './outage.js';
import { BusyBackoff, isClusterBusy } from './busy.js';
import { DEFAULT_OUTAGE_PATIENCE_S } from '../defaults.js';

/** What a worker holds for all the jobs it runs: built once per process. */
export interface BatchContext {
  client: Client;
  encoder: Encoder;
  store: JobSetStore;
  /** Creates the index or checks its model; called before each batch, expected to cache. */
  ensureIndex: (index: string) => Promise<void>;
  /** Options of `client.helpers.bulk` (see BulkIndexOptions). */
  bulk?: BulkIndexOptions;
  /**
   * Called after a batch landed, before its outcome is counted (reindex uses it to forward writes
   * to the index being built, src/ingest/forward.ts). Must be idempotent: a throw retries the job.
   */
  afterBatch?: (job: IngestBatchJob, jobId: string) => Promise<void>;
  /**
   * With a gate, a run that meets an unavailable cluster (connection refused, whole-request
   * 502/503/504) spends no attempt: it waits for the cluster there and runs again (src/ingest/outage.ts).
   */
  outage?: OutageGate;
  /**
   * How long a run may back off whole-request 429s in place before they spend the job's attempts,
   * ms (default: the gate's outage patience, else 600 s; src/ingest/busy.ts).
   */
  busyPatienceMs?: number;
  log?: Logger;
}

/** How one run of a batch job relates to its earlier runs (from the BullMQ job). */
export interface BatchAttempt {
  jobId: string;
  /** No retry follows if this run fails (attempts exhausted). */
  final: boolean;
  /** Ids that earlier runs of this job indexed (so that this run counts them as indexed, not skipped). */
  indexedBefore: ReadonlySet<string>;
  /**
   * Ids that an earlier run of this job sent in a bulk request whose answer it never counted (the
   * cluster went away, the worker was killed, the count failed): found unchanged in the index,
   * they landed and count as indexed, not skipped.
   */
  sentBefore?: ReadonlySet<string>;
  /** Saves ids indexed by this run before a transient failure, for the next run. */
  saveIndexed: (ids: string[]) => Promise<void>;
  /**
   * Saves, before each bulk request, the ids this job is about to write (with those of earlier
   * runs), so that a run after a crash knows which unchanged documents this job itself wrote.
   */
  saveSent?: (ids: string[]) => Promise<void>;
}

/** The document as stored in the index. */
export interface IndexedDocument {
  title?: string;
  text: string;
  [CONCEPT_FIELD]: Record<string, number>;
  content_hash: string;
  model_version: string;
  metadata?: Record<string, unknown>;
}

export interface BulkIndexOptions {
  /** Bytes per bulk request (default 5 MB, the helper's default). */
  flushBytes?: number;
  /** Per-item retries of 429 inside one job run (default 3). */
  retries?: number;
  /** Wait between those retries, ms (default 1000). */
  wait?: number;
  /** `refresh` parameter of the bulk requests (default false: refresh is the caller's business). */
  refresh?: boolean | 'wait_for';
  /** Bulk action (default `index`). With `create`, an item refused with 409 (already there) counts as existing. */
  opType?: 'index' | 'create';
}

/**
 * Runs one batch job: skip documents whose stored content hash (and metadata) is unchanged, encode
 * the rest, bulk-index them, and count the outcome in the job set exactly once.
 *
 * Fate of failures: a bulk item rejected by OpenSearch with a 4xx (mapping, size) is a failed
 * document with OpenSearch's reason, and the batch proceeds. Items refused with 429/5xx, and
 * whole-request failures (connection, timeout, 5xx), throw `TransientIngestError` so BullMQ retries
 * the job with back-off; the retry re-checks content hashes, so only the items that did not land
 * are encoded and written again. `PermanentIngestError` (model mismatch, index refused) fails the
 * batch's documents at once. On the final attempt, whatever did not land is recorded as failed.
 * An unavailable cluster (with a gate) and a whole-request 429 are waited out in place first,
 * without spending an attempt (outage.ts, busy.ts).
 */
export async function runIngestBatch(ctx: BatchContext, job: IngestBatchJob, attempt: BatchAttempt): Promise<IngestBatchResult> {
  const gate = ctx.outage;
  const busy = new BusyBackoff({ patienceMs: ctx.busyPatienceMs ?? gate?.patienceMs ?? DEFAULT_OUTAGE_PATIENCE_S * 1000 });
  // Outages: wait for the cluster in place (the job keeps its lock and its attempts), then run the
  // batch again. A whole-request 429 (a full thread pool) is backed off in place the same way, for
  // a bounded time (src/ingest/busy.ts). Documents sent by a run that met either may have landed:
  // the next run finds them unchanged and counts them as indexed (this job wrote them), not skipped.
  let since: number | undefined;
  let current = attempt;
  for (;;) {
    const sent = new Set<string>();
    const waitBusy = busy.canWait();
    const waitsFor = (err: unknown) => (gate !== undefined && isClusterUnavailable(err)) || (waitBusy && isClusterBusy(err));
    try {
      return await runOnce(ctx, job, current, sent, waitsFor);
    } catch (err) {
      if (!waitsFor(err)) throw err;
      if (gate && isClusterUnavailable(err)) {
        since ??= Date.now();
        ctx.log?.debug({ job: attempt.jobId, err: (err as Error).message }, 'cluster unavailable: waiting for it');
        await gate.waitUntilUp(err, since);
      } else {
        if (busy.count === 0) ctx.log?.warn({ job: attempt.jobId }, 'OpenSearch answered 429 (busy): backing off in place, no attempt spent');
        await busy.wait();
      }
      if (sent.size > 0) current = { ...current, sentBefore: new Set([...(current.sentBefore ?? []), ...sent]) };
    }
  }
}

async function runOnce(
  ctx: BatchContext,
  job: IngestBatchJob,
  attempt: BatchAttempt,
  sent: Set<string>,
  /** Errors to let through untouched: the caller waits (for the cluster, or out of a 429) and runs again. */
  passThrough: (err: unknown) => boolean = () => false,
): Promise<IngestBatchResult> {
  const { docs } = job;
  const t0 = Date.now();
  /** Set when this run already decided the fate of its documents before throwing. */
  let settled = false;
  /**
   * The batch's outcome once its bulk write is answered: what follows (forwarding, the commit) can
   * still fail, and then these documents are in the index and count as indexed, not failed.
   */
  let landed: { indexed: number; skipped: number; rejected: FailedDoc[] } | undefined;
  try {
    const model = ctx.encoder.model;
    if (job.model && !sameJobModel(job.model, model)) {
      throw new PermanentIngestError(
        `job was queued for model ${describeModel(job.model)} but this worker runs ${describeModel(model)}`,
        { code: 'model_mismatch' },
      );
    }
    await ctx.ensureIndex(job.index);

    const hashes = docs.map((d) => contentHash(model, d));
    const stored = await storedState(ctx.client, job.index, docs);
    const todo: number[] = [];
    let skipped = 0;
    /** Documents of this batch an earlier run of the job wrote (found unchanged now). */
    const earlier: string[] = [];
    docs.forEach((d, i) => {
      const s = stored.get(d.id);
      const same =
        s !== undefined && (job.createOnly === true || (s.hash === hashes[i] && s.metadata === canonicalJson(d.metadata ?? null)));
      if (!same) todo.push(i);
      else if (attempt.indexedBefore.has(d.id) || attempt.sentBefore?.has(d.id)) earlier.push(d.id);
      else skipped++;
    });
    const indexedEarlier = earlier.length;

    const tEncode = Date.now();
    const vectors = todo.length > 0 ? await ctx.encoder.encode(todo.map((i) => encoderInput(docs[i]!)), 'document') : [];
    const encodeMs = Date.now() - tEncode;

    const tIndex = Date.now();
    const bodies = todo.map((i, k) => ({ doc: docs[i]!, body: indexedDocument(docs[i]!, toFeatureMap(vectors[k]!), hashes[i]!, model.version) }));
    const bulkOpts = job.createOnly ? { ...ctx.bulk, opType: 'create' as const } : ctx.bulk;
    for (const b of bodies) sent.add(b.doc.id);
    // Recorded before the write: if this process dies after the write landed and before the batch
    // is counted, the job's next run finds these unchanged and counts them as indexed, not skipped.
    if (bodies.length > 0 && attempt.saveSent) await attempt.saveSent([...new Set([...(attempt.sentBefore ?? []), ...sent])]);
    const res: BulkOutcome =
      bodies.length > 0 ? await bulkIndex(ctx.client, job.index, bodies, bulkOpts) : { indexed: [], rejected: [], retryable: [], existing: [] };
    skipped += res.existing.length;
    const indexMs = Date.now() - tIndex;

    if (res.retryable.length > 0) {
      const reason = res.retryable.map((r) => `${r.doc.id}: ${r.status} ${r.reason}`).slice(0, 3).join('; ');
      const err = new TransientIngestError(`${res.retryable.length} of ${bodies.length} documents not indexed (cluster busy or unavailable): ${reason}`);
      settled = true;
      if (!attempt.final) {
        await attempt.saveIndexed([...new Set([...attempt.indexedBefore, ...earlier, ...res.indexed])]);
        throw err;
      }
      const failed = [...res.rejected, ...res.retryable.map((r) => failedDoc(r.doc, 'index_unavailable', `${r.status} ${r.reason} (after all attempts)`))];
      await ctx.store.commitBatch(job.setId, attempt.jobId, { indexed: res.indexed.length + indexedEarlier, skipped, failed });
      throw err;
    }

    landed = { indexed: res.indexed.length + indexedEarlier, skipped, rejected: res.rejected };
    await ctx.afterBatch?.(job, attempt.jobId);
    const result: IngestBatchResult = {
      indexed: res.indexed.length + indexedEarlier,
      skipped,
      failed: res.rejected.length,
      encodeMs,
      indexMs,
    };
    await ctx.store.commitBatch(job.setId, attempt.jobId, { indexed: result.indexed, skipped, failed: res.rejected });
    ctx.log?.debug({ job: attempt.jobId, ...result, ms: Date.now() - t0 }, 'batch done');
    return result;
  } catch (raw) {
    if (settled) throw raw;
    if (passThrough(raw)) throw raw;
    const err = classifyError(raw);
    if (landed) {
      // The write landed; forwarding or counting failed. On the last attempt the documents are
      // counted as what they are (indexed), with the failure logged; else the job is retried, and
      // the retry finds them unchanged and counts them as indexed (saveSent / saveIndexed).
      if (err instanceof PermanentIngestError || attempt.final) {
        ctx.log?.error({ job: attempt.jobId, err: err.message }, 'batch indexed, but the step after the write failed');
        await ctx.store.commitBatch(job.setId, attempt.jobId, { indexed: landed.indexed, skipped: landed.skipped, failed: landed.rejected });
      }
      throw err;
    }
    if (err instanceof PermanentIngestError || attempt.final) {
      // Nothing of this run landed (the failure came before or instead of the bulk response):
      // the batch's documents are failed, except those an earlier run indexed.
      const code = typeof err.meta.code === 'string' ? err.meta.code : err instanceof PermanentIngestError ? 'batch_rejected' : 'batch_failed';
      const failed = docs.filter((d) => !attempt.indexedBefore.has(d.id)).map((d) => failedDoc(d, code, err.message));
      await ctx.store.commitBatch(job.setId, attempt.jobId, { indexed: docs.length - failed.length, skipped: 0, failed });
    }
    throw err;
  }
}

export function indexedDocument(doc: SourceDoc, concepts: Record<string, number>, hash: string, modelVersion: string): IndexedDocument {
  const body: IndexedDocument = { ...doc.fields, text: doc.text, [CONCEPT_FIELD]: concepts, content_hash: hash, model_version: modelVersion };
  if (doc.title !== undefined) body.title = doc.title;
  if (doc.metadata !== undefined) body.metadata = doc.metadata;
  return body;
}

/** A failed document's record; it keeps the document itself, so that `failed --requeue` can queue it again. */
export function failedDoc(doc: SourceDoc, code: string, reason: string): FailedDoc {
  return { source: doc.source, id: doc.id, code, reason, at: new Date().toISOString(), doc };
}

/** Stored content hash and canonical metadata of the batch's documents that exist in the index. */
async function storedState(client: Client, index: string, docs: SourceDoc[]): Promise<Map<string, { hash?: string; metadata: string }>> {
  const res = await client.mget({ index, body: { ids: docs.map((d) => d.id) }, _source_includes: ['content_hash', 'metadata'] } as any);
  const out = new Map<string, { hash?: string; metadata: string }>();
  for (const d of (res.body as any).docs ?? []) {
    if (d.found) out.set(d._id, { hash: d._source?.content_hash, metadata: canonicalJson(d._source?.metadata ?? null) });
  }
  return out;
}

interface BulkOutcome {
  indexed: string[];
  /** 4xx item errors: the document itself is refused (mapping, size, ...). */
  rejected: FailedDoc[];
  /** 429 after the helper's retries, and 5xx item errors: retry the job later. */
  retryable: { doc: SourceDoc; status: number; reason: string }[];
  /** `opType: 'create'` only: ids refused with 409 because the index already has them. */
  existing: string[];
}

/**
 * Bulk-indexes with `client.helpers.bulk`: it retries 429 items itself (`retries` × `wait`) and
 * hands every other failed item to `onDrop`, where the status decides: 4xx → the document is
 * refused (recorded with OpenSearch's reason), 429/5xx → retryable. A whole-request failure
 * rejects the helper's promise and becomes a transient error of the job.
 */
async function bulkIndex(
  client: Client,
  index: string,
  items: { doc: SourceDoc; body: IndexedDocument }[],
  opts: BulkIndexOptions = {},
): Promise<BulkOutcome> {
  const dropped = new Map<string, { status: number; reason: string }>();
  const op = opts.opType ?? 'index';
  await client.helpers.bulk({
    datasource: items,
    onDocument: (it: { doc: SourceDoc; body: IndexedDocument }) => [{ [op]: { _index: index, _id: it.doc.id } }, it.body] as any,
    onDrop: (d: { status: number; error: unknown; operation: unknown }) => {
      const id = String((d.operation as any)?.[op]?._id);
      const e = d.error as any;
      const reason = e ? `${e.type}: ${e.reason}${e.caused_by ? ` (${e.caused_by.type}: ${e.caused_by.reason})` : ''}` : 'too many requests';
      dropped.set(id, { status: d.status, reason });
    },
    flushBytes: opts.flushBytes ?? 5_000_000,
    concurrency: 1,
    retries: opts.retries ?? 3,
    wait: opts.wait ?? 1000,
    refresh: opts.refresh ?? false,
  } as any);
  const out: BulkOutcome = { indexed: [], rejected: [], retryable: [], existing: [] };
  // Per item, not per id: a batch that repeats an id counts each line (the last one wins in the index).
  for (const { doc } of items) {
    const drop = dropped.get(doc.id);
    if (!drop) out.indexed.push(doc.id);
    else if (op === 'create' && drop.status === 409) out.existing.push(doc.id);
    else if (isRetryableStatus(drop.status)) out.retryable.push({ doc, ...drop });
    else out.rejected.push(failedDoc(doc, 'index_rejected', `OpenSearch ${drop.status} ${drop.reason}`));
  }
  return out;
}
