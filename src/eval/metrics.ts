/**
 * Retrieval metrics as trec_eval and BEIR compute them: graded gains, log2 discount, ideal DCG from
 * the judged relevant documents, judgements with score <= 0 are non-relevant. A run is one ranked
 * list of document ids per query; only queries that have judgements are scored.
 */
export type Qrels = Map<string, Map<string, number>>;
export type Run = Map<string, string[]>;

export function ndcgAt(ranked: string[], judged: Map<string, number>, k: number): number {
  let dcg = 0;
  const top = ranked.slice(0, k);
  top.forEach((id, i) => {
    const g = judged.get(id) ?? 0;
    if (g > 0) dcg += g / Math.log2(i + 2);
  });
  const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

export function mrrAt(ranked: string[], judged: Map<string, number>, k: number): number {
  const i = ranked.slice(0, k).findIndex((id) => (judged.get(id) ?? 0) > 0);
  return i < 0 ? 0 : 1 / (i + 1);
}

export function recallAt(ranked: string[], judged: Map<string, number>, k: number): number {
  const relevant = [...judged.entries()].filter(([, g]) => g > 0).map(([id]) => id);
  if (relevant.length === 0) return 0;
  const top = new Set(ranked.slice(0, k));
  return relevant.filter((id) => top.has(id)).length / relevant.length;
}

export interface MetricSummary {
  queries: number;
  ndcg10: number;
  mrr10: number;
  recall100: number;
}

/** Means over the judged queries that have at least one relevant document; a missing run counts as empty. */
export function evaluateRun(run: Run, qrels: Qrels): MetricSummary {
  let n = 0;
  let ndcg = 0;
  let mrr = 0;
  let recall = 0;
  for (const [qid, judged] of qrels) {
    if (![...judged.values()].some((g) => g > 0)) continue;
    const ranked = run.get(qid) ?? [];
    n++;
    ndcg += ndcgAt(ranked, judged, 10);
    mrr += mrrAt(ranked, judged, 10);
    recall += recallAt(ranked, judged, 100);
  }
  return n === 0
    ? { queries: 0, ndcg10: 0, mrr10: 0, recall100: 0 }
    : { queries: n, ndcg10: ndcg / n, mrr10: mrr / n, recall100: recall / n };
}

/** Parses a BEIR qrels TSV (header `query-id corpus-id score`, CRLF tolerated). */
export function parseQrels(tsv: string): Qrels {
  const qrels: Qrels = new Map();
  const lines = tsv.split(/\r?\n/).filter((l) => l.trim() !== '');
  for (const [i, line] of lines.entries()) {
    const [q, d, s] = line.split('\t');
    if (i === 0 && q === 'query-id') continue;
    if (q === undefined || d === undefined || s === undefined || Number.isNaN(Number(s))) {
      throw new Error(`qrels line ${i + 1}: expected "query-id<TAB>corpus-id<TAB>score", got ${JSON.stringify(line)}`);
    }
    if (!qrels.has(q)) qrels.set(q, new Map());
    qrels.get(q)!.set(d, Number(s));
  }
  return qrels;
}

/** A TREC run file line per hit: `qid Q0 docid rank score tag`. */
export function toTrecRun(run: Map<string, { id: string; score: number }[]>, tag: string): string {
  const out: string[] = [];
  for (const [qid, hits] of run) hits.forEach((h, i) => out.push(`${qid} Q0 ${h.id} ${i + 1} ${h.score} ${tag}`));
  return out.join('\n') + (out.length ? '\n' : '');
}
