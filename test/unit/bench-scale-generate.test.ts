import { describe, expect, it } from 'vitest';
import { SyntheticCollection } from '../../src/bench/scale-generate.js';
import { ProfileBuilder } from '../../src/bench/scale-profile.js';

function profile() {
  const b = new ProfileBuilder({ name: 'm', version: '1' }, 'unit');
  // concept 1 in every document, concept 2 in half, 3..12 once each
  for (let i = 0; i < 10; i++) {
    const c: Record<string, number> = { '1': 0.5 + i / 100 };
    if (i % 2 === 0) c['2'] = 1.5;
    c[String(3 + i)] = 2;
    b.add(c, i % 2 ? 'alpha beta beta' : 'gamma');
  }
  return b.p;
}

describe('bench scale: profile and synthetic documents', () => {
  it('the profile counts non-zeros, document frequency, weights and words', () => {
    const p = profile();
    expect(p.documents).toBe(10);
    expect(p.nnz).toEqual([3, 2, 3, 2, 3, 2, 3, 2, 3, 2]);
    expect(p.df['1']).toBe(10);
    expect(p.df['2']).toBe(5);
    expect(p.weights['2']).toEqual([1.5, 1.5, 1.5, 1.5, 1.5]);
    expect(p.terms).toEqual({ alpha: 5, beta: 10, gamma: 5 });
    expect(p.words).toEqual([1, 3, 1, 3, 1, 3, 1, 3, 1, 3]);
  });

  it('the k-th document is the same whatever was generated before, and differs with the seed', () => {
    const a = new SyntheticCollection(profile(), 1);
    const b = new SyntheticCollection(profile(), 1);
    const c = new SyntheticCollection(profile(), 2);
    b.doc(0);
    b.doc(5);
    expect(a.doc(7)).toEqual(b.doc(7));
    expect(JSON.stringify(a.doc(7))).not.toBe(JSON.stringify(c.doc(7)));
  });

  it('documents take a profiled non-zero count, distinct concepts with their own weights, and profiled words', () => {
    const p = profile();
    const coll = new SyntheticCollection(p, 3);
    const df: Record<string, number> = {};
    const N = 4000;
    for (let k = 0; k < N; k++) {
      const d = coll.doc(k);
      const cs = Object.keys(d.concepts);
      expect([2, 3]).toContain(cs.length);
      for (const c of cs) {
        expect(p.weights[c]).toContain(d.concepts[c]);
        df[c] = (df[c] ?? 0) + 1;
      }
      for (const w of d.text.split(' ')) expect(['alpha', 'beta', 'gamma']).toContain(w);
    }
    // drawn in proportion to df: concept 1 is the most frequent, then 2, then each rare one
    expect(df['1']!).toBeGreaterThan(df['2']!);
    expect(df['2']!).toBeGreaterThan(df['3']!);
    expect(df['1']! / N).toBeGreaterThan(0.6);
  });
});
