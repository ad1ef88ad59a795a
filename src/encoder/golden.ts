import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { dot, type SparseVector } from '../sparse.js';
import { ModelPackageError } from './errors.js';
import { displayPath, type ModelPackage } from './package.js';
import type { Encoder, EncodeMode } from './types.js';

export const GoldenSchema = z.object({
  tolerance: z.object({
    /** Largest difference of one concept's weight (docs/ENCODER.md, "Across machines"). */
    abs: z.number().nonnegative(),
    /** Smallest cosine between the encoded and the golden vector (packages before 1.2.0 have none). */
    cosine: z.number().min(0).max(1).optional(),
  }),
  cases: z.array(
    z.object({
      mode: z.enum(['document', 'query']),
      text: z.string(),
      indices: z.array(z.number().int().nonnegative()),
      values: z.array(z.number()),
    }),
  ),
});
export type Golden = z.infer<typeof GoldenSchema>;
export type GoldenCase = Golden['cases'][number];

export function readGolden(pkg: ModelPackage): Golden | undefined {
  if (!pkg.manifest.golden) return undefined;
  const file = path.join(pkg.dir, pkg.manifest.golden);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelPackageError(`${displayPath(file)}: cannot read golden vectors: ${(e as Error).message}`, file);
  }
  const parsed = GoldenSchema.safeParse(raw);
  if (!parsed.success) throw new ModelPackageError(`${displayPath(file)}: invalid golden.json: ${parsed.error.issues[0]?.message}`, file);
  for (const [i, c] of parsed.data.cases.entries())
    if (c.indices.length !== c.values.length) throw new ModelPackageError(`${displayPath(file)}: cases[${i}] has ${c.indices.length} indices but ${c.values.length} values`, file);
  return parsed.data;
}

/**
 * Differences between an encoded vector and a golden one, within `tol` (absolute): a concept in
 * both must agree within tol; a concept in only one side must weigh at most tol, or lie within tol
 * of the other side's smallest kept weight (a top-k/threshold boundary that float noise can flip).
 * Returns human-readable problems (empty: they match).
 */
export function compareVectors(got: SparseVector, want: { indices: number[]; values: number[] }, tol: number): string[] {
  const g = new Map<number, number>();
  got.indices.forEach((id, i) => g.set(id, got.values[i]!));
  const w = new Map<number, number>();
  want.indices.forEach((id, i) => w.set(id, want.values[i]!));
  const minOf = (m: Map<number, number>) => (m.size ? Math.min(...m.values()) : 0);
  const gMin = minOf(g);
  const wMin = minOf(w);
  const problems: string[] = [];
  for (const [id, wv] of w) {
    const gv = g.get(id);
    if (gv === undefined) {
      if (wv > tol && !(g.size > 0 && wv <= gMin + tol)) problems.push(`concept ${id}: expected ${wv}, missing`);
    } else if (Math.abs(gv - wv) > tol) problems.push(`concept ${id}: expected ${wv}, got ${gv}`);
  }
  for (const [id, gv] of g) {
    if (w.has(id)) continue;
    if (gv > tol && !(w.size > 0 && gv <= wMin + tol)) problems.push(`concept ${id}: unexpected weight ${gv}`);
  }
  return problems;
}

/** Cosine of two sparse vectors (1 when both are empty), through the shared sorted-vector dot(). */
export function sparseCosine(a: SparseVector, b: SparseVector): number {
  const na = dot(a, a);
  const nb = dot(b, b);
  if (na === 0 || nb === 0) return na === nb ? 1 : 0;
  return dot(a, b) / Math.sqrt(na * nb);
}

/** A golden case's vector sorted by concept id (golden.json lists them heaviest first). */
function asSparseVector(c: { indices: number[]; values: number[] }): SparseVector {
  const order = c.indices.map((_, i) => i).sort((x, y) => c.indices[x]! - c.indices[y]!);
  return { indices: Uint32Array.from(order, (i) => c.indices[i]!), values: Float32Array.from(order, (i) => c.values[i]!) };
}

/** Encodes every golden case with `encoder` and compares; returns the failing cases. */
export async function checkGolden(encoder: Encoder, golden: Golden): Promise<{ case: GoldenCase; problems: string[] }[]> {
  const failures: { case: GoldenCase; problems: string[] }[] = [];
  for (const mode of ['document', 'query'] as EncodeMode[]) {
    const cases = golden.cases.filter((c) => c.mode === mode);
    if (cases.length === 0) continue;
    const vecs = await encoder.encode(
      cases.map((c) => c.text),
      mode,
    );
    cases.forEach((c, i) => {
      const problems = compareVectors(vecs[i]!, c, golden.tolerance.abs);
      const minCos = golden.tolerance.cosine;
      if (minCos !== undefined) {
        const cos = sparseCosine(vecs[i]!, asSparseVector(c));
        if (cos < minCos) problems.unshift(`cosine ${cos.toFixed(6)} < ${minCos}`);
      }
      if (problems.length) failures.push({ case: c, problems });
    });
  }
  return failures;
}
