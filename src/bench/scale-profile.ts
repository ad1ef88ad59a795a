import { readFileSync, writeFileSync } from 'node:fs';
import type { Encoder } from '../encoder/types.js';
import { toFeatureMap, type SparseVector } from '../sparse.js';
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

/** Accumulates a profile one document at a time (from the encoder, or from an index's stored vectors). */
export class ProfileBuilder {
  readonly p: ScaleProfile;
  private seen: Record<string, number> = {};
  private draw = rng(7);

  constructor(model: { name: string; version: string }, source: string) {
    this.p = { model, source, documents: 0, nnz: [], df: {}, weights: {}, words: [], terms: {}, queries: [] };
  }

  add(concepts: Record<string, number>, text: string): void {
    const p = this.p;
    p.documents++;
    const keys = Object.keys(concepts);
    p.nnz.push(keys.length);
    for (const c of keys) {
      p.df[c] = (p.df[c] ?? 0) + 1;
      // a uniform sample of the concept's weights (reservoir sampling, seeded)
      const n = (this.seen[c] = (this.seen[c] ?? 0) + 1);
      const w = (p.weights[c] ??= []);
      const value = round(concepts[c]!);
      if (w.length < WEIGHTS_PER_CONCEPT) w.push(value);
      else {
        const slot = Math.floor(this.draw() * n);
        if (slot < WEIGHTS_PER_CONCEPT) w[slot] = value;
      }
    }
    const words = wordsOf(text);
    p.words.push(words.length);
    for (const t of words) p.terms[t] = (p.terms[t] ?? 0) + 1;
  }

  async addQueries(encoder: Encoder, queries: { id: string; text: string }[]): Promise<void> {
    const qv: SparseVector[] = await encoder.encode(queries.map((q) => q.text), 'query');
    this.p.queries = queries.map((q, i) => ({ id: q.id, text: q.text, indices: [...qv[i]!.indices], values: [...qv[i]!.values].map(round) }));
  }
}

/** A profile from documents encoded here. */
export async function buildProfile(
  encoder: Encoder,
  source: string,
  docs: string[],
  queries: { id: string; text: string }[],
  onProgress?: (done: number, total: number) => void,
): Promise<ScaleProfile> {
  const b = new ProfileBuilder({ name: encoder.model.name, version: encoder.model.version }, source);
  for (let a = 0; a < docs.length; a += 32) {
    const batch = docs.slice(a, a + 32);
    const vecs = await encoder.encode(batch, 'document');
    vecs.forEach((v, i) => b.add(toFeatureMap(v), batch[i]!));
    onProgress?.(Math.min(docs.length, a + 32), docs.length);
  }
  await b.addQueries(encoder, queries);
  return b.p;
}

/** Four decimals, but never 0 (`rank_features` refuses zero weights). */
function round(x: number): number {
  return Math.max(1e-4, Math.round(x * 1e4) / 1e4);
}

export function saveProfile(file: string, p: ScaleProfile): void {
  writeFileSync(file, JSON.stringify(p));
}

export function loadProfile(file: string): ScaleProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as ScaleProfile;
}
