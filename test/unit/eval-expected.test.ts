/** expected.json (issue 18.8): the package's reference figures as data, the same figures as its REPORT.md. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { compareWithReference, loadReference, parseExpected, parseReferenceReport } from '../../src/eval/reference.js';

const DEFAULT = path.join(PACKAGE_ROOT, 'models', 'default');

describe('expected.json', () => {
  it('models/default/expected.json holds the shipped-graph row of its REPORT.md, collection by collection', () => {
    const exp = parseExpected(readFileSync(path.join(DEFAULT, 'expected.json'), 'utf8'), 'expected.json');
    const report = readFileSync(path.join(DEFAULT, 'REPORT.md'), 'utf8');
    // as many collections as the report measured the shipped graph on (model 1.2.0: all four; a build may measure fewer)
    expect(Object.keys(exp.collections).length).toBeGreaterThan(0);
    for (const [name, figs] of Object.entries(exp.collections)) {
      const fromReport = parseReferenceReport(report, name)!;
      expect(fromReport.system.replace(/\*\*/g, '')).toBe(exp.system);
      expect(figs).toEqual({ ndcg10: fromReport.ndcg10, mrr10: fromReport.mrr10, recall100: fromReport.recall100 });
    }
  });

  it('is preferred over REPORT.md, which stays the fallback', () => {
    expect(loadReference(DEFAULT, 'cacm')!.file).toBe(path.join(DEFAULT, 'expected.json'));
    const report = readFileSync(path.join(DEFAULT, 'REPORT.md'), 'utf8');
    expect(loadReference(DEFAULT, 'cacm', path.join(DEFAULT, 'REPORT.md'))!.figure).toEqual(parseReferenceReport(report, 'cacm'));
    expect(loadReference(DEFAULT, 'no-such-collection')!.figure).toBeUndefined();
  });

  it('refuses a malformed file, naming it', () => {
    expect(() => parseExpected('{}', 'x.json')).toThrow(/x\.json: format must be "saesplade-expected\/1"/);
    expect(() => parseExpected(JSON.stringify({ format: 'saesplade-expected/1', system: 's', collections: { a: { ndcg10: 2 } } }), 'x.json')).toThrow(/collections\.a\.ndcg10 must be a number in \[0, 1\]/);
  });

  it('checks every figure within its own tolerance', () => {
    const c = compareWithReference({ system: 's', ndcg10: 0.5, mrr10: 0.6, recall100: 0.9 }, 0.505, 0.01, true, undefined, {
      measured: { ndcg10: 0.505, mrr10: 0.65, recall100: 0.89 },
      tolerance: { mrr10: 0.02, recall100: 0.02 },
    });
    expect(c.checks!.map((k) => [k.metric, k.within])).toEqual([
      ['ndcg10', true],
      ['mrr10', false],
      ['recall100', true],
    ]);
  });
});
