/**
 * The Python toolkit's own figure for a collection, read from the model package's REPORT.md
 * (model/saesplade_model/report_text.py writes it): a markdown table whose header has a column
 * `<collection> nDCG@10 / MRR@10 / R@100` and one row per system. The row of the shipped graph
 * (exact dot products of the ONNX graph's vectors) is the one the product must agree with.
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
}

export function compareWithReference(reference: ReferenceFigure, measured: number, tolerance: number, comparable: boolean, note?: string): Consistency {
  const gap = measured - reference.ndcg10;
  const out: Consistency = { reference, measured, gap, tolerance, withinTolerance: Math.abs(gap) <= tolerance, comparable };
  if (note) out.note = note;
  return out;
}
