/**
 * Pure helpers of the evaluation: latency percentiles, sparsity and FLOPS. No I/O.
 */

/**
 * Nearest-rank percentile of an ascending array (p in [0, 100]): the smallest value with at least
 * p% of the values at or below it. NaN for an empty array. Same definition as `bench query`.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface LatencySummary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** p50/p95/p99 (nearest rank), mean and max of a list of latencies in any order (ms). */
export function summarizeLatencies(values: readonly number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, mean, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : NaN };
}

/**
 * How often each concept occurs in a set of sparse vectors: `df` (concept → number of vectors
 * holding it with a positive weight), the number of vectors and their total non-zeros.
 */
export class ConceptFrequencies {
  readonly df = new Map<number, number>();
  vectors = 0;
  nonZeros = 0;
  empty = 0;

  /** Adds one vector, given as its concept ids (weights <= 0 must already be dropped). */
  add(conceptIds: Iterable<number>): void {
    let n = 0;
    for (const id of conceptIds) {
      this.df.set(id, (this.df.get(id) ?? 0) + 1);
      n++;
    }
    this.vectors++;
    this.nonZeros += n;
    if (n === 0) this.empty++;
  }

  /** Adds a `rank_features` map as stored in `_source` ({"<id>": weight}); counts positive weights only. */
  addFeatureMap(map: Record<string, unknown> | undefined | null): void {
    const ids: number[] = [];
    if (map && typeof map === 'object') {
      for (const [k, w] of Object.entries(map)) if (typeof w === 'number' && w > 0) ids.push(Number(k));
    }
    this.add(ids);
  }

  /** Mean non-zeros per vector (0 for none). */
  meanNonZeros(): number {
    return this.vectors === 0 ? 0 : this.nonZeros / this.vectors;
  }
}

/**
 * FLOPS as in SPLADE (Paria et al. 2020, Formal et al. 2021) measured on a collection: the expected
 * number of concept multiplications of one query-document pair, sum over concepts j of
 * P(query has j) × P(document has j), with the probabilities estimated over the queries and the
 * documents. Same definition as the Python toolkit's `sparse_stats`.
 */
export function flops(queries: ConceptFrequencies, docs: ConceptFrequencies): number {
  if (queries.vectors === 0 || docs.vectors === 0) return 0;
  let s = 0;
  for (const [id, qn] of queries.df) {
    const dn = docs.df.get(id);
    if (dn) s += (qn / queries.vectors) * (dn / docs.vectors);
  }
  return s;
}

/**
 * FLOPS in its document-by-document form (the SPLADE regulariser's: sum over ids j of P(document has
 * j)^2), over the stored documents: the expected multiplications of two documents, or of a query
 * that looks like a document. `flops()` above is the query-document form (the paper's QD-FLOPs).
 */
export function docFlops(docs: ConceptFrequencies): number {
  if (docs.vectors === 0) return 0;
  let s = 0;
  for (const dn of docs.df.values()) s += (dn / docs.vectors) ** 2;
  return s;
}
