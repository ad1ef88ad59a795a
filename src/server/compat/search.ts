/**
 * `_search` and `_msearch` through the endpoint: a body with `concept_sparse` clauses gets them
 * encoded (query mode, one encoder call for all of a request's clauses) and replaced by the
 * translator's rank_feature bools, after the model guard; every other part of the body goes on
 * as it is. With `explain_concepts`, each hit gets `fields.concept_explanation` (the matched
 * concepts, from the stored weights), which clients that do not know it ignore.
 */
import type { Encoder } from '../../encoder/types.js';
import type { SparseVector } from '../../sparse.js';
import { indexNameProblem, INDEX_NAME_RULE } from '../../names.js';
import { explainHit } from '../../search/search.js';
import { DEFAULT_MAX_CLAUSES, estimateLeafClauses, pruneQuery, TranslateError, type JsonObject, type WeightedConcept } from '../../search/translator.js';
import { CompatError, openSearchErrorBody } from './errors.js';
import type { IndexState } from './managed.js';
import { CONCEPT_CLAUSE, explanationConcepts, findConceptClauses, mayHaveConceptClause, rewriteConceptClauses, type ConceptClause } from './query-dsl.js';

/** The key under a hit's `fields` that holds its explanation. */
export const EXPLANATION_FIELD = 'concept_explanation';

export interface SearchDeps {
  encoder: Pick<Encoder, 'encode' | 'label'>;
  stateOf: (index: string) => Promise<IndexState>;
  /** Stored concept maps of hits: `mget` of the concept field with the caller's credentials. */
  conceptsOf: (hits: { index: string; id: string; routing?: string }[], field: string) => Promise<(Record<string, unknown> | undefined)[]>;
  maxClauses?: number;
}

/** One search body, rewritten; `explain` says how to explain its hits once answered. */
export interface RewrittenSearch {
  body: JsonObject;
  explain?: { field: string; concepts: WeightedConcept[]; top: number };
}

/** A search body with clauses, parsed; undefined when it has none (it goes on as it came). */
export function parseSearchBody(text: string): { body: JsonObject; clauses: ConceptClause[] } | undefined {
  if (!mayHaveConceptClause(text)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined; // not JSON: the cluster says so in its own words
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const clauses = findConceptClauses(body as JsonObject);
  return clauses.length > 0 ? { body: body as JsonObject, clauses } : undefined;
}

/** The one index a concept search may target, checked: a pattern or a list could mix models. */
async function guard(index: string | undefined, deps: SearchDeps): Promise<string> {
  if (index === undefined) throw new CompatError(400, 'illegal_argument_exception', `[${CONCEPT_CLAUSE}] needs one index or alias to search (POST /<index>/_search), not every index`);
  const problem = indexNameProblem(index);
  if (problem) throw new CompatError(400, 'illegal_argument_exception', `[${CONCEPT_CLAUSE}] needs one index or alias, got [${index}] (${problem}); ${INDEX_NAME_RULE}`, index);
  const state = await deps.stateOf(index);
  if (state.kind === 'other_model') throw new CompatError(400, 'saesplade_model_mismatch_exception', state.reason, index);
  if (state.kind === 'missing') throw new CompatError(404, 'index_not_found_exception', `no such index [${index}]`, index);
  if (state.kind === 'plain') {
    throw new CompatError(400, 'saesplade_model_mismatch_exception', `index [${index}] was not built by saesplade (no model in its _meta): a ${CONCEPT_CLAUSE} query needs a concept index`, index);
  }
  return index;
}

/** Encodes the clauses of several searches in one call and rewrites each body. */
export async function rewriteSearches(searches: { index: string | undefined; body: JsonObject; clauses: ConceptClause[] }[], deps: SearchDeps): Promise<RewrittenSearch[]> {
  for (const s of searches) await guard(s.index, deps);
  // One encoder call for the graph-encoded clauses of all searches, one for the inference-free ones.
  const all = searches.flatMap((s) => s.clauses);
  const byGraph = all.filter((c) => !c.inferenceFree);
  const byTable = all.filter((c) => c.inferenceFree);
  const [g, t] = await Promise.all([
    byGraph.length > 0 ? deps.encoder.encode(byGraph.map((c) => c.queryText), 'query') : [],
    byTable.length > 0 ? deps.encoder.encode(byTable.map((c) => c.queryText), 'query', { inferenceFree: true }) : [],
  ]);
  const vectorOf = new Map<ConceptClause, SparseVector>();
  byGraph.forEach((c, i) => vectorOf.set(c, g[i]!));
  byTable.forEach((c, i) => vectorOf.set(c, t[i]!));
  const max = deps.maxClauses ?? DEFAULT_MAX_CLAUSES;
  return searches.map((s) => {
    // Leaf clauses the rest of the query takes (each concept clause counts as one leaf there).
    const others = Math.max(0, estimateLeafClauses(s.body.query ?? {}) - s.clauses.filter((c) => c.root === 'query').length);
    const budget = Math.floor((max - others) / s.clauses.length);
    if (budget < 1) throw new CompatError(400, 'illegal_argument_exception', `no room for concept clauses: max clauses ${max}, the rest of the query takes ${others}`);
    const kept = s.clauses.map((c) => {
      try {
        return pruneQuery(vectorOf.get(c)!, c.topK !== undefined ? { topK: c.topK } : {}, budget);
      } catch (err) {
        if (err instanceof TranslateError) throw new CompatError(400, 'parsing_exception', `[${CONCEPT_CLAUSE}] ${err.message}`);
        throw err;
      }
    });
    const { used } = rewriteConceptClauses(s.body, s.clauses, kept);
    const explain = explanationConcepts(s.clauses, used);
    return explain ? { body: s.body, explain } : { body: s.body };
  });
}

interface Hit {
  _index: string;
  _id: string;
  _routing?: string;
  fields?: Record<string, unknown>;
}

/** Adds each hit's explanation under `fields.concept_explanation` (in place). */
export async function explainHits(answer: { hits?: { hits?: Hit[] } }, explain: NonNullable<RewrittenSearch['explain']>, deps: SearchDeps): Promise<void> {
  const hits = answer.hits?.hits ?? [];
  if (hits.length === 0) return;
  const stored = await deps.conceptsOf(
    hits.map((h) => ({ index: h._index, id: h._id, ...(h._routing ? { routing: h._routing } : {}) })),
    explain.field,
  );
  hits.forEach((h, i) => {
    const e = explainHit(explain.concepts, stored[i], explain.top, (id) => deps.encoder.label(id));
    const out: Record<string, unknown> = {
      dot: e.dot,
      matched: e.matched,
      other_share: e.otherShare,
      concepts: e.concepts.map((c) => ({ id: c.id, ...(c.label !== undefined ? { label: c.label } : {}), query_weight: c.queryWeight, doc_weight: c.docWeight, contribution: c.contribution, share: c.share })),
    };
    if (e.unavailable) out.unavailable = e.unavailable;
    h.fields = { ...(h.fields ?? {}), [EXPLANATION_FIELD]: [out] };
  });
}

/** `_msearch` pairs (header, body), raw lines kept for the searches that go on unchanged. */
export interface MsearchPart {
  header: JsonObject;
  rawHeader: string;
  rawBody: string;
}

export function parseMsearch(text: string): MsearchPart[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length % 2 !== 0) throw new CompatError(400, 'illegal_argument_exception', 'an _msearch body holds pairs of lines (header, body); the last header has no body');
  const parts: MsearchPart[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    let header: unknown;
    try {
      header = lines[i]!.trim() === '' ? {} : JSON.parse(lines[i]!);
    } catch (err) {
      throw new CompatError(400, 'parsing_exception', `_msearch header line [${i + 1}] is not JSON: ${(err as Error).message}`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new CompatError(400, 'parsing_exception', `_msearch header line [${i + 1}] must be an object`);
    parts.push({ header: header as JsonObject, rawHeader: lines[i]!, rawBody: lines[i + 1]! });
  }
  return parts;
}

/** A failure of one search of an _msearch, as the cluster writes one in `responses`. */
export function msearchError(err: unknown): Record<string, unknown> {
  if (err instanceof CompatError) return { ...openSearchErrorBody(err.status, err.type, err.message, err.index) };
  throw err;
}
