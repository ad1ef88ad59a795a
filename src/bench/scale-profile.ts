import { readFileSync, writeFileSync } from 'node:fs';
import type { Encoder } from '../encoder/types.js';
import type { SparseVector } from '../sparse.js';
import { rng } from './scale-generate.js';

/*
 * What a synthetic collection for `bench scale` imitates: a real encoded collection's vectors (non-zeros per
 * document, each concept's document frequency, the weights each concept takes) and its text (words per
 * document, each word's frequency), plus real queries (text and concept vector). Measured once from a sample
 * of a BEIR collection and saved as JSON, so the 10k, 100k and 1M builds draw from one profile.
 */

export const WEIGHTS_PER_CONCEPT = 24;

export interface ScaleProfile {
  model: { name: string; version: string };
  source: string;
  documents: number;
  /** Non-zeros of each profiled document. */
  nnz: number[];
  /** concept id -> documents it occurs in. */
  df: Record<string, number>;
  /** concept id -> up to WEIGHTS_PER_CONCEPT of its observed weights. */
  weights: Record<string, number[]>;
  /** Words of each profiled document (title + text). */
  words: number[];
  /** word -> occurrences over the profiled documents (lower case, letters and digits). */
  terms: Record<string, number>;
  queries: { id: string; text: string; indices: number[]; values: number[] }[];
}

export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export async function buildProfile(
  encoder: Encoder,
  source: string,
  docs: string[],
  queries: { id: string; text: string }[],
  onProgress?: (done: number, total: number) => void,
): Promise<ScaleProfile> {
  const p: ScaleProfile = {
    model: { name: encoder.model.name, version: encoder.model.version },
    source,
    documents: docs.length,
    nnz: [],
    df: {},
    weights: {},
    words: [],
    terms: {},
    queries: [],
  };
  const seen: Record<string, number> = {};
  const draw = rng(7);
  for (let a = 0; a < docs.length; a += 32) {
    const batch = docs.slice(a, a + 32);
    const vecs = await encoder.encode(batch, 'document');
    vecs.forEach((v, i) => {
      p.nnz.push(v.indices.length);
      for (let j = 0; j < v.indices.length; j++) {
        const c = String(v.indices[j]);
        p.df[c] = (p.df[c] ?? 0) + 1;
        // a uniform sample of the concept's weights (reservoir sampling, seeded)
        const n = (seen[c] = (seen[c] ?? 0) + 1);
        const w = (p.weights[c] ??= []);
        if (w.length < WEIGHTS_PER_CONCEPT) w.push(round(v.values[j]!));
        else {
          const slot = Math.floor(draw() * n);
          if (slot < WEIGHTS_PER_CONCEPT) w[slot] = round(v.values[j]!);
        }
      }
      const words = wordsOf(batch[i]!);
      p.words.push(words.length);
      for (const t of words) p.terms[t] = (p.terms[t] ?? 0) + 1;
    });
    onProgress?.(Math.min(docs.length, a + 32), docs.length);
  }
  const qv: SparseVector[] = await encoder.encode(queries.map((q) => q.text), 'query');
  p.queries = queries.map((q, i) => ({ id: q.id, text: q.text, indices: [...qv[i]!.indices], values: [...qv[i]!.values].map(round) }));
  return p;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export function saveProfile(file: string, p: ScaleProfile): void {
  writeFileSync(file, JSON.stringify(p));
}

export function loadProfile(file: string): ScaleProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as ScaleProfile;
}
