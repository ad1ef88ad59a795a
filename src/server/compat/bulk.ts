/**
 * `_bulk` through the endpoint. Items for indexes this product manages get their concepts: an
 * index/create item's text fields are encoded and the concept field (with `content_hash` and
 * `model_version`, as `saesplade ingest` writes them) is added; an update that touches a text field
 * is applied to the stored document here and sent as an index of the whole document, guarded by
 * its `_seq_no` (a concurrent write is the usual 409), because a partial update would merge the
 * old concept map into the new one. Items for other indexes, and deletes, go on byte for byte. An
 * item that cannot be encoded fails alone, in OpenSearch's item shape; the answer keeps the
 * request's order.
 */
import { contentHash } from '../../ingest/content-hash.js';
import { encoderInput, titleAndText } from '../../ingest/document.js';
import type { Encoder } from '../../encoder/types.js';
import { toFeatureMap } from '../../sparse.js';
import { failedItem, itemFailed, mergeItems, serializeBulk, type BulkItem, type ItemAnswer } from './bulk-format.js';
import { itemError } from './errors.js';
import type { IndexState } from './managed.js';

export interface BulkDeps {
  encoder: Pick<Encoder, 'encode' | 'model'>;
  textFields: readonly string[];
  /** Index → state (managed, plain, other model), read with the caller's credentials. */
  stateOf: (index: string) => Promise<IndexState>;
  /** Current sources of documents (for updates): `mget` with the caller's credentials. */
  fetch: (docs: { index: string; id: string; routing?: string }[]) => Promise<({ source: Record<string, unknown>; seqNo: number; primaryTerm: number } | undefined)[]>;
}

/** What to send to the cluster, and how to answer once it has answered. */
export type BulkPlan =
  | { kind: 'passthrough' }
  | { kind: 'local'; answer: { took: number; errors: boolean; items: ItemAnswer[] } }
  | { kind: 'send'; body: string; finish: (remote: { took?: number; items?: ItemAnswer[] }) => { took: number; errors: boolean; items: ItemAnswer[] } };

/** The text an item's source gives the encoder, or why it gives none. */
export function documentText(source: Record<string, unknown>, fields: readonly string[]): { title?: string; text: string } | { error: string } {
  const texts: string[] = [];
  let present = 0;
  for (const f of fields) {
    const v = source[f];
    if (v === undefined || v === null) {
      texts.push('');
      continue;
    }
    if (typeof v !== 'string') return { error: `text field [${f}] must be a string, got ${Array.isArray(v) ? 'an array' : typeof v}` };
    present++;
    texts.push(v);
  }
  if (present === 0) return { error: `no text field (${fields.join(', ')}) to encode` };
  if (texts.every((t) => t.trim() === '')) return { error: `the text fields (${fields.join(', ')}) are empty` };
  return titleAndText(texts);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** OpenSearch's partial-update merge: objects merge key by key, anything else replaces. */
export function mergeDoc(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = isObject(v) && isObject(out[k]) ? mergeDoc(out[k] as Record<string, unknown>, v) : v;
  return out;
}

const ENCODE = 'saesplade_encoding_exception';

interface Pending {
  item: BulkItem;
  /** The whole document to index (with concepts added once encoded). */
  doc: Record<string, unknown>;
  text: { title?: string; text: string };
  field: string;
  /** The action sent: the item's own, or (for an update) an index guarded by the stored seq_no, or a create (upsert). */
  action: Record<string, Record<string, unknown>>;
  /** The answer key the client expects (`update` for a converted update). */
  answerAs: string;
}

/** Decides every item's fate: local failure, unchanged, or encoded; then the body to send. */
export async function planBulk(items: readonly BulkItem[], deps: BulkDeps, started = Date.now()): Promise<BulkPlan> {
  const states = new Map<string, IndexState>();
  for (const it of items) if (it.index !== undefined && it.op !== 'delete' && !states.has(it.index)) states.set(it.index, await deps.stateOf(it.index));
  const touches = (it: BulkItem) => it.op !== 'delete' && it.index !== undefined && ['managed', 'other_model'].includes(states.get(it.index)!.kind);
  if (!items.some(touches)) return { kind: 'passthrough' };

  const local = new Map<number, ItemAnswer>();
  const pending = new Map<number, Pending>();
  const keyOf = (it: BulkItem) => `${it.index}\u0000${String(it.meta._id)}`;
  const hasId = (it: BulkItem) => typeof it.meta._id === 'string' || typeof it.meta._id === 'number';
  const updates: { item: BulkItem; patch: Record<string, unknown>; field: string; upsert?: Record<string, unknown>; docAsUpsert: boolean }[] = [];

  // Pass 1: what each item is, and which updates need the stored document.
  const needFetch = new Map<string, { index: string; id: string; routing?: string }>();
  const writtenBefore = new Set<string>();
  for (const it of items) {
    const key = hasId(it) && it.index !== undefined ? keyOf(it) : undefined;
    if (!touches(it)) {
      if (key && it.op === 'delete') writtenBefore.add(key);
      continue;
    }
    const state = states.get(it.index!)!;
    if (state.kind === 'other_model') {
      local.set(it.position, failedItem(it, 400, itemError('saesplade_model_mismatch_exception', state.reason)));
      continue;
    }
    if (state.kind !== 'managed') continue;
    if (it.sourceError !== undefined || !isObject(it.source)) {
      local.set(it.position, failedItem(it, 400, itemError('mapper_parsing_exception', it.sourceError ?? 'the source line is not a JSON object')));
      continue;
    }
    const field = state.field;
    if (it.op === 'index' || it.op === 'create') {
      const text = documentText(it.source, deps.textFields);
      if ('error' in text) {
        local.set(it.position, failedItem(it, 400, itemError(ENCODE, text.error)));
        continue;
      }
      pending.set(it.position, { item: it, doc: it.source, text, field, action: { [it.op]: it.meta }, answerAs: it.op });
      if (key) writtenBefore.add(key);
      continue;
    }
    // update
    const src = it.source;
    if (src.script !== undefined) {
      local.set(it.position, failedItem(it, 400, itemError('saesplade_unsupported_exception', 'a scripted update of a concept index could change its text without encoding it: send the new document with index, or a partial update in doc')));
      continue;
    }
    const patch = isObject(src.doc) ? src.doc : undefined;
    const upsert = isObject(src.upsert) ? src.upsert : undefined;
    const docAsUpsert = src.doc_as_upsert === true;
    const touchesText = patch !== undefined && (deps.textFields.some((f) => f in patch) || field in patch);
    if (!touchesText && !upsert && !docAsUpsert) continue; // metadata-only update: the concepts stay right
    if (!key) {
      local.set(it.position, failedItem(it, 400, itemError('action_request_validation_exception', 'Validation Failed: 1: id is missing;')));
      continue;
    }
    updates.push({ item: it, patch: patch ?? {}, field, ...(upsert ? { upsert } : {}), docAsUpsert });
    if (!writtenBefore.has(key)) needFetch.set(key, { index: it.index!, id: String(it.meta._id), ...(typeof it.meta.routing === 'string' ? { routing: it.meta.routing } : {}) });
    writtenBefore.add(key);
  }

  const fetched = new Map<string, { source: Record<string, unknown>; seqNo: number; primaryTerm: number } | undefined>();
  if (needFetch.size > 0) {
    const keys = [...needFetch.keys()];
    const got = await deps.fetch([...needFetch.values()]);
    keys.forEach((k, i) => fetched.set(k, got[i]));
  }

  // Pass 2, in request order: an update applies to what the items before it in this request left
  // (OpenSearch runs one document's items in order), else to the stored document.
  const latest = new Map<string, Record<string, unknown> | null>();
  const updateAt = new Map(updates.map((u) => [u.item.position, u]));
  for (const it of items) {
    const key = hasId(it) && it.index !== undefined ? keyOf(it) : undefined;
    if (!key || local.has(it.position)) continue;
    const p = pending.get(it.position);
    if (p && p.answerAs !== 'update') {
      latest.set(key, p.doc);
      continue;
    }
    if (it.op === 'delete') {
      latest.set(key, null);
      continue;
    }
    const u = updateAt.get(it.position);
    if (!u) continue;
    const { retry_on_conflict: _retry, ...meta } = u.item.meta as Record<string, unknown>;
    let base: Record<string, unknown> | undefined;
    let guard: { if_seq_no: unknown; if_primary_term: unknown } | undefined;
    if (latest.has(key)) base = latest.get(key) ?? undefined;
    else {
      const cur = fetched.get(key);
      if (cur) {
        base = cur.source;
        guard = { if_seq_no: meta.if_seq_no ?? cur.seqNo, if_primary_term: meta.if_primary_term ?? cur.primaryTerm };
      }
    }
    let doc: Record<string, unknown>;
    let action: Record<string, Record<string, unknown>>;
    if (base) {
      doc = mergeDoc(base, u.patch);
      action = { index: { ...meta, ...(guard ?? {}) } };
    } else if (u.docAsUpsert || u.upsert) {
      doc = u.docAsUpsert ? u.patch : u.upsert!;
      action = { create: meta };
    } else {
      local.set(u.item.position, failedItem(u.item, 404, itemError('document_missing_exception', `[${String(u.item.meta._id)}]: document missing`)));
      continue;
    }
    const text = documentText(doc, deps.textFields);
    if ('error' in text) {
      local.set(u.item.position, failedItem(u.item, 400, itemError(ENCODE, text.error)));
      continue;
    }
    pending.set(u.item.position, { item: u.item, doc, text, field: u.field, action, answerAs: 'update' });
    latest.set(key, doc);
  }

  const todo = [...pending.values()];
  const vectors = todo.length > 0 ? await deps.encoder.encode(todo.map((p) => encoderInput(p.text)), 'document') : [];
  const model = deps.encoder.model;
  const rewritten = new Map<number, { action: string; source: string }>();
  todo.forEach((p, k) => {
    const body = { ...p.doc, [p.field]: toFeatureMap(vectors[k]!), content_hash: contentHash(model, p.text), model_version: model.version };
    rewritten.set(p.item.position, { action: JSON.stringify(p.action), source: JSON.stringify(body) });
  });

  const sent: number[] = [];
  const lines: { action: string; source?: string }[] = [];
  for (const it of items) {
    if (local.has(it.position)) continue;
    const r = rewritten.get(it.position);
    lines.push(r ?? (it.rawSource !== undefined ? { action: it.rawAction, source: it.rawSource } : { action: it.rawAction }));
    sent.push(it.position);
  }
  const answerAs = new Map([...pending].map(([pos, p]) => [pos, p.answerAs]));
  const finish = (remote: { took?: number; items?: ItemAnswer[] }) => {
    const renamed = (remote.items ?? []).map((a, k) => {
      const as = answerAs.get(sent[k]!);
      const [key, inner] = Object.entries(a)[0] ?? [];
      return as && key && key !== as ? { [as]: inner! } : a;
    });
    const merged = mergeItems(items.length, local, sent, renamed);
    return { took: remote.took ?? Date.now() - started, errors: merged.some(itemFailed), items: merged };
  };
  if (sent.length === 0) return { kind: 'local', answer: finish({ took: Date.now() - started, items: [] }) };
  return { kind: 'send', body: serializeBulk(lines), finish };
}
