/**
 * Writes test/fixtures/parity/{metrics,prune}.json: inputs and the TypeScript figures for them
 * (src/eval/metrics.ts, src/encoder/prune.ts). The Python toolkit's tests (model/tests/) must give the
 * same figures from the same inputs; test/unit/parity-fixtures.test.ts checks that TypeScript still does.
 *   npx tsx scripts/parity-fixtures.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prune, type Pruning } from '../src/encoder/prune.js';
import { evaluateRun, mrrAt, ndcgAt, recallAt } from '../src/eval/metrics.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'parity');

// graded relevance (0 = judged non-relevant, 1..3 = relevant), a run per query
const qrels: Record<string, Record<string, number>> = {
  q1: { d1: 3, d2: 2, d3: 1, d9: 0 },
  q2: { d4: 1, d5: 1 },
  q3: { d6: 2, d7: 3, d8: 1, d10: 2, d11: 1, d12: 3, d13: 2, d14: 1, d15: 1, d16: 2, d17: 3 },
  q4: { d2: 0 }, // no relevant document: not scored
  q5: { d1: 1 }, // no run: scores 0
};
const run: Record<string, string[]> = {
  q1: ['d9', 'd3', 'x1', 'd1', 'd2'],
  q2: ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'x10', 'd4'],
  q3: ['d17', 'd8', 'x1', 'd7', 'd6', 'd14', 'x2', 'd12', 'd10', 'd11', 'd15', 'd13', 'd16'],
  q4: ['d2'],
};
const toMap = (o: Record<string, Record<string, number>>) => new Map(Object.entries(o).map(([q, j]) => [q, new Map(Object.entries(j))]));
const perQuery: Record<string, { ndcg10: number; mrr10: number; recall100: number }> = {};
for (const [q, j] of toMap(qrels)) {
  const ranked = run[q] ?? [];
  perQuery[q] = { ndcg10: ndcgAt(ranked, j, 10), mrr10: mrrAt(ranked, j, 10), recall100: recallAt(ranked, j, 100) };
}
const summary = evaluateRun(new Map(Object.entries(run)), toMap(qrels));
writeFileSync(path.join(DIR, 'metrics.json'), JSON.stringify({ gain: 'linear', qrels, run, perQuery, summary }, null, 2) + '\n');

// pruning: one vector, every rule alone and together
const indices = [5, 17, 3, 40, 9, 21, 33, 2, 11, 28];
const values = [0.9, 0.05, 0.4, 0.4, 1.2, 0, 0.2, 0.75, 0.4, 0.01];
const cases: { name: string; pruning: Pruning }[] = [
  { name: 'none', pruning: {} },
  { name: 'topK 3', pruning: { topK: 3 } },
  { name: 'topK 5 (a tie at the cut: lower id first)', pruning: { topK: 5 } },
  { name: 'topK 0 = no limit', pruning: { topK: 0 } },
  { name: 'minWeight 0.3', pruning: { minWeight: 0.3 } },
  { name: 'maxRatio 0.5', pruning: { maxRatio: 0.5 } },
  { name: 'mass 0.8', pruning: { mass: 0.8 } },
  { name: 'mass 1', pruning: { mass: 1 } },
  { name: 'all: topK 6, minWeight 0.1, maxRatio 0.2, mass 0.9', pruning: { topK: 6, minWeight: 0.1, maxRatio: 0.2, mass: 0.9 } },
];
const out = cases.map(({ name, pruning }) => {
  const v = prune(indices, values, pruning);
  return { name, pruning, expected: { indices: [...v.indices], values: [...v.values].map((x) => Math.fround(x)) } };
});
writeFileSync(path.join(DIR, 'prune.json'), JSON.stringify({ indices, values, cases: out }, null, 2) + '\n');
console.log(`wrote ${DIR}/metrics.json and prune.json`);
