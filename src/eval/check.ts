import type { EvalResult } from './run-eval.js';

/**
 * What makes `saesplade eval` exit non-zero (EXIT_CHECK_FAILED) though it ran to the end: the
 * concepts nDCG@10 through OpenSearch is outside its tolerance of the Python toolkit's figure for the
 * shipped graph, on a run where the two are comparable (all judged queries, the whole corpus, the
 * package's pruning). One line per failure, empty when there is none. Pure: no I/O.
 */
export function consistencyFailures(results: EvalResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const c = r.consistency;
    if (!c || !c.comparable || c.withinTolerance) continue;
    out.push(
      `${r.dataset.name} with ${r.model.name}@${r.model.version}: concepts nDCG@10 through OpenSearch ${c.measured.toFixed(4)} vs ${c.reference.ndcg10.toFixed(4)} from Python ` +
        `(gap ${(c.gap >= 0 ? '+' : '') + c.gap.toFixed(4)}) is outside the tolerance of ${c.tolerance}`,
    );
  }
  return out;
}
