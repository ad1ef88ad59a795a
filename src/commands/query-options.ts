import { InvalidArgumentError, type Command } from 'commander';
import type { SearchRequest } from '../search/search.js';
import { SEARCH_MODES, type HybridWeights, type JsonObject, type QueryPruning, type SearchMode } from '../search/translator.js';
import { intOption, JAVA_INT_MAX, numberOption } from './options.js';
import { DEFAULT_MAX_CLAUSES, DEFAULT_RRF_K, DEFAULT_TEXT_FIELDS } from '../defaults.js';

/** Option parsers and query-shaping options shared by `search` and `bench query` (numbers: ./options.ts). */
export { intOption, numberOption } from './options.js';

export function modeOption(v: string): SearchMode {
  if (!(SEARCH_MODES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${SEARCH_MODES.join(', ')}`);
  return v as SearchMode;
}

export function jsonClauseOption(v: string, previous: JsonObject[] | undefined): JsonObject[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (e) {
    throw new InvalidArgumentError(`not JSON (${(e as Error).message}); example: '{"term":{"model_version":"1.0.0"}}'`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const c of list) {
    if (!c || typeof c !== 'object' || Array.isArray(c) || Object.keys(c).length !== 1) {
      throw new InvalidArgumentError(`expected one OpenSearch query clause (an object with one key), got ${JSON.stringify(c)}`);
    }
  }
  return [...(previous ?? []), ...(list as JsonObject[])];
}

export function weightsOption(v: string): HybridWeights {
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n) || n < 0) || parts[0]! + parts[1]! <= 0) {
    throw new InvalidArgumentError('expected two weights "CONCEPTS,BM25", e.g. 1,0.2');
  }
  return { concepts: parts[0]!, bm25: parts[1]! };
}

export function listOption(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Adds the query-shaping options that `search` and `bench query` share. */
export function withQueryOptions(cmd: Command): Command {
  return cmd
    .option('--top-k-concepts <k>', 'keep at most the k heaviest query concepts', intOption('--top-k-concepts', 1, JAVA_INT_MAX))
    .option('--min-weight <w>', 'drop query concepts lighter than w', numberOption('--min-weight', 0))
    .option('--max-ratio <r>', 'drop query concepts lighter than r x the heaviest', numberOption('--max-ratio', 0, 1))
    .option('--mass <share>', 'keep the heaviest query concepts holding this share of the weight', numberOption('--mass', 0, 1))
    .option('--max-clauses <n>', "the cluster's indices.query.bool.max_clause_count", intOption('--max-clauses', 1, JAVA_INT_MAX), DEFAULT_MAX_CLAUSES)
    .option('--two-phase [heavy]', 'heavy concepts (default 16) in the query, all of them in a rescore over --window (off by default)', intOption('--two-phase', 1, JAVA_INT_MAX))
    .option('--window <n>', 'rescore window for --two-phase, fusion window for rrf (default 5 x size)', intOption('--window', 1, JAVA_INT_MAX))
    .option('--hybrid-weights <c,b>', 'weights of concepts and BM25 for hybrid (score boosts) and rrf (list weights)', weightsOption)
    .option('--rrf-k <k>', 'reciprocal rank fusion constant', numberOption('--rrf-k', 0), DEFAULT_RRF_K)
    .option('--text-fields <list>', 'fields BM25 searches', listOption, [...DEFAULT_TEXT_FIELDS])
    .option('--inference-free', "encode the query from the package's token table (no transformer at query time; the package needs a query_table)");
}

/** The SearchRequest fields that come from shared options. */
export function requestOptions(opts: Record<string, any>): Partial<SearchRequest> {
  const pruning: QueryPruning = {};
  if (opts.topKConcepts !== undefined) pruning.topK = opts.topKConcepts;
  if (opts.minWeight !== undefined) pruning.minWeight = opts.minWeight;
  if (opts.maxRatio !== undefined) pruning.maxRatio = opts.maxRatio;
  if (opts.mass !== undefined) pruning.mass = opts.mass;
  const out: Partial<SearchRequest> = { pruning, maxClauses: opts.maxClauses, textFields: opts.textFields };
  if (opts.twoPhase !== undefined) out.twoPhase = { heavy: opts.twoPhase === true ? undefined : opts.twoPhase, window: opts.window };
  if (opts.hybridWeights) out.hybrid = opts.hybridWeights;
  if (opts.inferenceFree) out.inferenceFree = true;
  out.rrf = { k: opts.rrfK, window: opts.window, weights: opts.hybridWeights };
  return out;
}

