import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createEncoder, readManifest } from '../encoder/index.js';
import type { ModelIdentity } from '../encoder/types.js';
import { ingest, modelIdentity } from '../ingest/run-ingest.js';
import { log as defaultLog } from '../log.js';
import { machineInfo, type MachineInfo } from '../machine.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../opensearch/client.js';
import { CONCEPT_FIELD, ensureConceptIndex } from '../opensearch/indexes.js';
import { deleteIndexSafely } from '../opensearch/safety.js';
import { assertIndexName, assertQueueName } from '../names.js';
import { createIngestQueue, JobSetStore } from '../queue/index.js';
import { createRedis } from '../redis.js';
import { search, type SearchRequest, type SearchResult } from '../search/search.js';
import type { SearchMode } from '../search/translator.js';
import { loadBeirDataset, type BeirDataset } from './dataset.js';
import { measureIndexSize, readEvalMeta, reuseCheck, storedConceptFrequencies, writeEvalMeta, type IndexSize } from './index-stats.js';
import { evaluateRun, toTrecRun, type Qrels } from './metrics.js';
import { countProgress } from './progress.js';
import { compareWithReference, loadReference, type Consistency } from './reference.js';
import { ConceptFrequencies, docFlops, flops, summarizeLatencies, type LatencySummary } from './stats.js';
import { SaespladeError } from '../errors.js';
import { DEFAULT_RRF_K, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

export const EVAL_MODES: readonly SearchMode[] = ['concepts', 'bm25', 'hybrid', 'rrf'];

export interface EvalOptions {
  /** OpenSearch, Redis, model and device come from here; `index` and `queue` are replaced (see below). */
  config: Config;
  /** A BEIR directory: corpus.jsonl, queries.jsonl, qrels/test.tsv. */
  dataset: string;
  /** Index to build or reuse (default `eval-<dataset>-<model>-<version>`). */
  index?: string;
  /** Queue for the ingest jobs (default: a fresh `saesplade-eval-…` queue, removed afterwards). */
  queue?: string;
  /** Default: all four. */
  modes?: SearchMode[];
  /** Run only the first N judged queries (the consistency check then says it is not comparable). */
  limitQueries?: number;
  /** Use an existing index if it holds this corpus encoded by this model (else an error says why not). */
  reuse?: boolean;
  /** Delete an existing index of that name first and rebuild it. */
  recreate?: boolean;
  /** Force-merge to one segment before measuring the size on disk. */
  forceMerge?: boolean;
  /** Hits per query (default 100, for Recall@100). */
  size?: number;
  /** Query-shaping options applied to every search (pruning, hybrid weights, RRF). */
  request?: Partial<SearchRequest>;
  /** Untimed queries per mode before the timed run (default 5). */
  warmup?: number;
  /** expected.json or REPORT.md with the Python toolkit's figures (default: the model package's expected.json, else its REPORT.md). */
  referenceReport?: string;
  /** |OpenSearch nDCG@10 − Python nDCG@10| allowed (default 0.01). */
  tolerance?: number;
  /** Write one TREC run file per mode here (`<dataset>.<mode>.trec`). */
  runDir?: string;
  /** Progress on stderr (default true). */
  progress?: boolean;
  /** Ingest: documents per batch job (default 32) and in-process worker concurrency (default 2). */
  batchSize?: number;
  concurrency?: number;
  /** Keep the ingest job set (and the queue) in Redis afterwards (default: removed when nothing failed). */
  keepJobs?: boolean;
  log?: Logger;
  /** Status lines (default: stderr). */
  say?: (line: string) => void;
}

export interface ModeResult {
  mode: SearchMode;
  queries: number;
  ndcg10: number;
  mrr10: number;
  recall100: number;
  /** Client-side wall time per query: query encoding + search (+ the RRF fusion) (ms). */
  latencyMs: LatencySummary;
  /** The search part only (after the query vector is known) (ms). */
  searchMs: LatencySummary;
  /** Query encoding (ms; 0 for BM25). */
  encodeMs: LatencySummary;
  /** OpenSearch's own `took` (ms). */
  tookMs: LatencySummary;
  /** Queries that ran as BM25 because the query had no concepts. */
  fallbacks: number;
  runFile?: string;
}

export interface EvalResult {
  dataset: { name: string; dir: string; docs: number; rejectedDocs: number; judgedQueries: number; queriesRun: number; qrels: number };
  /** `dictionary`: what the package's ids are (manifest: `concepts` or `vocabulary`). */
  model: ModelIdentity & { dir: string; status: string; dictionary: string };
  engine: string;
  index: IndexSize & { name: string; reused: boolean };
  /**
   * The ingest that built the index: this run's, or (`previous`) the one recorded in the index's
   * `_meta` when it was reused.
   */
  ingest?: { docs: number; indexed: number; skipped: number; failed: number; seconds: number; docsPerS: number; setId?: string; kept?: boolean; previous?: { at: string } };
  sparsity: {
    /** Mean non-zeros of the stored document vectors (read back from `_source.concepts`). */
    docNnz: number;
    emptyDocs: number;
    /** Mean non-zeros of the query vectors as encoded, and as sent after query-side pruning. */
    queryNnz: number;
    queryNnzUsed: number;
    /** Sum over concepts of P(query has it) × P(doc has it) (queries as sent, documents as stored): QD-FLOPs. */
    flops: number;
    /** Sum over concepts of P(doc has it)^2 (documents as stored): FLOPS in SPLADE's regulariser form. */
    docFlops: number;
  };
  modes: ModeResult[];
  /** concepts / bm25 latency p50 (whole query incl. encoding, and the search part alone). */
  latencyRatio?: { total: number; search: number };
  consistency?: Consistency;
  /** The file the reference figures were read from (expected.json or REPORT.md), when there is one. */
  referenceFile?: string;
  settings: { size: number; warmup: number; hybrid: { concepts: number; bm25: number }; rrfK: number; pruning: unknown; twoPhase: unknown; inferenceFree?: boolean };
  /** CPU model and vector extensions (src/machine.ts), memory, Node, OS; load average when the run started. */
  machine: MachineInfo & { loadAvgStart: number[] };
  startedAt: string;
  elapsedS: number;
}

export class EvalError extends SaespladeError {
  override name = 'EvalError';
}

/** `eval-<dataset>-<model>-<version>`, lower-cased to what OpenSearch accepts as an index name. */
export function defaultEvalIndex(dataset: string, model: ModelIdentity): string {
  return `eval-${dataset}-${model.name}-${model.version}`.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').slice(0, 200);
}

/** `preliminary`, `final`, ... from the package's STATUS.txt; `final` when there is none. */
export function modelStatus(modelDir: string): string {
  const f = path.join(modelDir, 'STATUS.txt');
  if (!existsSync(f)) return 'final';
  return readFileSync(f, 'utf8').trim().split(/\s+/)[0] || 'final';
}

interface QueryRecord {
  hits: { id: string; score: number }[];
  totalMs: number;
  result: SearchResult;
}

function restrictQrels(qrels: Qrels, ids: Set<string>): Qrels {
  return new Map([...qrels].filter(([q]) => ids.has(q)));
}

/**
 * `saesplade eval`: builds (or reuses) a concept index of a BEIR collection through the normal
 * ingest path (queue + in-process worker), then runs every judged query through `search()` in each
 * mode and scores the rankings; reads the stored vectors back for sparsity and FLOPS, the index
 * stats for the size on disk, and compares with the Python toolkit's figure in REPORT.md.
 */
export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const loadAvgStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const say = opts.say ?? ((l: string) => process.stderr.write(l + '\n'));
  const log = opts.log ?? defaultLog;
  const modes = opts.modes ?? [...EVAL_MODES];
  const size = opts.size ?? 100;
  const warmup = opts.warmup ?? 5;
  const tolerance = opts.tolerance ?? 0.01;
  const showProgress = opts.progress ?? true;
  const modelDir = opts.config.modelDir;
  const model = modelIdentity(modelDir);

  const ds: BeirDataset = await loadBeirDataset(opts.dataset);
  const index = assertIndexName('--index', opts.index ?? defaultEvalIndex(ds.name, model));
  const ownQueue = opts.queue === undefined;
  const queueName = assertQueueName('--queue', opts.queue ?? `saesplade-eval-${Date.now().toString(36)}-${process.pid}`);
  const config: Config = { ...opts.config, index, queue: queueName };
  const queries = opts.limitQueries !== undefined ? ds.queries.slice(0, opts.limitQueries) : ds.queries;
  say(`eval ${ds.name}: ${ds.docIds.length} documents, ${ds.queries.length} judged queries${queries.length < ds.queries.length ? ` (running ${queries.length})` : ''}; index ${index}; model ${model.name}@${model.version}`);

  const client = createOpenSearchClient(config);
  try {
    const engine = await checkOpenSearch(client, config.opensearchUrl);

    // 1. The index: reuse, or (re)build through the queue and an in-process worker.
    const { reused, ingestInfo } = await prepareIndex({ opts, client, config, index, ds, model, ownQueue, say, log, showProgress });

    // 2. Size on disk and the stored vectors.
    const size_ = await measureIndexSize(client, index, Boolean(opts.forceMerge));
    const docFreq = await storedConceptFrequencies(client, index, opts.request?.conceptField ?? CONCEPT_FIELD);

    // 3. The queries, every mode; 4. scores, run files, sparsity.
    const records = await runQueries({ opts, config, index, modes, queries, size, warmup, showProgress, log, client });
    const ran = new Set(queries.map((q) => q.id));
    const qrels = restrictQrels(ds.qrels, ran);
    const modeResults = scoreModes({ modes, records, queries, qrels, runDir: opts.runDir, dataset: ds.name });
    const { queryFreq, queryNnz, qk } = querySparsity(modes, records, queries);

    const byMode = (m: SearchMode) => modeResults.find((r) => r.mode === m);
    const c = byMode('concepts');
    const b = byMode('bm25');
    const result: EvalResult = {
      dataset: { name: ds.name, dir: ds.dir, docs: ds.docIds.length, rejectedDocs: ds.rejectedDocs, judgedQueries: ds.queries.length, queriesRun: queries.length, qrels: [...qrels.values()].reduce((s, j) => s + j.size, 0) },
      model: { ...model, dir: modelDir, status: modelStatus(modelDir), dictionary: readManifest(modelDir).dictionary },
      engine: `${engine.distribution} ${engine.version}`,
      index: { ...size_, name: index, reused },
      sparsity: {
        docNnz: docFreq.meanNonZeros(),
        emptyDocs: docFreq.empty,
        queryNnz: queries.length && qk >= 0 ? queryNnz / queries.length : 0,
        queryNnzUsed: queryFreq.meanNonZeros(),
        flops: flops(queryFreq, docFreq),
        docFlops: docFlops(docFreq),
      },
      modes: modeResults,
      settings: {
        size,
        warmup,
        hybrid: opts.request?.hybrid ?? { concepts: 1, bm25: 1 },
        rrfK: opts.request?.rrf?.k ?? DEFAULT_RRF_K,
        pruning: opts.request?.pruning ?? {},
        twoPhase: opts.request?.twoPhase ?? false,
        ...(opts.request?.inferenceFree ? { inferenceFree: true } : {}),
      },
      machine: { ...machineInfo(), loadAvgStart },
      startedAt,
      elapsedS: 0,
    };
    if (ingestInfo) result.ingest = ingestInfo;
    if (c && b) result.latencyRatio = { total: c.latencyMs.p50 / b.latencyMs.p50, search: c.searchMs.p50 / b.searchMs.p50 };

    // 5. Consistency with the Python toolkit's exact dot products (expected.json, or REPORT.md).
    if (c) Object.assign(result, compareWithPython({ opts, modelDir, ds, queriesRun: queries.length, docsInIndex: size_.docs, concepts: c, tolerance }));
    result.elapsedS = Math.round((Date.now() - t0) / 100) / 10;
    return result;
  } finally {
    await client.close();
  }
}

/**
 * Step 3: every query in every mode, sequentially, after `warmup` untimed rounds; the modes
 * interleaved query by query (rotating which goes first) so that the drifting load of a shared
 * machine falls on every mode alike.
 */
async function runQueries(o: {
  opts: EvalOptions;
  config: Config;
  index: string;
  modes: SearchMode[];
  queries: BeirDataset['queries'];
  size: number;
  warmup: number;
  showProgress: boolean;
  log: Logger;
  client: Client;
}): Promise<Map<string, QueryRecord>[]> {
  const { opts, modes, queries } = o;
  const encoder = modes.some((m) => m !== 'bm25') ? await createEncoder({ modelDir: o.config.modelDir, device: o.config.device, log: o.log }) : undefined;
  const records = modes.map(() => new Map<string, QueryRecord>());
  const deps = { client: o.client, encoder };
  const req = (mode: SearchMode, text: string): SearchRequest => ({ ...opts.request, index: o.index, query: text, mode, size: o.size, from: 0, source: false, explain: false });
  try {
    for (const q of queries.slice(0, Math.min(o.warmup, queries.length))) for (const m of modes) await search(deps, req(m, q.text));
    const bar = o.showProgress ? countProgress(`queries (${modes.join(', ')})`, queries.length) : undefined;
    try {
      for (let i = 0; i < queries.length; i++) {
        const q = queries[i]!;
        for (let j = 0; j < modes.length; j++) {
          const k = (i + j) % modes.length;
          const t = performance.now();
          const result = await search(deps, req(modes[k]!, q.text));
          const totalMs = performance.now() - t;
          records[k]!.set(q.id, { hits: result.hits.map((h) => ({ id: h.id, score: h.score })), totalMs, result });
        }
        bar?.increment();
      }
    } finally {
      bar?.stop();
    }
  } finally {
    await encoder?.close();
  }
  return records;
}

/** Step 4: each mode's metrics over the judged queries run, its latencies, and its TREC run file. */
function scoreModes(o: {
  modes: SearchMode[];
  records: Map<string, QueryRecord>[];
  queries: BeirDataset['queries'];
  qrels: ReturnType<typeof restrictQrels>;
  runDir: string | undefined;
  dataset: string;
}): ModeResult[] {
  if (o.runDir) mkdirSync(o.runDir, { recursive: true });
  return o.modes.map((mode, k) => {
    const rec = o.records[k]!;
    const run = new Map(o.queries.map((q) => [q.id, rec.get(q.id)!.hits.map((h) => h.id)]));
    const m = evaluateRun(run, o.qrels);
    const all = o.queries.map((q) => rec.get(q.id)!);
    const out: ModeResult = {
      mode,
      queries: m.queries,
      ndcg10: m.ndcg10,
      mrr10: m.mrr10,
      recall100: m.recall100,
      latencyMs: summarizeLatencies(all.map((r) => r.totalMs)),
      searchMs: summarizeLatencies(all.map((r) => r.result.timings.searchMs)),
      encodeMs: summarizeLatencies(all.map((r) => r.result.timings.encodeMs)),
      tookMs: summarizeLatencies(all.map((r) => r.result.took)),
      fallbacks: all.filter((r) => r.result.fallback !== undefined).length,
    };
    if (o.runDir) {
      const file = path.join(o.runDir, `${o.dataset}.${mode}.trec`);
      writeFileSync(file, toTrecRun(new Map(o.queries.map((q) => [q.id, rec.get(q.id)!.hits])), `saesplade-${mode}`));
      out.runFile = file;
    }
    return out;
  });
}

/** Query sparsity from the concept-bearing mode's results (the same vector in every mode); qk -1 when only bm25 ran. */
function querySparsity(modes: SearchMode[], records: Map<string, QueryRecord>[], queries: BeirDataset['queries']): { queryFreq: ConceptFrequencies; queryNnz: number; qk: number } {
  const qk = modes.findIndex((m) => m !== 'bm25');
  const queryFreq = new ConceptFrequencies();
  let queryNnz = 0;
  if (qk >= 0) {
    for (const q of queries) {
      const r = records[qk]!.get(q.id)!.result;
      queryFreq.add(r.queryVector.concepts.map((c) => c.id));
      queryNnz += r.queryVector.nonZeros;
    }
  }
  return { queryFreq, queryNnz, qk };
}

/**
 * Step 1 of runEval: the index to evaluate. An existing one is reused (--reuse) when it holds this
 * corpus encoded by this model, completed when it is an interrupted load of it, or deleted first
 * (--recreate); otherwise the corpus is ingested through the queue and an in-process worker, and the
 * collection recorded in the index's _meta. Returns whether it was reused and what the ingest did
 * (or, reused, what it did when the index was built).
 */
async function prepareIndex(c: {
  opts: EvalOptions;
  client: Client;
  config: Config;
  index: string;
  ds: BeirDataset;
  model: ModelIdentity;
  ownQueue: boolean;
  say: (line: string) => void;
  log: Logger;
  showProgress: boolean;
}): Promise<{ reused: boolean; ingestInfo: EvalResult['ingest'] }> {
  const { opts, client, config, index, ds, model, ownQueue, say, log, showProgress } = c;
  let reused = false;
  let ingestInfo: EvalResult['ingest'];
  const exists = (await client.indices.exists({ index })).body as boolean;
  if (exists && opts.recreate) {
    say(`deleting the existing index ${index} (--recreate)`);
    await deleteIndexSafely(client, index, '--recreate');
  } else if (exists) {
    const { problem, resumable } = await reuseCheck(client, index, ds, model);
    if (!opts.reuse) {
      throw new EvalError(
        `index "${index}" exists${problem ? ` (and could not be reused as it is: ${problem})` : ''}. Pass --reuse to evaluate it` +
          `${resumable ? ' (it looks like an interrupted load of this corpus: --reuse completes it)' : ''}, --recreate to rebuild it, or --index to use another name.`,
      );
    }
    if (problem && !resumable) throw new EvalError(`cannot reuse index "${index}": ${problem}. Use --recreate to rebuild it, or --index to build another.`);
    if (problem) {
      say(`index ${index} is an incomplete load of this corpus (${problem}): ingesting again, unchanged documents are skipped`);
    } else {
      reused = true;
      const prev = (await readEvalMeta(client, index))?.ingest;
      if (prev) ingestInfo = { docs: prev.indexed + prev.failed, indexed: prev.indexed, skipped: 0, failed: prev.failed, seconds: prev.seconds, docsPerS: prev.docs_per_s, previous: { at: prev.at } };
      say(`reusing index ${index} (model ${model.name}@${model.version}, ${ds.docIds.length} documents, corpus checked)`);
    }
  }
  if (!reused) {
    say(`ingesting ${ds.corpusPath} into ${index} (queue ${config.queue}, in-process worker)`);
    // The name already carries the model: a concrete index (ingest would make a new name an alias).
    await ensureConceptIndex(client, index, model);
    const r = await ingest({
      config,
      source: ds.corpusPath,
      parse: { format: 'beir' },
      withWorker: { concurrency: opts.concurrency ?? DEFAULT_WORKER_CONCURRENCY },
      progress: showProgress,
      refresh: true,
      log,
      ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    });
    const s = r.summary!;
    const kept = Boolean(opts.keepJobs) || s.failed > 0;
    ingestInfo = { docs: s.read, indexed: s.indexed, skipped: s.skipped, failed: s.failed, seconds: s.elapsedS, docsPerS: s.docsPerS, setId: r.setId, kept };
    say(`ingested: ${s.indexed} indexed, ${s.skipped} skipped, ${s.failed} failed in ${s.elapsedS} s (${s.docsPerS} docs/s)`);
    if (s.failed > 0) say(`warning: ${s.failed} documents failed; see them with: saesplade failed ${r.setId}`);
    if (!kept) await cleanupJobs(config, r.setId, ownQueue);
    await writeEvalMeta(client, index, ds, { indexed: s.indexed, failed: s.failed, seconds: s.elapsedS, docs_per_s: s.docsPerS, at: new Date().toISOString() });
  }
  return { reused, ingestInfo };
}

/**
 * Step 5 of runEval: the concepts mode's figures against the Python toolkit's for this collection
 * (the package's expected.json, else its REPORT.md, or --reference), with whether the two are
 * comparable at all (all judged queries, the whole corpus, the package's pruning, the shipped graph).
 */
function compareWithPython(c: {
  opts: EvalOptions;
  modelDir: string;
  ds: BeirDataset;
  queriesRun: number;
  docsInIndex: number;
  concepts: ModeResult;
  tolerance: number;
}): Pick<EvalResult, 'consistency' | 'referenceFile'> {
  const { opts, ds, concepts } = c;
  const ref = loadReference(c.modelDir, ds.name, opts.referenceReport);
  if (!ref) return {};
  if (!ref.figure) return { referenceFile: ref.file };
  const reasons: string[] = [];
  if (c.queriesRun < ds.queries.length) reasons.push(`only ${c.queriesRun} of ${ds.queries.length} judged queries were run`);
  if (c.docsInIndex !== ds.docIds.length) reasons.push(`the index holds ${c.docsInIndex} of the corpus's ${ds.docIds.length} documents`);
  if (opts.request?.pruning && Object.keys(opts.request.pruning).length > 0) reasons.push('query-side pruning differs from the package defaults');
  if (opts.request?.twoPhase) reasons.push('two-phase search is on');
  if (opts.request?.inferenceFree) reasons.push('queries are encoded inference-free (the token table), not by the graph');
  if (!/shipped|onnx/i.test(ref.figure.system)) reasons.push(`the Python figure is not of the shipped ONNX graph ("${ref.figure.system}"), so the vectors differ`);
  const consistency = compareWithReference(ref.figure, concepts.ndcg10, c.tolerance, reasons.length === 0, reasons.length ? reasons.join('; ') : `from ${ref.file}`, {
    measured: { ndcg10: concepts.ndcg10, mrr10: concepts.mrr10, recall100: concepts.recall100 },
    tolerance: ref.tolerance,
  });
  return { consistency, referenceFile: ref.file };
}

/** Removes the ingest job set and, when eval created it, the queue. */
async function cleanupJobs(config: Config, setId: string, dropQueue: boolean): Promise<void> {
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  try {
    await new JobSetStore(redis).delete(setId);
    if (dropQueue) await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    await redis.quit();
  }
}
