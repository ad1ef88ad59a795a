import type { SparseVector } from '../sparse.js';
import type { LocalEncoderOptions } from './local.js';
import type { EncodeCallOptions, EncodeMode, EncodeStats } from './types.js';

/** workerData of an encoder worker thread. */
export type WorkerInit = Omit<LocalEncoderOptions, 'log'> & { logLevel?: string };

export type ToWorker = { type: 'encode'; id: number; texts: string[]; mode: EncodeMode; options?: EncodeCallOptions } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; device: string }
  | { type: 'init-error'; name: string; message: string; file?: string }
  | { type: 'result'; id: number; packed: PackedVectors; stats: Required<EncodeStats> }
  | { type: 'error'; id: number; name: string; message: string };

/** Vectors packed into three transferable buffers: vector i is [offsets[i], offsets[i+1]). */
export interface PackedVectors {
  offsets: Uint32Array;
  indices: Uint32Array;
  values: Float32Array;
}

export function pack(vs: SparseVector[]): PackedVectors {
  const offsets = new Uint32Array(vs.length + 1);
  for (let i = 0; i < vs.length; i++) offsets[i + 1] = offsets[i]! + vs[i]!.indices.length;
  const n = offsets[vs.length]!;
  const indices = new Uint32Array(n);
  const values = new Float32Array(n);
  vs.forEach((v, i) => {
    indices.set(v.indices, offsets[i]!);
    values.set(v.values, offsets[i]!);
  });
  return { offsets, indices, values };
}

/** Unpacks into independent vectors (copies, so that no vector pins the whole batch's buffer). */
export function unpack(p: PackedVectors): SparseVector[] {
  const out: SparseVector[] = [];
  for (let i = 0; i + 1 < p.offsets.length; i++) {
    const a = p.offsets[i]!;
    const b = p.offsets[i + 1]!;
    out.push({ indices: p.indices.slice(a, b), values: p.values.slice(a, b) });
  }
  return out;
}
