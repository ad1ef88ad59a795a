import type { Client } from '@opensearch-project/opensearch';

/**
 * An index's mapping `_meta`: where saesplade records the model that filled an index
 * (`model_name`, ...), a reindex's switch (`reindex`) and eval's collection (`saesplade_eval`).
 * OpenSearch replaces `_meta` as a whole on a mapping update, so every write is a read-modify-write
 * (`mergeMeta`), never a bare put.
 */
export type IndexMeta = Record<string, any>;

/** Per-request options of a read: the OpenSearch-compatible endpoint sends its caller's own credentials. */
export interface ReadOptions {
  headers?: Record<string, string>;
}

/** `_meta` of every index behind `index` (an index, alias or comma list), by concrete index name. */
export async function readMetas(client: Client, index: string, options?: ReadOptions): Promise<Record<string, IndexMeta>> {
  const res = await client.indices.getMapping({ index }, options);
  const out: Record<string, IndexMeta> = {};
  for (const [name, e] of Object.entries(res.body as Record<string, { mappings?: { _meta?: IndexMeta } }>)) out[name] = e.mappings?._meta ?? {};
  return out;
}

/** `_meta` of `index`: that index's when it is concrete, else the first index behind the name; `{}` when it has none. */
export async function readMeta(client: Client, index: string): Promise<IndexMeta> {
  const metas = await readMetas(client, index);
  return metas[index] ?? Object.values(metas)[0] ?? {};
}

/**
 * Read-modify-write of `index`'s `_meta`: `patch` (an object merged over the top-level keys, or a
 * function of the current `_meta` that returns the keys to merge) is applied and the whole `_meta`
 * is written back; a key patched to `undefined` is dropped from it. Returns what was written.
 */
export async function mergeMeta(client: Client, index: string, patch: IndexMeta | ((meta: IndexMeta) => IndexMeta)): Promise<IndexMeta> {
  const meta = await readMeta(client, index);
  const next = { ...meta, ...(typeof patch === 'function' ? patch(meta) : patch) };
  await client.indices.putMapping({ index, body: { _meta: next } as any });
  return next;
}
