import { describe, expect, it } from 'vitest';
import { maxPool, mergePruning, prune, validatePruning } from '../../src/encoder/prune.js';

const arr = (v: { indices: Uint32Array; values: Float32Array }) => ({ i: [...v.indices], v: [...v.values].map((x) => +x.toFixed(4)) });

describe('prune', () => {
  const ids = [9, 3, 7, 1, 5];
  const ws = [0.5, 2.0, 0.1, 1.0, 0.4];

  it('keeps everything positive, sorted by index, without pruning options', () => {
    expect(arr(prune(ids, ws))).toEqual({ i: [1, 3, 5, 7, 9], v: [1, 2, 0.4, 0.1, 0.5] });
  });

  it('drops zero, negative, NaN and infinite weights always', () => {
    expect(arr(prune([1, 2, 3, 4, 5], [0, -1, NaN, Infinity, 0.3]))).toEqual({ i: [5], v: [0.3] });
  });

  it('top_k keeps the heaviest, ties broken by lower id', () => {
    expect(arr(prune(ids, ws, { topK: 2 }))).toEqual({ i: [1, 3], v: [1, 2] });
    expect(arr(prune([4, 2, 8], [1, 1, 1], { topK: 2 })).i).toEqual([2, 4]);
    expect(prune(ids, ws, { topK: 0 }).indices.length).toBe(5); // 0 = no limit
  });

  it('min_weight drops weights below the threshold (inclusive keep)', () => {
    expect(arr(prune(ids, ws, { minWeight: 0.5 })).i).toEqual([1, 3, 9]);
  });

  it('max_ratio drops weights below a share of the maximum', () => {
    expect(arr(prune(ids, ws, { maxRatio: 0.25 })).i).toEqual([1, 3, 9]); // cut 0.5
  });

  it('mass keeps the smallest heaviest set reaching the share of the total', () => {
    // total 4.0; sorted 2.0, 1.0, 0.5, 0.4, 0.1
    expect(arr(prune(ids, ws, { mass: 0.5 })).i).toEqual([3]); // 2.0 >= 2.0
    expect(arr(prune(ids, ws, { mass: 0.6 })).i).toEqual([1, 3]); // 3.0 >= 2.4
    expect(arr(prune(ids, ws, { mass: 1 })).i.length).toBe(5);
  });

  it('applies the steps in order: top_k, min_weight, max_ratio, mass', () => {
    // top_k 4 -> 2,1,0.5,0.4 ; min 0.45 -> 2,1,0.5 ; mass 0.8 of 3.5 = 2.8 -> 2,1
    expect(arr(prune(ids, ws, { topK: 4, minWeight: 0.45, mass: 0.8 })).i).toEqual([1, 3]);
  });

  it('returns an empty vector for empty input or when everything is pruned', () => {
    expect(prune([], []).indices.length).toBe(0);
    expect(prune([1], [0.1], { minWeight: 1 }).values.length).toBe(0);
  });

  it('validates options', () => {
    expect(() => validatePruning({ topK: -1 })).toThrow(/topK/);
    expect(() => validatePruning({ mass: 0 })).toThrow(/mass/);
    expect(() => validatePruning({ mass: 1.5 })).toThrow(/mass/);
    expect(() => validatePruning({ maxRatio: 1.5 })).toThrow(/maxRatio/);
    expect(() => validatePruning({ maxRatio: 1 })).not.toThrow();
    expect(() => validatePruning({ minWeight: -0.1 })).toThrow(/minWeight/);
  });

  it('merges pruning layers key by key', () => {
    expect(mergePruning({ topK: 10, minWeight: 0.1 }, { topK: 5 }, undefined, { mass: 0.9, minWeight: undefined })).toEqual({ topK: 5, minWeight: 0.1, mass: 0.9 });
  });
});

describe('maxPool', () => {
  it('takes the element-wise maximum, sorted by index', () => {
    const a = { indices: Uint32Array.from([1, 4]), values: Float32Array.from([0.5, 1]) };
    const b = { indices: Uint32Array.from([2, 4]), values: Float32Array.from([0.7, 2]) };
    expect(arr(maxPool([a, b]))).toEqual({ i: [1, 2, 4], v: [0.5, 0.7, 2] });
    expect(maxPool([a])).toBe(a);
  });
});
