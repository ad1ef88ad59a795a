import { z } from 'zod';
import { DEFAULT_MAX_DOC_BYTES, DEFAULT_TEXT_FIELDS } from '../defaults.js';
import type { SourceDoc } from '../queue/source-doc.js';

/**
 * Parsing and validation of one input line into a document. Pure: no I/O, so producers (file,
 * stdin, HTTP) and tests share it. A line either becomes a `SourceDoc` or a rejection with a
 * stable `code` and a human `reason`; rejected lines are recorded as failed and never queued.
 */

export type SourceFormat = 'auto' | 'jsonl' | 'beir';

export interface DocumentParseOptions {
  /** `beir`: `_id`/`title`/`text`/`metadata`; `jsonl`: the fields below; `auto` (default): `jsonl`, with `_id` as a fallback id. */
  format: SourceFormat;
  /** Field holding the document id (default `id`). */
  idField: string;
  /** Fields whose text is indexed and encoded, in order (default `title`, `text`). */
  textFields: string[];
  /** Field holding an object stored as-is under `metadata` (default `metadata`). */
  metadataField: string;
  /** Lines longer than this many UTF-8 bytes are rejected before parsing (default 1 MiB). */
  maxDocBytes: number;
}

export const DEFAULT_PARSE_OPTIONS: DocumentParseOptions = {
  format: 'auto',
  idField: 'id',
  textFields: [...DEFAULT_TEXT_FIELDS],
  metadataField: 'metadata',
  maxDocBytes: DEFAULT_MAX_DOC_BYTES,
};

/** OpenSearch refuses `_id`s longer than 512 bytes. */
export const MAX_ID_BYTES = 512;

// The document as a batch job carries it: the queue's contract (src/queue/source-doc.ts), re-exported here.
export { SourceDocSchema, type SourceDoc } from '../queue/source-doc.js';

export type RejectCode =
  | 'too_large'
  /** Bytes that are not UTF-8 (src/ingest/source-reader.ts). */
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_object'
  | 'missing_id'
  | 'invalid_id'
  | 'missing_text'
  | 'empty_text'
  | 'invalid_text'
  | 'invalid_metadata'
  /** An id an earlier line of the same source already had (src/ingest/seen-ids.ts); the first line is indexed. */
  | 'duplicate_id';

export type ParseResult =
  | { ok: true; doc: SourceDoc }
  | { ok: false; code: RejectCode; reason: string; id?: string };

const idValue = z.union([z.string(), z.number().finite()]).transform(String);
const textValue = z.string().nullish();
const metadataValue = z.record(z.string(), z.unknown()).nullish();

/** Resolves the format-specific field names. */
export function resolveParseOptions(opts: Partial<DocumentParseOptions> = {}): DocumentParseOptions {
  const o = { ...DEFAULT_PARSE_OPTIONS, ...stripUndefined(opts) };
  if (o.format === 'beir') return { ...o, idField: '_id', textFields: [...DEFAULT_TEXT_FIELDS], metadataField: 'metadata' };
  if (o.textFields.length === 0) throw new Error('at least one text field is required');
  if (!(o.maxDocBytes > 0)) throw new Error(`maxDocBytes must be positive, got ${o.maxDocBytes}`);
  return o;
}

/** Parses one line (`location` is `file:line`). `opts` must come from resolveParseOptions. */
export function parseDocumentLine(line: string, location: string, opts: DocumentParseOptions): ParseResult {
  const bytes = Buffer.byteLength(line, 'utf8');
  if (bytes > opts.maxDocBytes) {
    return { ok: false, code: 'too_large', reason: `document is ${bytes} bytes, over the limit of ${opts.maxDocBytes} (--max-doc-bytes)` };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, code: 'invalid_json', reason: `not JSON: ${(err as Error).message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, code: 'not_object', reason: 'line is JSON but not an object' };
  }
  return validateDocument(value as Record<string, unknown>, location, opts);
}

/** Validates an already-parsed object (also used by non-line producers). */
export function validateDocument(obj: Record<string, unknown>, location: string, opts: DocumentParseOptions): ParseResult {
  let rawId = obj[opts.idField];
  if ((rawId === undefined || rawId === null) && opts.format === 'auto' && opts.idField === 'id') rawId = obj['_id'];
  if (rawId === undefined || rawId === null) {
    return { ok: false, code: 'missing_id', reason: `no id field "${opts.idField}"` };
  }
  const id = idValue.safeParse(rawId);
  if (!id.success || id.data.trim() === '') {
    return { ok: false, code: 'invalid_id', reason: `id field "${opts.idField}" must be a non-empty string or a number` };
  }
  if (Buffer.byteLength(id.data, 'utf8') > MAX_ID_BYTES) {
    return { ok: false, code: 'invalid_id', id: id.data.slice(0, 64) + '…', reason: `id is longer than ${MAX_ID_BYTES} bytes` };
  }

  const texts: string[] = [];
  let present = 0;
  for (const field of opts.textFields) {
    const t = textValue.safeParse(obj[field]);
    if (!t.success) return { ok: false, code: 'invalid_text', id: id.data, reason: `text field "${field}" must be a string` };
    if (t.data === undefined || t.data === null) {
      texts.push('');
      continue;
    }
    present++;
    texts.push(t.data);
  }
  if (present === 0) {
    return { ok: false, code: 'missing_text', id: id.data, reason: `no text field (${opts.textFields.join(', ')})` };
  }
  if (texts.every((t) => t.trim() === '')) {
    return { ok: false, code: 'empty_text', id: id.data, reason: `empty text (${opts.textFields.join(', ')})` };
  }

  const md = metadataValue.safeParse(obj[opts.metadataField]);
  if (!md.success) {
    return { ok: false, code: 'invalid_metadata', id: id.data, reason: `metadata field "${opts.metadataField}" must be an object` };
  }

  const doc: SourceDoc = { id: id.data, ...titleAndText(texts), source: location };
  if (md.data) doc.metadata = md.data;
  return { ok: true, doc };
}

/**
 * Maps the configured text fields onto the index's `title` and `text`: with one field it is the
 * `text`; with more, the first is the `title` and the others, joined by a blank line, the `text`.
 */
export function titleAndText(texts: string[]): { title?: string; text: string } {
  if (texts.length === 1) return { text: texts[0]! };
  const rest = texts.slice(1).filter((t) => t.trim() !== '').join('\n\n');
  return texts[0]!.trim() !== '' ? { title: texts[0]!, text: rest } : { text: rest };
}

/** What the encoder reads for a document: title and text joined by a space (as BEIR/SPLADE do). */
export function encoderInput(doc: Pick<SourceDoc, 'title' | 'text'>): string {
  return doc.title && doc.title.trim() !== '' ? (doc.text ? `${doc.title} ${doc.text}` : doc.title) : doc.text;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
