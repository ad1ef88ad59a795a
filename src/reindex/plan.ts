/**
 * The pure parts of reindexing (no I/O; unit-tested): names of the new index, its queue, job set and
 * page jobs; slice planning and the page search body; turning a source hit into a document; the
 * target index body with the source's own fields carried over; comparing a re-encoded sample.
 */
import type { ModelIdentity } from '../encoder/types.js';
import { resolveParseOptions, validateDocument, type ParseResult } from '../ingest/document.js';
import { indexNamePart } from '../names.js';
import { CONCEPT_FIELD } from '../opensearch/indexes.js';
import type { SparseVector } from '../sparse.js';

// indexNamePart and targetIndexName (the versioned index name ingest and reindex share): src/names.ts
export { indexNamePart, targetIndexName } from '../names.js';

/** The queue whose workers must run the target model (one per target index; BullMQ names hold no `:`). */
export function reindexQueueName(target: string): string {
  return `saesplade-reindex-${target}`;
}

/** The job set that counts a reindex (deterministic: a resumed run keeps counting in it). */
export function reindexSetId(target: string): string {
  return `reindex-${target}`;
}

/** Job id of page `page` of slice `slice`: deterministic, so re-queuing a page is a no-op. */
export function pageJobId(setId: string, slice: number, page: number): string {
  return `${setId}-s${slice}-p${page}`;
}

/** `batch` number recorded in a page job (unique in the set while slices stay under 10 000 pages × 100 000). */
export function pageBatchNumber(slice: number, page: number): number {
  return slice * 100_000 + page;
}

/**
 * Slices to read: the requested number (default 2), at least 1, and never more than the documents
 * (an empty slice costs a request and nothing else, but a hundred of them for ten documents is silly).
 */
export function planSlices(requested: number | undefined, docCount: number): number {
  const want = Math.max(1, Math.floor(requested ?? 2));
  return Math.max(1, Math.min(want, Math.max(1, docCount)));
}

/** Fields of the concept index that reindex writes itself; a source field of the same name is not copied. */
export const RESERVED_FIELDS = ['title', 'text', CONCEPT_FIELD, 'content_hash', 'model_version', 'metadata'] as const;

const ID_KEY = '\u0000id';

/**
 * A source hit as the document a reindex job carries: its `_id`; `title`/`text` from `textFields`
 * (as ingest maps them: one field → `text`, several → the first is `title`); `metadata` when the
 * source has an object there; every other source field in `fields`, stored as it is. A hit with no
 * text is rejected like an ingest line (code and reason), and recorded as a failed document.
 */
export function sourceHitToDoc(
  hit: { _id: string; _index?: string; _source?: Record<string, unknown> },
  textFields: string[],
): ParseResult {
  const src = hit._source ?? {};
  const parsed = validateDocument({ ...src, [ID_KEY]: hit._id }, `${hit._index ?? 'source'}/${hit._id}`, resolveParseOptions({
    format: 'jsonl',
    idField: ID_KEY,
    textFields,
  }));
  if (!parsed.ok) return parsed;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) if (!(RESERVED_FIELDS as readonly string[]).includes(k)) fields[k] = v;
  if (Object.keys(fields).length > 0) parsed.doc.fields = fields;
  return parsed;
}

/**
 * What the new index takes from the source's mapping and settings: its field mappings except the
 * reserved ones (the concept index defines those), and its analysis components so that carried
 * text fields keep their analyzers. Several source indices: the first definition of a name wins.
 */
export function carriedMappings(
  sources: { mappings?: { properties?: Record<string, unknown> }; settings?: { index?: { analysis?: Record<string, Record<string, unknown>> } } }[],
): { properties: Record<string, unknown>; analysis: Record<string, Record<string, unknown>> } {
  const properties: Record<string, unknown> = {};
  const analysis: Record<string, Record<string, unknown>> = {};
  for (const s of sources) {
    for (const [name, def] of Object.entries(s.mappings?.properties ?? {})) {
      if ((RESERVED_FIELDS as readonly string[]).includes(name) || name in properties) continue;
      properties[name] = def;
    }
    for (const [kind, defs] of Object.entries(s.settings?.index?.analysis ?? {})) {
      analysis[kind] = { ...defs, ...(analysis[kind] ?? {}) };
    }
  }
  return { properties, analysis };
}

export interface VectorComparison {
  /** Cosine similarity of the two vectors (1 = same direction; both empty = 1). */
  cosine: number;
  /** Largest |a - b| / max(a, b) over the concepts present in either (a missing one counts as 0). */
  maxRelDiff: number;
  /** Concepts present in exactly one of them. */
  onlyOne: number;
}

/** Compares a stored `rank_features` map with a freshly encoded vector. */
export function compareStored(stored: Record<string, number>, v: SparseVector): VectorComparison {
  const a = new Map(Object.entries(stored).map(([k, w]) => [Number(k), w]));
  const b = new Map<number, number>();
  v.indices.forEach((idx, i) => b.set(idx, v.values[i]!));
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxRelDiff = 0;
  let onlyOne = 0;
  for (const w of a.values()) na += w * w;
  for (const w of b.values()) nb += w * w;
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k) ?? 0;
    const y = b.get(k) ?? 0;
    dot += x * y;
    if (x === 0 || y === 0) onlyOne++;
    const m = Math.max(x, y);
    if (m > 0) maxRelDiff = Math.max(maxRelDiff, Math.abs(x - y) / m);
  }
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  return { cosine, maxRelDiff, onlyOne };
}
