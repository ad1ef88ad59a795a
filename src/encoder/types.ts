import type { SparseVector } from '../sparse.js';

export type EncodeMode = 'document' | 'query';

/** Identity of a model package, recorded in the index `_meta` and checked at query time. */
export interface ModelIdentity {
  name: string;
  version: string;
  dictionarySize: number;
}

export interface EncodeStats {
  texts: number;
  /** Tokens fed to the model (after truncation), excluding padding. */
  tokens: number;
  /** Texts longer than the model's maximum length (truncated, or split into passages). */
  truncated: number;
  /** Passages encoded when long texts are split. */
  passages: number;
}

/** What the rest of the product needs from the encoder runtime. */
export interface Encoder {
  readonly model: ModelIdentity;
  /** Returns one vector per text, in input order. Empty or punctuation-only text gives an empty vector. */
  encode(texts: string[], mode: EncodeMode): Promise<SparseVector[]>;
  /** Counters since the encoder was created. */
  stats(): EncodeStats;
  /** Human label of a concept (e.g. its top activating tokens), or undefined when the package has none. */
  label(conceptId: number): string | undefined;
  close(): Promise<void>;
}
