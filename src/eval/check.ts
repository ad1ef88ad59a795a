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

/**
 * `saesplade eval --check` (Pyserini's regression matrix style): every figure of the package's
 * expected.json (concepts nDCG@10, MRR@10, Recall@100) must be within its tolerance, on a comparable
 * run; a run with no expected figure, or not comparable, fails the check too. One line per failure.
 */
export function checkFailures(results: EvalResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const who = `${r.dataset.name} with ${r.model.name}@${r.model.version}`;
    const c = r.consistency;
    if (!c) {
      out.push(`${who}: no expected figure for ${r.dataset.name} (${r.referenceFile ?? `no expected.json or REPORT.md in ${r.model.dir}`})`);
      continue;
    }
    if (!c.comparable) {
      out.push(`${who}: cannot be checked: ${c.note ?? 'not comparable'}`);
      continue;
    }
    for (const k of c.checks ?? []) {
      if (k.within) continue;
      const gap = k.measured - k.expected;
      out.push(`${who}: concepts ${METRIC_NAMES[k.metric]} ${k.measured.toFixed(4)} vs expected ${k.expected.toFixed(3)} (gap ${(gap >= 0 ? '+' : '') + gap.toFixed(4)}) is outside the tolerance of ${k.tolerance}`);
    }
  }
  return out;
}

const METRIC_NAMES = { ndcg10: 'nDCG@10', mrr10: 'MRR@10', recall100: 'Recall@100' } as const;
