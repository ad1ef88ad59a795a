import type { ScaleProfile } from './scale-profile.js';

/*
 * Synthetic documents drawn from a profile (scale-profile.ts), deterministic per (seed, document number):
 * the k-th document is the same in the 10k, 100k and 1M builds. Non-zeros: drawn from the profiled
 * documents' counts; concepts: drawn without repetition with probability proportional to their document
 * frequency (so each concept's expected df share matches the profile's); weights: drawn from the concept's
 * own observed weights; text: as many words as a profiled document, drawn by word frequency.
 */

/** mulberry32: small, fast, seedable (also the fault tests' generator, so a failing run replays from its seed). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws keys with probability proportional to their weight (cumulative table + binary search). */
class Sampler<T> {
  private cum: Float64Array;
  constructor(
    private keys: T[],
    weights: number[],
  ) {
    this.cum = new Float64Array(weights.length);
    let s = 0;
    weights.forEach((w, i) => (this.cum[i] = s += w));
  }
  draw(r: number): T {
    const x = r * this.cum[this.cum.length - 1]!;
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.keys[lo]!;
  }
}

export interface SyntheticDoc {
  id: string;
  text: string;
  concepts: Record<string, number>;
}

export class SyntheticCollection {
  private concepts: Sampler<string>;
  private terms: Sampler<string>;
  /** Mean non-zeros of the profile, and the df-proportional draw's correction (see draw()). */
  constructor(
    private profile: ScaleProfile,
    private seed = 1,
  ) {
    const cs = Object.keys(profile.df);
    // a document holds nnz distinct concepts; drawing them in proportion to df gives each concept an
    // expected df share of df / sum(df), as in the profile
    this.concepts = new Sampler(cs, cs.map((c) => profile.df[c]!));
    const ts = Object.keys(profile.terms);
    this.terms = new Sampler(ts, ts.map((t) => profile.terms[t]!));
  }

  doc(k: number): SyntheticDoc {
    const r = rng(this.seed * 1_000_003 + k);
    const p = this.profile;
    const nnz = p.nnz[Math.floor(r() * p.nnz.length)]!;
    const concepts: Record<string, number> = {};
    let n = 0;
    for (let tries = 0; n < nnz && tries < nnz * 20; tries++) {
      const c = this.concepts.draw(r());
      if (concepts[c] !== undefined) continue;
      const ws = p.weights[c]!;
      concepts[c] = ws[Math.floor(r() * ws.length)]!;
      n++;
    }
    const len = p.words[Math.floor(r() * p.words.length)]!;
    const words: string[] = [];
    for (let i = 0; i < len; i++) words.push(this.terms.draw(r()));
    return { id: `s${k}`, text: words.join(' '), concepts };
  }
}
