import type { SparseVector } from '../sparse.js';
import type { Pruning } from './prune.js';

export type EncodeMode = 'document' | 'query';

/** Identity of a model package, recorded in the index `_meta` and checked at query time (src/model-identity.ts). */
export type { ModelIdentity } from '../model-identity.js';
import type { ModelIdentity } from '../model-identity.js';

export interface EncodeStats {
  texts: number;
  /** Tokens fed to the model (after truncation), excluding padding. */
  tokens: number;
  /** Texts longer than the model's maximum length (truncated, or split into passages). */
  truncated: number;
  /** Passages encoded when long texts are split. */
  passages: number;
  /** Texts without content (empty, whitespace, punctuation only) that gave an empty vector without running the model. */
  empty?: number;
  /** Forward passes run. */
  batches?: number;
  /** Milliseconds spent in forward passes (summed over workers). */
  modelMs?: number;
}

/** What to do with documents longer than the model's maximum length. */
export type LongTextMode = 'truncate' | 'passages';

/** Per-call options of `Encoder.encode` (all optional; the encoder's settings apply otherwise). */
export interface EncodeCallOptions {
  /** Pruning for this call, merged key by key over the encoder's (package defaults + overrides). */
  pruning?: Pruning;
  /** Skip pruning: every positive pooled weight the graph gives (for a `topk` graph, at most its k). */
  raw?: boolean;
  /** Long-document handling for this call (document mode only). */
  long?: LongTextMode;
  /**
   * Query mode only: weights from the package's query table (max over the query's tokens' rows), no
   * graph run. Refused for a package without one (EncoderConfigError).
   */
  inferenceFree?: boolean;
}

/** What the rest of the product needs from the encoder runtime. */
export interface Encoder {
  readonly model: ModelIdentity;
  /** Returns one vector per text, in input order. Empty or punctuation-only text gives an empty vector. */
  encode(texts: string[], mode: EncodeMode, options?: EncodeCallOptions): Promise<SparseVector[]>;
  /** Counters since the encoder was created. */
  stats(): EncodeStats;
  /** Human label of a concept (e.g. its top activating tokens), or undefined when the package has none. */
  label(conceptId: number): string | undefined;
  close(): Promise<void>;
}
