/**
 * test/fixtures/parity/*.json hold TypeScript's figures for fixed inputs (scripts/parity-fixtures.ts);
 * the Python toolkit's tests (model/tests/) must give the same. This checks TypeScript still does, so a
 * change of either side's rule shows on both.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { prune } from '../../src/encoder/prune.js';
import { evaluateRun, mrrAt, ndcgAt, recallAt } from '../../src/eval/metrics.js';

const DIR = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'parity');
const read = (f: string) => JSON.parse(readFileSync(path.join(DIR, f), 'utf8'));

describe('parity fixtures', () => {
  it('metrics on graded relevance (linear gain)', () => {
    const fx = read('metrics.json');
    expect(fx.gain).toBe('linear');
    const qrels = new Map(Object.entries(fx.qrels as Record<string, Record<string, number>>).map(([q, j]) => [q, new Map(Object.entries(j))]));
    for (const [q, judged] of qrels) {
      const ranked: string[] = fx.run[q] ?? [];
      expect({ ndcg10: ndcgAt(ranked, judged, 10), mrr10: mrrAt(ranked, judged, 10), recall100: recallAt(ranked, judged, 100) }).toEqual(fx.perQuery[q]);
    }
    expect(evaluateRun(new Map(Object.entries(fx.run)), qrels)).toEqual(fx.summary);
  });

  it('pruning, every rule', () => {
    const fx = read('prune.json');
    for (const c of fx.cases) {
      const v = prune(fx.indices, fx.values, c.pruning);
      expect({ name: c.name, indices: [...v.indices], values: [...v.values] }).toEqual({ name: c.name, ...c.expected });
    }
  });
});
