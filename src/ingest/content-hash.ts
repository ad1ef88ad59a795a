import { createHash } from 'node:crypto';
import type { ModelIdentity } from '../encoder/types.js';
import type { SourceDoc } from './document.js';

/**
 * The `content_hash` stored with each indexed document: sha256 over the model's name and version
 * and the text fields. Equal hash = the stored concept vector is what encoding would give again,
 * so ingestion can skip the document. The parts are JSON-encoded as an array so that no two
 * different (title, text) pairs serialise alike. Metadata is not part of it (it is not encoded);
 * the worker compares metadata separately.
 */
export function contentHash(model: Pick<ModelIdentity, 'name' | 'version'>, doc: Pick<SourceDoc, 'title' | 'text'>): string {
  return createHash('sha256')
    .update(JSON.stringify(['saesplade-doc/1', model.name, model.version, doc.title ?? null, doc.text]))
    .digest('hex');
}

/** JSON with object keys sorted, for comparing metadata objects regardless of key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}
