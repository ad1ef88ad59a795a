/**
 * The `concept_sparse` query clause of the OpenSearch-compatible endpoint, and its rewriting into
 * the translator's `rank_feature` bool. Pure: no I/O (the endpoint encodes in between).
 *
 * The clause mirrors OpenSearch's `neural_sparse` (field → parameters):
 *
 *   {"concept_sparse": {"concepts": {"query_text": "...", "top_k": 32, "two_phase": true,
 *                                    "explain_concepts": 5, "boost": 2}}}
 *
 * It may stand anywhere a query clause may (bool clauses, post_filter, aggregation filters,
 * function_score, highlight_query); everything around it is left as it is.
 */
import { conceptClauses, DEFAULT_WINDOW_FACTOR, heavyConcepts, type JsonObject, type TwoPhaseOptions, type WeightedConcept } from '../../search/translator.js';
import { CompatError } from './errors.js';

export const CONCEPT_CLAUSE = 'concept_sparse';

/** The most concepts one hit's explanation may list. */
export const MAX_EXPLAIN_CONCEPTS = 100;

export interface ConceptClause {
  /** The rank_features field (the key inside the clause). */
  field: string;
  queryText: string;
  topK?: number;
  twoPhase?: TwoPhaseOptions;
  /** Concepts to list per hit; 0: no explanation. */
  explain: number;
  boost?: number;
  /** Encode from the package's token table, no graph run (docs/SEARCH.md, "Inference-free queries"). */
  inferenceFree?: boolean;
  /** Where it sits: `query`, `post_filter`, `aggs`, ... (the body's top-level key). */
  root: string;
  /** The object holding the clause, and its key there (an array index or a property name). */
  holder: JsonObject | unknown[];
  key: string | number;
}

const KNOWN = new Set(['query_text', 'top_k', 'two_phase', 'explain_concepts', 'boost', 'inference_free']);
const TWO_PHASE_KNOWN = new Set(['heavy', 'heavy_mass', 'window']);

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parsing(reason: string): CompatError {
  return new CompatError(400, 'parsing_exception', `[${CONCEPT_CLAUSE}] ${reason}`);
}

function positiveInteger(name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw parsing(`[${name}] must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function twoPhaseOf(v: unknown): TwoPhaseOptions | undefined {
  if (v === false || v === undefined) return undefined;
  if (v === true) return {};
  if (!isObject(v)) throw parsing(`[two_phase] must be true, false or an object of heavy, heavy_mass, window; got ${JSON.stringify(v)}`);
  for (const k of Object.keys(v)) if (!TWO_PHASE_KNOWN.has(k)) throw parsing(`[two_phase] unknown field [${k}] (known: heavy, heavy_mass, window)`);
  const out: TwoPhaseOptions = {};
  if (v.heavy !== undefined) out.heavy = positiveInteger('two_phase.heavy', v.heavy);
  if (v.heavy_mass !== undefined) {
    if (typeof v.heavy_mass !== 'number' || !(v.heavy_mass > 0 && v.heavy_mass <= 1)) throw parsing(`[two_phase.heavy_mass] must be a number in (0, 1], got ${JSON.stringify(v.heavy_mass)}`);
    out.heavyMass = v.heavy_mass;
  }
  if (v.window !== undefined) out.window = positiveInteger('two_phase.window', v.window, 10_000);
  return out;
}

/** The parameters of one clause, checked (a parsing_exception names the bad one). */
function parseClause(value: unknown, root: string, holder: ConceptClause['holder'], key: ConceptClause['key']): ConceptClause {
  if (!isObject(value) || Object.keys(value).length !== 1) throw parsing('expects one field name holding the parameters, e.g. {"concepts": {"query_text": "..."}}');
  const [field, params] = Object.entries(value)[0]!;
  if (!isObject(params)) throw parsing(`[${field}] must be an object with query_text`);
  for (const k of Object.keys(params)) if (!KNOWN.has(k)) throw parsing(`unknown field [${k}] (known: ${[...KNOWN].join(', ')})`);
  if (typeof params.query_text !== 'string' || params.query_text.trim() === '') throw parsing('[query_text] is required and must be a non-empty string');
  const clause: ConceptClause = { field, queryText: params.query_text, explain: 0, root, holder, key };
  if (params.top_k !== undefined) clause.topK = positiveInteger('top_k', params.top_k, 100_000);
  const tp = twoPhaseOf(params.two_phase);
  if (tp) {
    if (root !== 'query') throw parsing(`[two_phase] works in the search's "query" only (it adds a rescore), not in "${root}"`);
    clause.twoPhase = tp;
  }
  const ex = params.explain_concepts;
  if (ex === true) clause.explain = 5;
  else if (ex !== undefined && ex !== false) clause.explain = positiveInteger('explain_concepts', ex, MAX_EXPLAIN_CONCEPTS);
  if (params.inference_free !== undefined) {
    if (typeof params.inference_free !== 'boolean') throw parsing(`[inference_free] must be true or false, got ${JSON.stringify(params.inference_free)}`);
    if (params.inference_free) clause.inferenceFree = true;
  }
  if (params.boost !== undefined) {
    if (typeof params.boost !== 'number' || !(params.boost > 0) || !Number.isFinite(params.boost)) throw parsing(`[boost] must be a positive number, got ${JSON.stringify(params.boost)}`);
    clause.boost = params.boost;
  }
  return clause;
}

/**
 * Every `concept_sparse` clause in a search body. A clause is an object whose only key is
 * `concept_sparse`, holding one field; a field merely named `concept_sparse` inside another query
 * (`{"term": {"concept_sparse": "x"}}`) does not have that shape and is left alone.
 */
export function findConceptClauses(body: JsonObject): ConceptClause[] {
  const found: ConceptClause[] = [];
  const visit = (node: unknown, root: string, holder: ConceptClause['holder'] | undefined, key: ConceptClause['key'] | undefined) => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, root, node, i));
      return;
    }
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 1 && keys[0] === CONCEPT_CLAUSE && holder !== undefined && key !== undefined && looksLikeClause(node[CONCEPT_CLAUSE])) {
      found.push(parseClause(node[CONCEPT_CLAUSE], root, holder, key));
      return;
    }
    for (const k of keys) visit(node[k], holder === undefined ? k : root, node, k);
  };
  visit(body, '', undefined, undefined);
  return found;
}

function looksLikeClause(v: unknown): boolean {
  return isObject(v) && Object.values(v).every((p) => isObject(p));
}

/** A cheap test before parsing a body: no `concept_sparse` in its bytes, no clause in it. */
export function mayHaveConceptClause(raw: string): boolean {
  return raw.includes(CONCEPT_CLAUSE);
}

export interface RewriteResult {
  /** Concepts that score, per clause (after pruning and the clause budget), heaviest first. */
  used: WeightedConcept[][];
}

/**
 * Replaces each clause (in `body`, in place) by the bool of its concepts' `rank_feature` clauses,
 * boosted as asked; an empty query (no concept) matches nothing, as an empty `neural_sparse` does.
 * A two-phase clause keeps its heavy concepts in place, and a rescore over the window adds the
 * light ones with query_weight 1: inside the window the clause then scores the whole dot product,
 * whatever other clauses the query holds.
 */
export function rewriteConceptClauses(body: JsonObject, clauses: readonly ConceptClause[], kept: readonly WeightedConcept[][]): RewriteResult {
  const rescores: JsonObject[] = [];
  clauses.forEach((c, i) => {
    const concepts = kept[i] ?? [];
    let replacement: JsonObject;
    if (concepts.length === 0) {
      replacement = { match_none: {} };
    } else if (c.twoPhase) {
      const heavy = heavyConcepts(concepts, c.twoPhase);
      replacement = boolOf(heavy, c.field, c.boost);
      const light = concepts.slice(heavy.length);
      if (light.length > 0) {
        const size = typeof body.size === 'number' ? body.size : 10;
        const from = typeof body.from === 'number' ? body.from : 0;
        const window = Math.max(c.twoPhase.window ?? DEFAULT_WINDOW_FACTOR * size, from + size, 1);
        rescores.push({
          window_size: window,
          query: { rescore_query: boolOf(light, c.field, c.boost), query_weight: 1, rescore_query_weight: 1, score_mode: 'total' },
        });
      }
    } else {
      replacement = boolOf(concepts, c.field, c.boost);
    }
    (c.holder as Record<string | number, unknown>)[c.key] = replacement;
  });
  if (rescores.length > 0) {
    const existing = body.rescore === undefined ? [] : Array.isArray(body.rescore) ? body.rescore : [body.rescore];
    body.rescore = [...existing, ...rescores];
  }
  return { used: clauses.map((_, i) => [...(kept[i] ?? [])]) };
}

function boolOf(concepts: readonly WeightedConcept[], field: string, boost?: number): JsonObject {
  const bool: JsonObject = { should: conceptClauses(concepts, field) };
  if (boost !== undefined) bool.boost = boost;
  return { bool };
}

/**
 * The concepts an explanation lists for a hit: those of the explaining clauses, weights summed
 * per concept (times each clause's boost), heaviest first; and how many to list.
 */
export function explanationConcepts(clauses: readonly ConceptClause[], used: readonly WeightedConcept[][]): { field: string; concepts: WeightedConcept[]; top: number } | undefined {
  const explaining = clauses.map((c, i) => ({ c, u: used[i] ?? [] })).filter(({ c }) => c.explain > 0);
  if (explaining.length === 0) return undefined;
  const field = explaining[0]!.c.field;
  const sum = new Map<number, number>();
  for (const { c, u } of explaining) {
    if (c.field !== field) throw new CompatError(400, 'parsing_exception', `[${CONCEPT_CLAUSE}] explain_concepts on two fields (${field}, ${c.field}) in one search`);
    for (const w of u) sum.set(w.id, (sum.get(w.id) ?? 0) + w.weight * (c.boost ?? 1));
  }
  const concepts = [...sum].map(([id, weight]) => ({ id, weight })).sort((a, b) => b.weight - a.weight || a.id - b.id);
  return { field, concepts, top: Math.max(...explaining.map(({ c }) => c.explain)) };
}
