import type { SparseVector } from '../sparse.js';

/**
 * Pruning of a concept vector, applied in this order (docs/MODEL_PACKAGE.md):
 * 1. `topK`: keep at most the k heaviest weights (0 or undefined: no limit);
 * 2. `minWeight`: drop weights below this absolute value (OpenSearch `abs_value`);
 * 3. `maxRatio`: drop weights below maxRatio × the largest weight (OpenSearch `max_ratio`; 1 keeps
 *    only the largest);
 * 4. `mass`: keep the smallest set of heaviest weights whose sum reaches mass × the sum of what is
 *    left (1 = keep all; OpenSearch `alpha_mass`).
 * Non-positive and non-finite weights are always dropped. Ties are broken by the lower concept id.
 * Documents (the encoder) and queries (the translator, which then applies its clause budget) share it.
 */
export interface Pruning {
  topK?: number;
  minWeight?: number;
  maxRatio?: number;
  mass?: number;
}

export function emptyVector(): SparseVector {
  return { indices: new Uint32Array(0), values: new Float32Array(0) };
}

/** Merges pruning settings: later ones win, key by key (undefined keeps the earlier value). */
export function mergePruning(...layers: (Pruning | undefined)[]): Pruning {
  const out: Pruning = {};
  for (const l of layers) {
    if (!l) continue;
    for (const k of ['topK', 'minWeight', 'maxRatio', 'mass'] as const) if (l[k] !== undefined) out[k] = l[k];
  }
  return out;
}

/** Checks pruning values; throws RangeError naming the bad one. */
export function validatePruning(p: Pruning): Pruning {
  if (p.topK !== undefined && (!Number.isInteger(p.topK) || p.topK < 0)) throw new RangeError(`topK must be an integer >= 0, got ${p.topK}`);
  if (p.minWeight !== undefined && !(p.minWeight >= 0 && Number.isFinite(p.minWeight))) throw new RangeError(`minWeight must be >= 0, got ${p.minWeight}`);
  if (p.maxRatio !== undefined && !(p.maxRatio >= 0 && p.maxRatio <= 1)) throw new RangeError(`maxRatio must be in [0, 1], got ${p.maxRatio}`);
  if (p.mass !== undefined && !(p.mass > 0 && p.mass <= 1)) throw new RangeError(`mass must be in (0, 1], got ${p.mass}`);
  return p;
}

/**
 * Prunes (indices, values) pairs (any order, no duplicate indices) and returns a SparseVector sorted
 * by index with strictly positive finite values.
 */
export function prune(indices: ArrayLike<number>, values: ArrayLike<number>, p: Pruning = {}): SparseVector {
  const n = indices.length;
  // order of candidates: heaviest first, ties by lower id
  let order: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v > 0 && Number.isFinite(v)) order.push(i);
  }
  if (order.length === 0) return emptyVector();
  order.sort((a, b) => values[b]! - values[a]! || indices[a]! - indices[b]!);
  if (p.topK !== undefined && p.topK > 0 && order.length > p.topK) order = order.slice(0, p.topK);
  if (p.minWeight !== undefined && p.minWeight > 0) {
    const mw = p.minWeight;
    order = order.filter((i) => values[i]! >= mw);
  }
  if (p.maxRatio !== undefined && p.maxRatio > 0 && order.length > 0) {
    const cut = values[order[0]!]! * p.maxRatio;
    order = order.filter((i) => values[i]! >= cut);
  }
  if (p.mass !== undefined && p.mass < 1 && order.length > 0) {
    let total = 0;
    for (const i of order) total += values[i]!;
    const target = total * p.mass * (1 - 1e-9); // tolerate float rounding at mass = exactly a prefix's share
    let acc = 0;
    let keep = 0;
    while (keep < order.length && acc < target) acc += values[order[keep++]!]!;
    order = order.slice(0, Math.max(1, keep));
  }
  order.sort((a, b) => indices[a]! - indices[b]!);
  const out: SparseVector = { indices: new Uint32Array(order.length), values: new Float32Array(order.length) };
  for (let j = 0; j < order.length; j++) {
    out.indices[j] = indices[order[j]!]!;
    out.values[j] = values[order[j]!]!;
  }
  // a float64 weight can underflow to 0 in float32; drop it to keep values strictly positive
  return out.values.every((v) => v > 0) ? out : filterPositive(out);
}

function filterPositive(v: SparseVector): SparseVector {
  const keep: number[] = [];
  for (let i = 0; i < v.values.length; i++) if (v.values[i]! > 0) keep.push(i);
  return { indices: Uint32Array.from(keep, (i) => v.indices[i]!), values: Float32Array.from(keep, (i) => v.values[i]!) };
}

/** Element-wise maximum of sorted sparse vectors (max-pooling passages into one document vector). */
export function maxPool(vectors: SparseVector[]): SparseVector {
  if (vectors.length === 1) return vectors[0]!;
  const m = new Map<number, number>();
  for (const v of vectors) {
    for (let i = 0; i < v.indices.length; i++) {
      const id = v.indices[i]!;
      const w = v.values[i]!;
      const cur = m.get(id);
      if (cur === undefined || w > cur) m.set(id, w);
    }
  }
  const ids = [...m.keys()].sort((a, b) => a - b);
  return { indices: Uint32Array.from(ids), values: Float32Array.from(ids, (i) => m.get(i)!) };
}
