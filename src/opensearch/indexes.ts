import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import { PACKAGE_ROOT } from '../config.js';
import type { ModelIdentity } from '../encoder/types.js';
import { SaespladeError } from '../errors.js';
import { readMetas, type ReadOptions } from './meta.js';

/** The field that holds concept weights (`rank_features`). */
export const CONCEPT_FIELD = 'concepts';

/** What a concept index records about the model that filled it, in its mapping `_meta`. */
export interface IndexModelMeta {
  model_name: string;
  model_version: string;
  dictionary_size: number;
  concept_field: string;
}

export class IndexModelMismatchError extends SaespladeError {
  override name = 'IndexModelMismatchError';
  constructor(
    readonly index: string,
    readonly indexModel: IndexModelMeta | undefined,
    readonly model: ModelIdentity,
  ) {
    super(
      indexModel
        ? `index "${index}" was built with model ${indexModel.model_name}@${indexModel.model_version} ` +
            `(dictionary of ${indexModel.dictionary_size}) but the configured model is ${model.name}@${model.version} ` +
            `(dictionary of ${model.dictionarySize}); the ids of different models (concepts or vocabulary tokens) do not match. ` +
            `Use the index's model (--model), another index (--index), or reindex it with the new model.`
        : `index "${index}" has no concept-model metadata in its _meta (not created by saesplade?); ` +
            `refusing to treat it as a concept index. Reindex it with \`saesplade reindex\`.`,
    );
  }
}

export function modelMeta(model: ModelIdentity): IndexModelMeta {
  return {
    model_name: model.name,
    model_version: model.version,
    dictionary_size: model.dictionarySize,
    concept_field: CONCEPT_FIELD,
  };
}

/**
 * Overrides of the index body. `properties` and `analysis` add field mappings and analysis
 * components (reindex carries a source index's own fields over); the concept index's own fields
 * and its `default` analyzer win over them.
 */
export interface ConceptIndexOverrides {
  replicas?: number;
  shards?: number;
  properties?: Record<string, unknown>;
  analysis?: Record<string, Record<string, unknown>>;
}

/** The index body from mappings/concepts-index.json with the model recorded in `_meta`. */
export function conceptIndexBody(model: ModelIdentity, overrides: ConceptIndexOverrides = {}): Record<string, any> {
  const body = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'mappings', 'concepts-index.json'), 'utf8'));
  body.settings ??= {};
  body.settings.index ??= {};
  if (overrides.replicas !== undefined) body.settings.index.number_of_replicas = overrides.replicas;
  if (overrides.shards !== undefined) body.settings.index.number_of_shards = overrides.shards;
  body.mappings ??= {};
  body.mappings._meta = { ...(body.mappings._meta ?? {}), ...modelMeta(model) };
  if (overrides.properties) body.mappings.properties = { ...overrides.properties, ...(body.mappings.properties ?? {}) };
  if (overrides.analysis) {
    const own = (body.settings.analysis ?? {}) as Record<string, Record<string, unknown>>;
    const merged: Record<string, Record<string, unknown>> = { ...overrides.analysis };
    for (const [kind, defs] of Object.entries(own)) merged[kind] = { ...(merged[kind] ?? {}), ...defs };
    body.settings.analysis = merged;
  }
  return body;
}

/**
 * An alias over indexes built with different models (or over a concept index and one that is
 * not): no single model can read it. Its name stays `IndexModelMismatchError`, so every handler
 * of the model guard (ingest's job fate, the CLI, the server) treats it as one.
 */
export class AliasModelsMismatchError extends IndexModelMismatchError {
  constructor(
    index: string,
    readonly models: [string, IndexModelMeta | undefined][],
    model?: ModelIdentity,
  ) {
    const first = models.find(([, m]) => m)?.[1];
    super(index, first, model ?? { name: first?.model_name ?? '?', version: first?.model_version ?? '?', dictionarySize: first?.dictionary_size ?? 0 });
    const list = models.map(([i, m]) => `${i} (${m ? `${m.model_name}@${m.model_version}` : 'no concept-model _meta'})`).join(', ');
    this.message =
      `alias "${index}" stands for indexes built with different models: ${list}; concept ids of different models do not match, ` +
      `so no model can read it${model ? ` (the configured model is ${model.name}@${model.version})` : ''}. ` +
      `Point the alias at one index (saesplade rollback, or an _aliases call).`;
  }
}

function metaOf(raw: Partial<IndexModelMeta> | undefined): IndexModelMeta | undefined {
  if (!raw || raw.model_name === undefined || raw.model_version === undefined) return undefined;
  return raw as IndexModelMeta;
}

/** The model recorded on every index behind a name (one entry for a concrete index), by index name. */
export async function readIndexModels(client: Client, index: string, options?: ReadOptions): Promise<[string, IndexModelMeta | undefined][]> {
  return Object.entries(await readMetas(client, index, options))
    .map(([name, meta]) => [name, metaOf(meta)] as [string, IndexModelMeta | undefined])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function sameMeta(a: IndexModelMeta | undefined, b: IndexModelMeta | undefined): boolean {
  if (!a || !b) return a === b;
  return a.model_name === b.model_name && a.model_version === b.model_version && a.dictionary_size === b.dictionary_size;
}

/**
 * Reads the model recorded on an index, or on the indexes behind an alias; undefined if none.
 * Every index behind an alias is read: indexes of different models throw AliasModelsMismatchError.
 */
export async function readIndexModel(client: Client, index: string): Promise<IndexModelMeta | undefined> {
  const models = await readIndexModels(client, index);
  const first = models[0]?.[1];
  if (models.some(([, m]) => !sameMeta(m, first))) throw new AliasModelsMismatchError(index, models);
  return first;
}

export function sameModel(meta: IndexModelMeta | undefined, model: ModelIdentity): boolean {
  return (
    meta !== undefined &&
    meta.model_name === model.name &&
    meta.model_version === model.version &&
    meta.dictionary_size === model.dictionarySize
  );
}

/** Throws IndexModelMismatchError unless the index was built with this model. */
export async function assertIndexModel(client: Client, index: string, model: ModelIdentity): Promise<IndexModelMeta> {
  const models = await readIndexModels(client, index);
  const meta = models[0]?.[1];
  // Every index behind an alias, not only the first: an alias over two models' indexes is refused.
  if (models.some(([, m]) => !sameMeta(m, meta))) throw new AliasModelsMismatchError(index, models, model);
  if (!sameModel(meta, model)) throw new IndexModelMismatchError(index, meta, model);
  return meta!;
}

/**
 * Creates the concept index for `model` if it does not exist; if it exists, checks that it was
 * built with the same model and refuses otherwise. Returns whether it was created.
 */
export async function ensureConceptIndex(
  client: Client,
  index: string,
  model: ModelIdentity,
  overrides: ConceptIndexOverrides = {},
): Promise<{ created: boolean }> {
  const exists = (await client.indices.exists({ index })).body as boolean;
  if (exists) {
    await assertIndexModel(client, index, model);
    return { created: false };
  }
  try {
    await client.indices.create({ index, body: conceptIndexBody(model, overrides) });
    return { created: true };
  } catch (err: any) {
    // Another worker created it between our check and our create: fine if it is the same model.
    if (err?.body?.error?.type === 'resource_already_exists_exception') {
      await assertIndexModel(client, index, model);
      return { created: false };
    }
    throw err;
  }
}
