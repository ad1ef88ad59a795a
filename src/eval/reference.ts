import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The Python toolkit's own figures for a collection: the model package's expected.json (data,
 * written by model/saesplade_model/expected.py from the report), or, for a package without one, its
 * REPORT.md: a markdown table whose header has a column `<collection> nDCG@10 / MRR@10 / R@100` and
 * one row per system. The row of the shipped graph (exact dot products of the ONNX graph's vectors)
 * is the one the product must agree with.
 */

export interface ReferenceFigure {
  /** The row label, e.g. "SAE-SPLADE shipped graph: int8 weights, fp32 activations (ONNX, end to end)". */
  system: string;
  ndcg10: number;
  mrr10?: number;
  recall100?: number;
}

/** Row preference: the shipped graph first, then any ONNX SAE row, then the fp32 model. */
const PREFERENCE: RegExp[] = [/shipped/i, /sae.*onnx|onnx.*sae/i, /sae|splade|concept/i];

function cells(line: string): string[] {
  const t = line.trim();
  if (!t.startsWith('|')) return [];
  return t
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

function parseFigure(cell: string): Omit<ReferenceFigure, 'system'> | undefined {
  const nums = cell.split('/').map((s) => Number(s.trim().replace(/\*/g, '')));
  if (nums.length === 0 || !Number.isFinite(nums[0]) || cell.trim() === '') return undefined;
  const out: Omit<ReferenceFigure, 'system'> = { ndcg10: nums[0]! };
  if (nums.length >= 3 && Number.isFinite(nums[1]) && Number.isFinite(nums[2])) {
    out.mrr10 = nums[1]!;
    out.recall100 = nums[2]!;
  }
  return out;
}

/**
 * The reference nDCG@10 (and MRR@10 / Recall@100 when given) of `collection` in a REPORT.md, or
 * undefined when the report has no such column or no measured SAE row for it. Rows whose label
 * mentions BM25, the dense teacher or the vocabulary SPLADE are never taken.
 */
export function parseReferenceReport(markdown: string, collection: string): ReferenceFigure | undefined {
  const lines = markdown.split(/\r?\n/);
  const want = collection.toLowerCase();
  const candidates: ReferenceFigure[] = [];
  for (let i = 0; i < lines.length; i++) {
    const head = cells(lines[i]!);
    if (head.length < 2) continue;
    const col = head.findIndex((h) => {
      const m = /^([\w.-]+)\s+nDCG@10/i.exec(h);
      return m !== null && m[1]!.toLowerCase() === want;
    });
    if (col < 1) continue;
    // rows follow the separator line
    for (let j = i + 2; j < lines.length; j++) {
      const row = cells(lines[j]!);
      if (row.length === 0) break;
      const label = row[0] ?? '';
      if (/bm25|teacher|dense|vocabulary|cassette/i.test(label)) continue;
      const fig = parseFigure(row[col] ?? '');
      if (fig) candidates.push({ system: label, ...fig });
    }
  }
  for (const re of PREFERENCE) {
    const hit = candidates.find((c) => re.test(c.system));
    if (hit) return hit;
  }
  return undefined;
}

/** A package's expected.json (format `saesplade-expected/1`). */
export interface ExpectedFigures {
  format: string;
  system: string;
  collections: Record<string, { ndcg10: number; mrr10?: number; recall100?: number }>;
  /** |measured - expected| allowed per metric. */
  tolerance: Partial<Record<CheckedMetric, number>>;
}

export type CheckedMetric = 'ndcg10' | 'mrr10' | 'recall100';
export const CHECKED_METRICS: readonly CheckedMetric[] = ['ndcg10', 'mrr10', 'recall100'];

/** Reads and checks an expected.json; throws naming the file and the problem. */
export function parseExpected(text: string, file: string): ExpectedFigures {
  let data: any;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  if (data?.format !== 'saesplade-expected/1') throw new Error(`${file}: format must be "saesplade-expected/1", got ${JSON.stringify(data?.format)}`);
  if (typeof data.system !== 'string' || typeof data.collections !== 'object' || data.collections === null) throw new Error(`${file}: needs "system" and "collections"`);
  for (const [name, figs] of Object.entries<any>(data.collections)) {
    for (const m of CHECKED_METRICS) {
      const v = figs?.[m];
      if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw new Error(`${file}: collections.${name}.${m} must be a number in [0, 1]`);
    }
    if (typeof figs?.ndcg10 !== 'number') throw new Error(`${file}: collections.${name}.ndcg10 is missing`);
  }
  return { format: data.format, system: data.system, collections: data.collections, tolerance: data.tolerance ?? {} };
}

/** Where a package's reference figures are: expected.json when present, else REPORT.md (the older packages). */
export interface ReferenceSource {
  file: string;
  figure?: ReferenceFigure;
  /** expected.json's tolerances, per metric (none from REPORT.md). */
  tolerance: Partial<Record<CheckedMetric, number>>;
}

/**
 * The reference figure of `collection` for a model package: `file` when given (expected.json or a
 * REPORT.md, told apart by its ending), else the package's expected.json, else its REPORT.md;
 * undefined when there is no such file.
 */
export function loadReference(modelDir: string, collection: string, file?: string): ReferenceSource | undefined {
  const candidates = file ? [file] : [path.join(modelDir, 'expected.json'), path.join(modelDir, 'REPORT.md')];
  const found = candidates.find((f) => existsSync(f));
  if (!found) return undefined;
  const text = readFileSync(found, 'utf8');
  if (found.endsWith('.json')) {
    const exp = parseExpected(text, found);
    const figs = exp.collections[collection.toLowerCase()] ?? exp.collections[collection];
    const out: ReferenceSource = { file: found, tolerance: exp.tolerance };
    if (figs) out.figure = { system: exp.system, ...figs };
    return out;
  }
  const figure = parseReferenceReport(text, collection);
  return figure ? { file: found, figure, tolerance: {} } : { file: found, tolerance: {} };
}

/** One figure held against its expected value. */
export interface FigureCheck {
  metric: CheckedMetric;
  expected: number;
  measured: number;
  tolerance: number;
  within: boolean;
}

export interface Consistency {
  reference: ReferenceFigure;
  measured: number;
  /** measured − reference. */
  gap: number;
  tolerance: number;
  /** |gap| <= tolerance (only meaningful when `comparable`). */
  withinTolerance: boolean;
  /** False when the run did not use the whole collection's judged queries (then the gap means little). */
  comparable: boolean;
  note?: string;
  /** Every figure the reference has (nDCG@10, MRR@10, Recall@100), each within its tolerance or not: `eval --check`. */
  checks?: FigureCheck[];
}

/**
 * `measured` (the concepts nDCG@10) against the reference; with `all` (the concepts mode's three
 * figures) and per-metric tolerances, `checks` holds each figure the reference has. nDCG@10's
 * tolerance is `tolerance` (the --tolerance flag) unless the reference file sets one.
 */
export function compareWithReference(
  reference: ReferenceFigure,
  measured: number,
  tolerance: number,
  comparable: boolean,
  note?: string,
  all?: { measured: Record<CheckedMetric, number>; tolerance: Partial<Record<CheckedMetric, number>> },
): Consistency {
  const gap = measured - reference.ndcg10;
  const out: Consistency = { reference, measured, gap, tolerance, withinTolerance: Math.abs(gap) <= tolerance, comparable };
  if (note) out.note = note;
  if (all) {
    out.checks = [];
    for (const metric of CHECKED_METRICS) {
      const expected = reference[metric];
      if (expected === undefined) continue;
      const tol = metric === 'ndcg10' ? tolerance : (all.tolerance[metric] ?? tolerance);
      const m = all.measured[metric];
      out.checks.push({ metric, expected, measured: m, tolerance: tol, within: Math.abs(m - expected) <= tol });
    }
  }
  return out;
}
