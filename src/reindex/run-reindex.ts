import type { JobModel } from '../model-identity.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createEncoder } from '../encoder/index.js';
import type { Encoder, ModelIdentity } from '../encoder/types.js';
import { contentHash } from '../ingest/content-hash.js';
import { encoderInput } from '../ingest/document.js';
import { waitForRoom } from '../ingest/producer.js';
import { progressReporter, waitForJobSet } from '../ingest/progress.js';
import { modelIdentity } from '../ingest/run-ingest.js';
import { startIngestWorker, type IngestWorkerHandle, type IngestWorkerOptions } from '../ingest/worker.js';
import { log as defaultLog } from '../log.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../opensearch/client.js';
import { getEngine } from '../opensearch/engine.js';
import { indexSettingsOf, relaxRefreshInterval, restoreAbandonedRefresh } from '../opensearch/bulk-settings.js';
import { ensureConceptIndex, modelMeta } from '../opensearch/indexes.js';
import { deleteIndexSafely, updateAliasesSafely } from '../opensearch/safety.js';
import { assertIndexName } from '../names.js';
import { createIngestQueue, INGEST_BATCH_JOB, JobSetStore, type FailedDoc, type IngestBatchJob, type JobSetInfo } from '../queue/index.js';
import { checkRedis, createRedis } from '../redis.js';
import { replaceIndexWithAlias } from './replace.js';
import {
  carriedMappings,
  compareStored,
  pageBatchNumber,
  pageJobId,
  planSlices,
  reindexQueueName,
  reindexSetId,
  sourceHitToDoc,
  targetIndexName,
} from './plan.js';
import { ReindexStateStore, type ReindexRecord, type SliceCursor } from './state.js';
import { SaespladeError } from '../errors.js';
import { mergeMeta, readMeta } from '../opensearch/meta.js';
import { pitPages, withPointInTime } from '../opensearch/pit.js';
import { DEFAULT_TEXT_FIELDS } from '../defaults.js';

export class ReindexError extends SaespladeError {
  override name = 'ReindexError';
}

export interface ReindexOptions {
  /** Services; `config.modelDir` is the model of the new index. */
  config: Config;
  /** Index or alias to read (never modified). */
  source: string;
  /**
   * Alias to move to the new index (default: `source`, when it is an alias). Equal to `source` when
   * that is a concrete index: the index is replaced by an alias of its name at the switch (kept as
   * `<name>-<old model>-<old version>` unless `deleteOld`).
   */
  alias?: string;
  /** Source fields encoded, in order (default `title,text`; first of several = title). */
  textFields?: string[];
  /** Slices of the point in time read in parallel (default 2). */
  slices?: number;
  /** Documents per page = per job (default 32). */
  pageSize?: number;
  /** Queue of the reindex jobs (default `saesplade-reindex-<new index>`); its workers must run the new model. */
  queue?: string;
  /** Delete the indices the alias pointed to after the switch (default: keep them for rollback). */
  deleteOld?: boolean;
  /** Wait for the jobs, verify, switch the alias (default false: queue the pages and return). */
  wait?: boolean;
  /** Run a worker in this process (implies wait). */
  withWorker?: boolean | Omit<IngestWorkerOptions, 'config'>;
  /** Delete the new index and the run's state first, and start over. */
  restart?: boolean;
  /** Documents re-encoded and compared before the switch (default 20). */
  sampleSize?: number;
  /** Smallest cosine between a stored and a re-encoded vector that passes (default 0.99). */
  minCosine?: number;
  /** Point-in-time keep-alive between pages (default 5m). */
  keepAlive?: string;
  /** Forwarding of writes goes on this long after the switch, for batches in flight (default 600 s). */
  forwardGraceS?: number;
  /** Show progress on stderr while waiting (default true). */
  progress?: boolean;
  /** Stop reading (the run returns `interrupted`; run again to continue). */
  signal?: AbortSignal;
  /** Called after each page is queued and committed. */
  onPage?: (p: { slice: number; page: number; docs: number; pagesThisRun: number }) => void;
  log?: Logger;
}

export interface ReindexVerification {
  sourceCount: number;
  targetCount: number;
  sampled: number;
  minCosine: number;
  maxRelDiff: number;
  hashMismatches: string[];
  problems: string[];
  ok: boolean;
}

export interface ReindexResult {
  alias: string;
  sources: string[];
  target: string;
  queue: string;
  setId: string;
  model: JobModel;
  /** `queued`: pages queued, not waited for; `interrupted`: stopped by the signal; `switched`: done now; `already-switched`: nothing to do. */
  status: 'queued' | 'interrupted' | 'switched' | 'already-switched';
  created: boolean;
  resumed: boolean;
  pagesThisRun: number;
  slices: number;
  pageSize: number;
  final?: JobSetInfo;
  /** Wall time from the start of this run to all jobs done, and the documents per second over it. */
  elapsedS?: number;
  docsPerS?: number;
  verification?: ReindexVerification;
  previous?: string[];
  deleted?: string[];
  /** The concrete index of the alias's name that the alias replaced (`--alias` = `--source`, an index); its content is `previous` unless deleted. */
  replaced?: string;
}

/** The concrete indices behind an index name or alias; whether it is an alias. */
export async function resolveIndices(client: Client, name: string): Promise<{ indices: string[]; isAlias: boolean }> {
  const isAlias = (await client.indices.existsAlias({ name })).body as boolean;
  const exists = (await client.indices.exists({ index: name })).body as boolean;
  if (!exists) throw new ReindexError(`source "${name}" is neither an index nor an alias on the cluster`);
  const res = await client.indices.get({ index: name });
  return { indices: Object.keys(res.body as object).sort(), isAlias };
}

/** The indices an alias points to ([] when it does not exist). */
export async function aliasIndices(client: Client, alias: string): Promise<string[]> {
  const isAlias = (await client.indices.existsAlias({ name: alias })).body as boolean;
  if (!isAlias) return [];
  const res = await client.indices.getAlias({ name: alias });
  return Object.keys(res.body as object).sort();
}

async function countDocs(client: Client, index: string): Promise<number> {
  return ((await client.count({ index })).body as { count: number }).count;
}

/** What every step of a reindex run shares: the services, the stores, the model, the options. */
interface RunContext {
  opts: ReindexOptions;
  config: ReindexOptions['config'];
  log: Logger;
  wait: boolean;
  model: ModelIdentity;
  client: Client;
  redis: ReturnType<typeof createRedis>;
  store: JobSetStore;
  state: ReindexStateStore;
  engine: Awaited<ReturnType<typeof getEngine>>;
}

/** The run's plan: what to read, what to build, which alias to move (step 1 and 2). */
interface Planned {
  alias: string;
  target: string;
  setId: string;
  base: Pick<ReindexResult, 'alias' | 'target' | 'setId' | 'model'>;
  /** `--alias` = `--source`, a concrete index: at the switch the index gives way to an alias of its name. */
  replacing: boolean;
  run: ReindexRecord;
  resumed: boolean;
}

/**
 * `saesplade reindex`: re-encodes the documents of `source` with the configured model into a new
 * index named for the model version, resumably, then (when waiting) verifies it and moves the alias
 * to it in one `_aliases` call. See docs/REINDEX.md. In steps: planRun (what to read and build,
 * resume or start) → prepareTarget (create the index, relax its refresh, forward writes) →
 * copyPages (one job per page of each slice) → wait for the jobs → verifyAndSwitch.
 */
export async function reindex(opts: ReindexOptions): Promise<ReindexResult> {
  const { config } = opts;
  const log = opts.log ?? defaultLog;
  assertIndexName('--source', opts.source);
  if (opts.alias !== undefined) assertIndexName('--alias', opts.alias);
  const model = modelIdentity(config.modelDir);
  await checkRedis(config);
  const client = createOpenSearchClient(config);
  const redis = createRedis(config);
  let worker: IngestWorkerHandle | undefined;
  let queue: ReturnType<typeof createIngestQueue> | undefined;
  let restoreRefresh: (() => Promise<void>) | undefined;
  try {
    await checkOpenSearch(client, config.opensearchUrl);
    const rc: RunContext = {
      opts,
      config,
      log,
      model,
      client,
      redis,
      wait: Boolean(opts.wait || opts.withWorker),
      store: new JobSetStore(redis),
      state: new ReindexStateStore(redis),
      engine: await getEngine(client),
    };
    const planned = await planRun(rc);
    if ('status' in planned) return planned;
    const { run, setId } = planned;

    const prepared = await prepareTarget(rc, planned);
    restoreRefresh = prepared.restoreRefresh;
    queue = createIngestQueue(run.queue, redis);
    if (opts.withWorker) {
      const w = typeof opts.withWorker === 'object' ? opts.withWorker : {};
      worker = await startIngestWorker({ ...w, config: { ...config, queue: run.queue }, client, log });
    }
    const started = Date.now();

    const pagesThisRun = await copyPages(rc, planned, queue);
    const common = { ...planned.base, sources: run.sources, queue: run.queue, created: prepared.created, resumed: planned.resumed, pagesThisRun, slices: run.slices, pageSize: run.pageSize };
    if (opts.signal?.aborted === true) return { ...common, status: 'interrupted' };
    await rc.store.markProducerDone(setId);
    if (run.status === 'copying') await rc.state.setStatus(planned.target, 'copied');
    if (!rc.wait) return { ...common, status: 'queued' };

    // Wait for the jobs (and forwarded writes).
    const reporter = opts.progress === false ? undefined : progressReporter();
    let final: JobSetInfo;
    try {
      final = await waitForJobSet({ store: rc.store, queue, setId, client, onUpdate: (i) => reporter?.update(i), ...(opts.signal ? { signal: opts.signal } : {}) });
    } finally {
      reporter?.stop();
    }
    if (!final.done) return { ...common, status: 'interrupted', final };
    const elapsedS = (Date.now() - started) / 1000;
    const docsPerS = Math.round(((final.indexed + final.skipped + final.failed) / Math.max(elapsedS, 1e-3)) * 10) / 10;

    await restoreRefresh?.();
    const switched = await verifyAndSwitch(rc, planned, prepared.forwarded, final, worker?.encoder);
    return { ...common, status: 'switched', final, elapsedS, docsPerS, ...switched };
  } finally {
    await restoreRefresh?.().catch((err: unknown) => log.error({ err: (err as Error).message }, 'could not restore refresh_interval of the new index'));
    await worker?.close();
    await queue?.close();
    await Promise.allSettled([redis.quit(), client.close()]);
  }
}

/**
 * Step 1 and 2: the source's indices, the alias to move and the target index; then the stored plan
 * when resuming (or a new one), or the answer right away when the alias already points to the target.
 */
async function planRun(rc: RunContext): Promise<Planned | ReindexResult> {
  const { opts, client, state, store, model, log } = rc;
  const src = await resolveIndices(client, opts.source);
  const alias = opts.alias ?? (src.isAlias ? opts.source : undefined);
  if (!alias) {
    throw new ReindexError(`--source "${opts.source}" is an index, not an alias: name the alias to create or move with --alias`);
  }
  // `--alias` = `--source`, a concrete index: at the switch the index gives way to an alias of its name (src/reindex/replace.ts).
  const replacing = !src.isAlias && alias === opts.source;
  if (!replacing && !(await client.indices.existsAlias({ name: alias })).body && (await client.indices.exists({ index: alias })).body) {
    throw new ReindexError(
      `--alias "${alias}" is the name of an index; an alias cannot share it (to replace that index by an alias of its name, ` +
        `reindex it: --source ${alias} --alias ${alias})`,
    );
  }
  const target = targetIndexName(alias, model);
  const current = await aliasIndices(client, alias);
  const setId = reindexSetId(target);
  const base = { alias, target, setId, model: { name: model.name, version: model.version, dictionarySize: model.dictionarySize } };

  if (current.length === 1 && current[0] === target) {
    const rec = await state.get(target);
    return {
      ...base,
      sources: rec?.sources ?? [],
      queue: rec?.queue ?? '',
      status: 'already-switched',
      created: false,
      resumed: true,
      pagesThisRun: 0,
      slices: rec?.slices ?? 0,
      pageSize: rec?.pageSize ?? 0,
      previous: rec?.previous ?? [],
    };
  }
  if (src.indices.includes(target)) throw new ReindexError(`the source already is ${target} (built with ${model.name}@${model.version})`);

  const stale = opts.restart ? await state.get(target) : undefined;
  if (opts.restart) {
    await deleteIndexSafely(client, target, 'reindex --restart');
    await Promise.all([state.delete(target), store.delete(setId)]);
    // Jobs an earlier run left on its queue (pages, writes forwarded after its switch) would land in the rebuilt index.
    const leftover = createIngestQueue(stale?.queue ?? opts.queue ?? reindexQueueName(target), rc.redis);
    await leftover.obliterate({ force: true }).finally(() => leftover.close());
    log.info({ target }, 'reindex: restarting from scratch');
  }

  let rec = await state.get(target);
  const resumed = rec !== undefined;
  if (rec && rec.status === 'switched') {
    throw new ReindexError(
      `${target} was switched to and then rolled back (the alias now points to ${current.join(', ') || 'nothing'}); ` +
        `its copy is stale: run again with --restart to rebuild it`,
    );
  }
  if (!rec) {
    const count = await countDocs(client, src.indices.join(','));
    rec = await state.create({
      target,
      alias,
      sources: src.indices,
      modelName: model.name,
      modelVersion: model.version,
      queue: opts.queue ?? reindexQueueName(target),
      setId,
      slices: planSlices(opts.slices, count),
      pageSize: Math.max(1, Math.floor(opts.pageSize ?? 32)),
      textFields: opts.textFields?.length ? opts.textFields : [...DEFAULT_TEXT_FIELDS],
    });
  } else {
    log.info({ target, slices: rec.slices, pageSize: rec.pageSize, pagesDone: rec.cursors.map((c) => c.page) }, 'reindex: resuming');
  }
  return { alias, target, setId, base, replacing, run: rec, resumed };
}

/**
 * Step 3 and 4: the new index (the concept mapping plus the sources' own fields), its bulk-load
 * refresh interval while it is filled (waiting runs only), and from now on writes to the alias or
 * the sources forwarded to it.
 */
async function prepareTarget(rc: RunContext, p: Planned): Promise<{ created: boolean; forwarded: string[]; restoreRefresh?: () => Promise<void> }> {
  const { client, redis, config, log, model, state, store } = rc;
  const { run, target, alias, setId } = p;
  const got = (await client.indices.get({ index: run.sources.join(',') })).body as Record<string, any>;
  const carried = carriedMappings(run.sources.map((i) => got[i] ?? {}));
  const { created } = await ensureConceptIndex(client, target, model, { ...carried, ...indexSettingsOf(config) });
  // Left relaxed by a killed run of this reindex: put back first (this run may relax it again).
  await restoreAbandonedRefresh(client, redis, target, log);
  const relaxed = rc.wait && config.bulkRefreshInterval !== undefined ? await relaxRefreshInterval(client, redis, target, config.bulkRefreshInterval, log) : undefined;

  const forwarded = [...new Set([alias, ...run.sources])];
  await state.activate(forwarded, { alias, target, queue: run.queue, setId, model: p.base.model });
  if (!(await store.get(setId))) await store.create({ id: setId, source: `reindex:${run.sources.join(',')}`, index: target, queue: run.queue });
  return { created, forwarded, ...(relaxed ? { restoreRefresh: () => relaxed.restore() } : {}) };
}

/** Step 5: every unfinished slice pages through one point in time, one job per page. Returns the pages queued now. */
async function copyPages(rc: RunContext, p: Planned, q: ReturnType<typeof createIngestQueue>): Promise<number> {
  const { client, engine, state, store, opts } = rc;
  const { run, setId, target } = p;
  let pagesThisRun = 0;
  const interrupted = () => opts.signal?.aborted === true;
  if (!run.cursors.some((c) => !c.done)) return 0;
  const keepAlive = opts.keepAlive ?? '5m';
  await withPointInTime(engine, run.sources.join(','), keepAlive, async (pit) => {
    const copySlice = async (slice: number) => {
      const cur: SliceCursor = run.cursors[slice]!;
      if (cur.done || interrupted()) return;
      const pages = pitPages(client, engine, { pit, keepAlive, size: run.pageSize, slice, slices: run.slices, after: cur.after, beforePage: () => waitForRoom(q, 1000) });
      let page = cur.page;
      for await (const { hits, after, last } of pages) {
        const docs: IngestBatchJob['docs'] = [];
        const rejected: FailedDoc[] = [];
        for (const h of hits) {
          const parsed = sourceHitToDoc(engine.withoutType(h) as typeof h, run.textFields);
          if (parsed.ok) docs.push(parsed.doc);
          else rejected.push({ source: `${h._index}/${h._id}`, id: h._id, code: parsed.code, reason: parsed.reason, at: new Date().toISOString() });
        }
        if (docs.length > 0) {
          const data: IngestBatchJob = { setId, index: target, batch: pageBatchNumber(slice, page), model: p.base.model, docs, createOnly: true };
          await q.add(INGEST_BATCH_JOB, data, { jobId: pageJobId(setId, slice, page) });
        }
        const next: SliceCursor = { after, page: page + 1, done: last };
        await state.commitPage(store, run, slice, next, { docs: docs.length, rejected });
        run.cursors[slice] = next;
        page = next.page;
        pagesThisRun++;
        opts.onPage?.({ slice, page: next.page - 1, docs: docs.length, pagesThisRun });
        if (interrupted()) break;
      }
    };
    await Promise.all(run.cursors.map((_, i) => copySlice(i)));
  });
  return pagesThisRun;
}

/** Step 7: verify the new index, then switch the alias atomically (or replace the index by an alias of its name), stop forwarding, delete the old with --delete-old. */
async function verifyAndSwitch(
  rc: RunContext,
  p: Planned,
  forwarded: string[],
  final: JobSetInfo,
  workerEncoder: Encoder | undefined,
): Promise<Pick<ReindexResult, 'verification' | 'previous' | 'deleted' | 'replaced'>> {
  const { client, config, model, state, opts, log } = rc;
  const { run, target, alias, setId } = p;
  const encoder = workerEncoder ?? (await createEncoder({ modelDir: config.modelDir, device: config.device, workers: 0 }));
  let verification: ReindexVerification;
  try {
    verification = await verifyReindex(client, { sources: run.sources, target, textFields: run.textFields, model, encoder, sampleSize: opts.sampleSize ?? 20, minCosine: opts.minCosine ?? 0.99 });
  } finally {
    if (!workerEncoder) await encoder.close();
  }
  if (!verification.ok) {
    await state.setStatus(target, 'verify_failed');
    throw new ReindexError(
      `verification of ${target} failed, the alias "${alias}" was not moved: ${verification.problems.join('; ')}` +
        (final.failed > 0 ? `; see the ${final.failed} failed documents with: saesplade failed ${setId}` : '') +
        `. Writes are still forwarded; fix the cause and run the same command again.`,
    );
  }
  const replaced = p.replacing ? await replaceIndexWithAlias(client, alias, target, { sources: run.sources, model, setId, keepOld: !opts.deleteOld }) : undefined;
  const previous = replaced ? replaced.previous : await switchAlias(client, alias, target, { sources: run.sources, model, setId });
  await state.setStatus(target, 'switched', { switched_at: new Date().toISOString(), previous: JSON.stringify(previous) });
  await state.deactivate(forwarded, opts.forwardGraceS ?? 600);
  const deleted: string[] = [...(replaced?.deleted ?? [])];
  if (opts.deleteOld) {
    for (const idx of previous.filter((i) => i !== target)) {
      if (await deleteIndexSafely(client, idx, 'reindex --delete-old')) deleted.push(idx);
    }
  }
  log.info({ alias, from: previous, to: target }, 'reindex: alias switched');
  return { verification, previous, deleted, ...(replaced ? { replaced: alias } : {}) };
}

/**
 * Counts equal (after a refresh of both sides), and a random sample of the new index re-encoded
 * from the source: the same content hash, and each stored vector within `minCosine` of the fresh
 * one (rank_features keeps ~9 significant bits; the int8 default model also depends on batch
 * composition, so exact equality is not asked).
 */
export async function verifyReindex(
  client: Client,
  p: { sources: string[]; target: string; textFields: string[]; model: ModelIdentity; encoder: Encoder; sampleSize: number; minCosine: number },
): Promise<ReindexVerification> {
  const src = p.sources.join(',');
  await client.indices.refresh({ index: `${src},${p.target}` });
  const [sourceCount, targetCount] = await Promise.all([countDocs(client, src), countDocs(client, p.target)]);
  const problems: string[] = [];
  if (sourceCount !== targetCount) problems.push(`document counts differ: source ${sourceCount}, new index ${targetCount}`);

  const sample = await client.search({
    index: p.target,
    body: { size: p.sampleSize, query: { function_score: { query: { match_all: {} }, random_score: {} } }, _source: ['concepts', 'content_hash'] } as any,
  });
  const hits = (sample.body as any).hits.hits as { _id: string; _source: { concepts?: Record<string, number>; content_hash?: string } }[];
  const ids = hits.map((h) => h._id);
  const fromSource = ids.length
    ? (((await client.search({ index: src, body: { size: ids.length, query: { ids: { values: ids } } } as any })).body as any).hits.hits as {
        _id: string;
        _index: string;
        _source: Record<string, unknown>;
      }[])
    : [];
  const byId = new Map(fromSource.map((h) => [h._id, h]));
  const pairs: { id: string; stored: (typeof hits)[number]['_source']; doc: Parameters<typeof encoderInput>[0] & { title?: string; text: string } }[] = [];
  for (const h of hits) {
    const s = byId.get(h._id);
    if (!s) {
      problems.push(`${h._id} is in the new index but not in the source`);
      continue;
    }
    const parsed = sourceHitToDoc(s, p.textFields);
    if (!parsed.ok) {
      problems.push(`${h._id}: source document is no longer valid (${parsed.reason})`);
      continue;
    }
    pairs.push({ id: h._id, stored: h._source, doc: parsed.doc });
  }
  const vectors = pairs.length ? await p.encoder.encode(pairs.map((x) => encoderInput(x.doc)), 'document') : [];
  let minCos = 1;
  let maxRel = 0;
  const hashMismatches: string[] = [];
  pairs.forEach((x, i) => {
    if (x.stored.content_hash !== contentHash(p.model, x.doc)) hashMismatches.push(x.id);
    const c = compareStored(x.stored.concepts ?? {}, vectors[i]!);
    minCos = Math.min(minCos, c.cosine);
    maxRel = Math.max(maxRel, c.maxRelDiff);
    if (c.cosine < p.minCosine) problems.push(`${x.id}: stored vector differs from a fresh encoding (cosine ${c.cosine.toFixed(4)} < ${p.minCosine})`);
  });
  if (hashMismatches.length) problems.push(`content hash differs for ${hashMismatches.slice(0, 5).join(', ')} (source changed since it was copied?)`);
  return {
    sourceCount,
    targetCount,
    sampled: pairs.length,
    minCosine: Math.round(minCos * 1e6) / 1e6,
    maxRelDiff: Math.round(maxRel * 1e6) / 1e6,
    hashMismatches,
    problems,
    ok: problems.length === 0,
  };
}

/**
 * Records the indices the alias points to now in the new index's `_meta.reindex.previous` (for
 * rollback), then moves the alias with one `_aliases` call (remove from each, add to the new one):
 * searches through the alias see the old index or the new one, never none. Returns the previous.
 */
export async function switchAlias(
  client: Client,
  alias: string,
  target: string,
  info: { sources: string[]; model: ModelIdentity; setId: string },
): Promise<string[]> {
  const previous = (await aliasIndices(client, alias)).filter((i) => i !== target);
  await mergeMeta(client, target, {
    ...modelMeta(info.model),
    reindex: { alias, sources: info.sources, previous, job_set: info.setId, switched_at: new Date().toISOString() },
  });
  await updateAliasesSafely(client, [...previous.map((index) => ({ remove: { index, alias } })), { add: { index: target, alias } }], 'reindex alias switch');
  return previous;
}

export interface RollbackResult {
  alias: string;
  from: string;
  to: string[];
}

/**
 * `saesplade rollback --alias A`: moves A back (one `_aliases` call) to the indices recorded in the
 * `_meta.reindex.previous` of the index it points to now. The index rolled back from is kept.
 */
export async function rollback(opts: { config: Config; alias: string; log?: Logger }): Promise<RollbackResult> {
  assertIndexName('--alias', opts.alias);
  const client = createOpenSearchClient(opts.config);
  try {
    await checkOpenSearch(client, opts.config.opensearchUrl);
    const current = await aliasIndices(client, opts.alias);
    if (current.length !== 1) {
      throw new ReindexError(`alias "${opts.alias}" points to ${current.length ? current.join(', ') : 'no index'}; rollback needs exactly one`);
    }
    const from = current[0]!;
    const meta = await readMeta(client, from);
    const previous: string[] = Array.isArray(meta.reindex?.previous) ? meta.reindex.previous : [];
    if (previous.length === 0) {
      throw new ReindexError(`${from} records no previous index for "${opts.alias}" (_meta.reindex.previous): nothing to roll back to`);
    }
    for (const p of previous) {
      if (!(await client.indices.exists({ index: p })).body) {
        throw new ReindexError(`the previous index ${p} no longer exists (deleted with --delete-old?): cannot roll back`);
      }
    }
    await updateAliasesSafely(client, [{ remove: { index: from, alias: opts.alias } }, ...previous.map((index) => ({ add: { index, alias: opts.alias } }))], 'rollback');
    await mergeMeta(client, from, (m) => ({ reindex: { ...m.reindex, rolled_back_at: new Date().toISOString() } }));
    (opts.log ?? defaultLog).info({ alias: opts.alias, from, to: previous }, 'rollback: alias moved back');
    return { alias: opts.alias, from, to: previous };
  } finally {
    await client.close();
  }
}
