/**
 * The sparse concept vector shared by encoder, index and query: indices sorted ascending, values
 * strictly positive and finite. `rank_features` rejects zero, negative and non-finite values.
 */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

/** `rank_features` object: concept id as a decimal string (no dots: rank_feature splits at the last dot). */
export function toFeatureMap(v: SparseVector): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < v.indices.length; i++) out[String(v.indices[i])] = v.values[i]!;
  return out;
}


/** Exact dot product of two sorted sparse vectors. */
export function dot(a: SparseVector, b: SparseVector): number {
  let i = 0;
  let j = 0;
  let s = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const ai = a.indices[i]!;
    const bj = b.indices[j]!;
    if (ai === bj) s += a.values[i++]! * b.values[j++]!;
    else if (ai < bj) i++;
    else j++;
  }
  return s;
}
