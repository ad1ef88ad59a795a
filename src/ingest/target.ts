/**
 * Where `ingest` writes, and the layout it creates: the configured name (`SAESPLADE_INDEX`, default
 * `concepts-docs`) is an **alias** over a concrete index named for the model that filled it,
 * `<name>-<model name>-<model version>` (`targetIndexName`, the same name `reindex` gives its new
 * index). Upgrading the model is then one `saesplade reindex`: it builds the next model's index
 * beside the old one and moves the alias (docs/REINDEX.md). An existing name is used as it is when
 * its model is the configured one (an index created before this layout included); one built with
 * another model is refused with the exact `reindex` command that upgrades it.
 */
import path from 'node:path';
import { DEFAULT_MODEL_DIR } from '../config.js';
import type { ModelIdentity } from '../encoder/types.js';
import type { Client } from '../opensearch/client.js';
import { ensureConceptIndex, IndexModelMismatchError, readIndexModel, sameModel, type ConceptIndexOverrides, type IndexModelMeta } from '../opensearch/indexes.js';
import { targetIndexName } from '../names.js';
import { readMeta } from '../opensearch/meta.js';

export interface IngestTarget {
  name: string;
  /** `alias` (the layout ingest creates), `index` (a concrete index of that name), `missing`. */
  kind: 'missing' | 'alias' | 'index';
  /** The concrete indices: those behind the alias, or the index itself; [] when missing. */
  indices: string[];
  /** The model recorded in the (first) index's `_meta`; undefined when missing or not a concept index. */
  model?: IndexModelMeta;
  /** Built with the configured model. */
  current: boolean;
  /**
   * The configured model's index for this name (`<name>-<model>-<version>`) exists, but the alias was
   * rolled back from it (`_meta.reindex.rolled_back_at`): its copy is stale, so an upgrade must
   * rebuild it (`reindex --restart`).
   */
  rolledBack?: string;
}

/** What `name` is on the cluster and which model filled it. */
export async function inspectIngestTarget(client: Client, name: string, model: ModelIdentity): Promise<IngestTarget> {
  const isAlias = (await client.indices.existsAlias({ name })).body as boolean;
  const exists = isAlias || ((await client.indices.exists({ index: name })).body as boolean);
  if (!exists) return { name, kind: 'missing', indices: [], current: false };
  const indices = isAlias ? Object.keys((await client.indices.getAlias({ name })).body as object).sort() : [name];
  const meta = await readIndexModel(client, name);
  const current = sameModel(meta, model);
  const out: IngestTarget = { name, kind: isAlias ? 'alias' : 'index', indices, ...(meta ? { model: meta } : {}), current };
  const next = targetIndexName(name, model);
  if (!current && !indices.includes(next) && ((await client.indices.exists({ index: next })).body as boolean)) {
    if ((await readMeta(client, next)).reindex?.rolled_back_at) out.rolledBack = next;
  }
  return out;
}

/** Quotes a shell word when it needs it. */
function sh(word: string): string {
  return /^[A-Za-z0-9_.,:/=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The one command that re-encodes `target` with the model in `modelDir` and leaves `<name>` an
 * alias over the new model's index: `saesplade reindex --source <name> [--alias <name>] [--model
 * <dir>] --with-worker`. `--alias <name>` appears for a concrete index (it is replaced by an alias
 * of its own name, its content kept as `<name>-<old model>-<old version>`); `--model` when the
 * model is not the bundled one; `--restart` when that model's index was rolled back from (stale).
 */
export function upgradeCommand(target: Pick<IngestTarget, 'name' | 'kind' | 'rolledBack'>, modelDir: string): string {
  const words = ['saesplade', 'reindex', '--source', target.name];
  if (target.kind === 'index') words.push('--alias', target.name);
  if (path.resolve(modelDir) !== DEFAULT_MODEL_DIR) words.push('--model', path.resolve(modelDir));
  words.push('--with-worker');
  if (target.rolledBack) words.push('--restart');
  return words.map(sh).join(' ');
}

/**
 * `name` was built with another model than the configured one: what it holds, and the command that
 * upgrades it. A subclass of IndexModelMismatchError, so code that handles the model guard's
 * refusal handles this one too.
 */
export class IndexUpgradeRequiredError extends IndexModelMismatchError {
  override name = 'IndexUpgradeRequiredError';
  readonly command: string;
  constructor(
    readonly target: IngestTarget,
    model: ModelIdentity,
    modelDir: string,
  ) {
    super(target.name, target.model, model);
    this.command = upgradeCommand(target, modelDir);
    const old = target.model!;
    const what = target.kind === 'alias' ? `alias "${target.name}" (over ${target.indices.join(', ')})` : `index "${target.name}"`;
    this.message =
      `${what} holds vectors of model ${old.model_name}@${old.model_version} (dictionary of ${old.dictionary_size}), ` +
      `but the configured model is ${model.name}@${model.version} (dictionary of ${model.dictionarySize}); ` +
      `the ids of different models (concepts or vocabulary tokens) do not match, so nothing was queued. ` +
      `Upgrade it to ${model.name}@${model.version} with one command (it re-encodes every document into a new index, ` +
      `verifies it and ${target.kind === 'alias' ? 'moves the alias' : `replaces the index by an alias of the same name; the old index is kept`}; ` +
      `undo with saesplade rollback --alias ${sh(target.name)}` +
      (target.rolledBack ? `; --restart rebuilds ${target.rolledBack}, which an earlier upgrade made and a rollback left stale` : '') +
      `):\n  ${this.command}\n` +
      `or run this ingest again with --upgrade, which runs that first. To keep the old model, pass --model with its package instead.`;
  }
}

/**
 * Makes `name` ready for `model`'s documents: when it does not exist, creates the concept index
 * `<name>-<model name>-<version>` (or reuses it, after the model check) and points the alias `name`
 * at it; when it exists (alias or index) and was built with `model`, leaves it alone. Refuses one
 * built with another model (IndexUpgradeRequiredError, with the upgrade command) and one without
 * concept-model metadata (IndexModelMismatchError).
 */
export async function ensureIngestTarget(
  client: Client,
  name: string,
  model: ModelIdentity,
  modelDir: string,
  /** Shards and replicas of the index when it is created (default: mappings/concepts-index.json's 1 and 0). */
  settings: Pick<ConceptIndexOverrides, 'shards' | 'replicas'> = {},
): Promise<{ created: boolean; index: string; target: IngestTarget }> {
  let target = await inspectIngestTarget(client, name, model);
  if (target.kind === 'missing') {
    const index = targetIndexName(name, model);
    const { created } = await ensureConceptIndex(client, index, model, settings);
    try {
      await client.indices.putAlias({ index, name });
    } catch (err: any) {
      // A concrete index of that name appeared meanwhile (a worker of an older version created it?).
      if (err?.body?.error?.type !== 'invalid_alias_name_exception') throw err;
    }
    target = await inspectIngestTarget(client, name, model);
    if (target.current) return { created, index, target };
  }
  if (target.current) return { created: false, index: target.indices[0] ?? name, target };
  if (!target.model) throw new IndexModelMismatchError(name, undefined, model);
  throw new IndexUpgradeRequiredError(target, model, modelDir);
}
