/**
 * Encoder runtime: `createEncoder(options)` gives an `Encoder` (see types.ts) over a model package
 * (docs/MODEL_PACKAGE.md), in-process (`workers: 0`) or behind a pool of worker threads.
 */
import type { Logger } from 'pino';
import { DEFAULT_MODEL_DIR } from '../config.js';
import { LocalEncoder, type LocalEncoderOptions } from './local.js';
import { WorkerPoolEncoder } from './pool.js';
import type { Encoder } from './types.js';

export interface CreateEncoderOptions extends Omit<LocalEncoderOptions, 'modelDir'> {
  /** Model package directory (default: the bundled models/default). */
  modelDir?: string;
  /**
   * Worker threads (default 0). 0: the model runs in the calling thread with `threads` intra-op
   * threads. N > 0: N worker threads, each with its own session and threads / N intra-op threads,
   * so that encoding does not block the event loop.
   */
  workers?: number;
  log?: Logger;
}

export async function createEncoder(opts: CreateEncoderOptions = {}): Promise<Encoder & { readonly device: string }> {
  const modelDir = opts.modelDir ?? DEFAULT_MODEL_DIR;
  const workers = Math.max(0, Math.floor(opts.workers ?? 0));
  if (workers === 0) return LocalEncoder.create({ ...opts, modelDir });
  return WorkerPoolEncoder.create({ ...opts, modelDir, workers });
}

export { LocalEncoder, type LocalEncoderOptions } from './local.js';
export { WorkerPoolEncoder, type WorkerPoolOptions } from './pool.js';
export { ModelPackageError } from './errors.js';
export { loadModelPackage, readManifest, type ModelPackage } from './package.js';
export { ManifestSchema, MODEL_FORMAT, type Manifest, type GraphSpec } from './manifest.js';
export { prune, maxPool, mergePruning, type Pruning } from './prune.js';
export { TextTokenizer, hasContent } from './tokenize.js';
export { parseDevice, defaultThreads } from './session.js';
export type * from './types.js';
export { readGolden, compareVectors, checkGolden, type Golden } from './golden.js';
