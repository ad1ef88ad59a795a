/**
 * Search: encode the query (query mode), translate it (translator.ts), run it on OpenSearch, and
 * shape the hits (ranks, scores, sources, optional per-hit concept explanations).
 */
import type { Client } from '@opensearch-project/opensearch';
import type { Encoder, ModelIdentity } from '../encoder/types.js';
import { assertIndexModel } from '../opensearch/indexes.js';
import { CONCEPT_FIELD } from '../opensearch/indexes.js';
import type { SparseVector } from '../sparse.js';
import { indexNameMessage, indexNameProblem } from '../names.js';
import {
  reciprocalRankFusion,
  rrfFetchBody,
  translate,
  type HybridWeights,
  type JsonObject,
  type QueryPruning,
  type QueryVectorStats,
  type RrfOptions,
  type SearchMode,
  type SearchPlan,
  type TwoPhaseOptions,
  type WeightedConcept,
} from './translator.js';
import { SaespladeError } from '../errors.js';

export interface SearchDeps {
  client: Client;
  /** Needed for every mode but `bm25` (and for labels in explanations). */
  encoder?: Pick<Encoder, 'model' | 'encode' | 'label'>;
  /**
   * How long a successful index/model check is trusted, ms (default 30 000, as a worker's): after a
   * reindex moves an alias to another model's index, a long-lived search process refuses it
   * within this time instead of querying it with the old model.
   */
  modelCheckTtlMs?: number;
}

export interface SearchRequest {
  index: string;
  /** The query text. */
  query: string;
  /** Default `concepts`. */
  mode?: SearchMode;
  /** Default 10. */
  size?: number;
  from?: number;
  /** OpenSearch query clause(s) used as a non-scoring filter, e.g. {"term": {"lang": "en"}}. */
  filter?: JsonObject | JsonObject[];
  /** `_source` to return: true, false or field names. Default: all fields except the concept map. */
  source?: boolean | string[];
  pruning?: QueryPruning;
  /** Off by default. */
  twoPhase?: boolean | TwoPhaseOptions;
  /** Weighted-sum hybrid: boosts of the concept and BM25 parts (default 1 and 1). */
  hybrid?: HybridWeights;
  rrf?: RrfOptions;
  /** true (5 concepts per hit) or how many concepts to list per hit. */
  explain?: boolean | number;
  textFields?: string[];
  conceptField?: string;
  maxClauses?: number;
  trackTotalHits?: boolean | number;
  /** A precomputed query vector (skips encoding; benchmarks, tests). */
  vector?: SparseVector;
  /** Put the request bodies sent to OpenSearch in the result (`dsl`). */
  includeDsl?: boolean;
  /** Encode the query from the package's token table, with no graph run (src/encoder/table-encoder.ts). */
  inferenceFree?: boolean;
}

export interface ConceptContribution {
  id: number;
  label?: string;
  queryWeight: number;
  docWeight: number;
  /** queryWeight × docWeight. */
  contribution: number;
  /** contribution / dot. */
  share: number;
}

export interface HitExplanation {
  /** Exact dot product of the query concepts sent and the document's stored weights (full precision). */
  dot: number;
  /** The heaviest contributions, largest first. */
  concepts: ConceptContribution[];
  /** Share of `dot` from the concepts not listed (concepts' shares + otherShare = 1). */
  otherShare: number;
  /** Concepts shared by query and document. */
  matched: number;
  /** Why there is no breakdown (e.g. the document has no concept map in _source). */
  unavailable?: string;
}

export interface SearchHit {
  /** 1-based, counting from the first page. */
  rank: number;
  id: string;
  score: number;
  source?: Record<string, unknown>;
  explanation?: HitExplanation;
  /** RRF: the document's 1-based rank in each fused list. */
  ranks?: { concepts?: number; bm25?: number };
}

export interface SearchResult {
  index: string;
  /** The mode asked for. */
  mode: SearchMode;
  /** What ran: `bm25` when the query had no concepts. */
  executed: SearchMode;
  fallback?: 'bm25';
  hits: SearchHit[];
  /** OpenSearch's `took` (ms; for RRF the slower of the two searches, which run in parallel). */
  took: number;
  timings: { encodeMs: number; searchMs: number; totalMs: number };
  queryVector: QueryVectorStats & { concepts: { id: number; weight: number; label?: string }[] };
  dsl?: JsonObject | { concepts: JsonObject; bm25: JsonObject };
}

export class SearchError extends SaespladeError {
  override name = 'SearchError';
  /**
   * OpenSearch's HTTP status when it answered with an error (400 for a bad filter, 404 for a missing
   * index); undefined when it did not answer (connection refused, timeout) or the request was refused
   * before it was sent (a bad index name).
   */
  readonly statusCode?: number;
  /** Which request input the error is about, when it is one (`index`). */
  readonly field?: string;

  constructor(message: string, options?: { cause?: unknown; statusCode?: number; field?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options?.field !== undefined) this.field = options.field;
  }
}

// Index → model check, cached per client and index for MODEL_CHECK_TTL_MS (successes only).
const checkedIndexes = new WeakMap<object, Map<string, { key: string; at: number }>>();

/** How long a successful model check of an index or alias is trusted (the worker's default too). */
export const MODEL_CHECK_TTL_MS = 30_000;

function modelKey(m: ModelIdentity): string {
  return `${m.name}@${m.version}/${m.dictionarySize}`;
}

/**
 * Refuses an index built with another model (IndexModelMismatchError); a success is trusted for
 * `ttlMs` (default 30 s), then checked again: an alias can move to another model's index.
 */
export async function checkIndexModel(client: Client, index: string, model: ModelIdentity, ttlMs = MODEL_CHECK_TTL_MS): Promise<void> {
  let perClient = checkedIndexes.get(client);
  if (!perClient) {
    perClient = new Map();
    checkedIndexes.set(client, perClient);
  }
  const key = modelKey(model);
  const cached = perClient.get(index);
  if (cached?.key === key && Date.now() - cached.at <= ttlMs) return;
  perClient.delete(index);
  await assertIndexModel(client, index, model);
  perClient.set(index, { key, at: Date.now() });
}

/** Forgets the cached index checks (tests; after reindexing under the same name). */
export function clearIndexModelCache(client?: Client): void {
  if (client) checkedIndexes.delete(client);
}

/** Explains one hit: query weight × stored document weight per shared concept, largest first. */
export function explainHit(
  concepts: readonly WeightedConcept[],
  docConcepts: Record<string, unknown> | undefined,
  top: number,
  label?: (id: number) => string | undefined,
): HitExplanation {
  if (!docConcepts || typeof docConcepts !== 'object') {
    return { dot: 0, concepts: [], otherShare: 0, matched: 0, unavailable: 'the document has no concept weights in _source' };
  }
  const parts: Omit<ConceptContribution, 'share'>[] = [];
  for (const c of concepts) {
    const d = docConcepts[String(c.id)];
    if (typeof d === 'number' && d > 0) parts.push({ id: c.id, queryWeight: c.weight, docWeight: d, contribution: c.weight * d });
  }
  parts.sort((a, b) => b.contribution - a.contribution || a.id - b.id);
  const dot = parts.reduce((s, p) => s + p.contribution, 0);
  const listed = parts.slice(0, Math.max(0, top)).map((p) => {
    const out: ConceptContribution = { ...p, share: dot > 0 ? p.contribution / dot : 0 };
    const l = label?.(p.id);
    if (l !== undefined) out.label = l;
    return out;
  });
  const listedShare = listed.reduce((s, p) => s + p.share, 0);
  return { dot, concepts: listed, otherShare: dot > 0 ? Math.max(0, 1 - listedShare) : 0, matched: parts.length };
}

interface RawHit {
  _id: string;
  _score: number | null;
  _source?: Record<string, unknown>;
}

function errorReason(err: unknown): string {
  const e = err as { meta?: { body?: any }; body?: any; message?: string };
  const body = e?.meta?.body ?? e?.body;
  const root = body?.error?.root_cause?.[0];
  const reason = root?.reason ?? body?.error?.reason ?? e?.message ?? String(err);
  const caused = body?.error?.caused_by?.reason;
  return caused && caused !== reason ? `${reason} (${caused})` : reason;
}

async function runSearch(client: Client, index: string, body: JsonObject): Promise<{ hits: RawHit[]; took: number }> {
  try {
    const res = await client.search({ index, body: body as any });
    const b = res.body as unknown as { took: number; hits: { hits: RawHit[] } };
    return { hits: b.hits.hits, took: b.took };
  } catch (err) {
    const status = (err as { meta?: { statusCode?: number }; statusCode?: number })?.meta?.statusCode ?? (err as { statusCode?: number })?.statusCode;
    throw new SearchError(`OpenSearch rejected the search on "${index}": ${errorReason(err)}`, {
      cause: err,
      ...(typeof status === 'number' ? { statusCode: status } : {}),
    });
  }
}

/** Strips the concept map from a hit's source unless the caller asked for it. */
function shapeSource(src: Record<string, unknown> | undefined, requested: SearchRequest['source'], field: string): Record<string, unknown> | undefined {
  if (!src || requested === false) return undefined;
  const wantConcepts = requested === true || (Array.isArray(requested) && requested.includes(field));
  if (wantConcepts || !(field in src)) return src;
  const { [field]: _drop, ...rest } = src;
  return rest;
}

/** Runs one search. See SearchRequest for the options; the result says what ran and how long it took. */
export async function search(deps: SearchDeps, request: SearchRequest): Promise<SearchResult> {
  const t0 = performance.now();
  // One index or alias, never a pattern or a list: `*` would mix hits of other models' indexes.
  const badIndex = indexNameProblem(request.index);
  if (badIndex) throw new SearchError(indexNameMessage('index', request.index, badIndex), { field: 'index' });
  const mode = request.mode ?? 'concepts';
  const size = request.size ?? 10;
  const from = request.from ?? 0;
  const field = request.conceptField ?? CONCEPT_FIELD;
  const explainTop = request.explain === true ? 5 : typeof request.explain === 'number' ? request.explain : 0;
  const explain = explainTop > 0 && mode !== 'bm25';

  let vector: SparseVector = request.vector ?? { indices: new Uint32Array(0), values: new Float32Array(0) };
  if (mode !== 'bm25') {
    if (!deps.encoder) throw new SearchError(`mode "${mode}" needs an encoder`);
    await checkIndexModel(deps.client, request.index, deps.encoder.model, deps.modelCheckTtlMs);
    if (!request.vector) {
      const [v] = await deps.encoder.encode([request.query], 'query', request.inferenceFree ? { inferenceFree: true } : undefined);
      vector = v!;
    }
  }
  const t1 = performance.now();

  const plan: SearchPlan = translate({
    text: request.query,
    vector,
    mode,
    size,
    from,
    filter: request.filter,
    source: request.source,
    includeConcepts: explain,
    pruning: request.pruning,
    maxClauses: request.maxClauses,
    twoPhase: request.twoPhase,
    hybrid: request.hybrid,
    rrf: request.rrf,
    textFields: request.textFields,
    conceptField: field,
    trackTotalHits: request.trackTotalHits,
  });

  const label = deps.encoder ? (id: number) => deps.encoder!.label(id) : undefined;
  const used = plan.kind === 'rrf' ? plan.conceptsUsed : plan.concepts;
  const toHit = (raw: RawHit, rank: number, score: number): SearchHit => {
    const hit: SearchHit = { rank, id: raw._id, score };
    const source = shapeSource(raw._source, request.source, field);
    if (source !== undefined) hit.source = source;
    if (explain && used.length > 0) hit.explanation = explainHit(used, raw._source?.[field] as Record<string, unknown> | undefined, explainTop, label);
    return hit;
  };

  let hits: SearchHit[];
  let took: number;
  if (plan.kind === 'single') {
    const r = await runSearch(deps.client, request.index, plan.body);
    took = r.took;
    hits = r.hits.map((h, i) => toHit(h, from + i + 1, h._score ?? 0));
  } else {
    const [c, b] = await Promise.all([runSearch(deps.client, request.index, plan.concepts), runSearch(deps.client, request.index, plan.bm25)]);
    took = Math.max(c.took, b.took);
    const fused = reciprocalRankFusion(
      c.hits.map((h) => ({ ...h, id: h._id })),
      b.hits.map((h) => ({ ...h, id: h._id })),
      plan.k,
      plan.weights,
    );
    const page = fused.slice(from, from + size);
    const sources = new Map<string, RawHit>();
    if (page.length > 0 && plan.source !== false) {
      const f = await runSearch(deps.client, request.index, rrfFetchBody(page.map((p) => p.id), plan.source));
      for (const h of f.hits) sources.set(h._id, h);
    }
    hits = page.map((f, i) => {
      const hit = toHit(sources.get(f.id) ?? { _id: f.id, _score: f.score }, from + i + 1, f.score);
      hit.ranks = f.ranks;
      return hit;
    });
  }
  const t2 = performance.now();

  const result: SearchResult = {
    index: request.index,
    mode,
    executed: plan.mode,
    hits,
    took,
    timings: { encodeMs: t1 - t0, searchMs: t2 - t1, totalMs: t2 - t0 },
    queryVector: {
      ...plan.stats,
      concepts: used.map((c) => {
        const out: { id: number; weight: number; label?: string } = { id: c.id, weight: c.weight };
        const l = label?.(c.id);
        if (l !== undefined) out.label = l;
        return out;
      }),
    },
  };
  if (plan.kind === 'single' && plan.fallback) result.fallback = plan.fallback;
  if (request.includeDsl) result.dsl = plan.kind === 'single' ? plan.body : { concepts: plan.concepts, bm25: plan.bm25 };
  return result;
}
