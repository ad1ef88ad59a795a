/**
 * The last step of `reindex --source <name> --alias <name>` when `<name>` is a concrete index (the
 * layout before ingest created aliases, docs/REINDEX.md "A concrete index"): an alias cannot share
 * an index's name, so the index gives way to an alias of the same name in one `_aliases` call
 * (`remove_index` + `add`), and searches through `<name>` see the old index or the new one, never
 * neither. Unless `--delete-old`, its content is kept first as `<name>-<old model>-<old version>`
 * (a `_clone`: hard-linked segments, no re-indexing), recorded as the alias's previous index, so
 * that `saesplade rollback --alias <name>` moves the alias back to it.
 */
import type { ModelIdentity } from '../encoder/types.js';
import type { Client } from '../opensearch/client.js';
import { modelMeta, readIndexModel } from '../opensearch/indexes.js';
import { assertConcreteIndex, updateAliasesSafely } from '../opensearch/safety.js';
import { targetIndexName } from './plan.js';
import { SaespladeError } from '../errors.js';
import { mergeMeta } from '../opensearch/meta.js';

export class ReplaceIndexError extends SaespladeError {
  override name = 'ReplaceIndexError';
}

/** Where the replaced index's content is kept: its own name with its model, as ingest would name it now. */
export async function keptIndexName(client: Client, name: string, target: string): Promise<string> {
  const old = await readIndexModel(client, name);
  const keep = targetIndexName(name, old ? { name: old.model_name, version: old.model_version } : { name: 'unversioned', version: 'previous' });
  return keep === target ? `${target}-previous` : keep;
}

async function setWriteBlock(client: Client, index: string, on: boolean): Promise<void> {
  await client.indices.putSettings({ index, body: { index: { blocks: { write: on ? true : null } } } as any });
}

async function count(client: Client, index: string): Promise<number> {
  return ((await client.count({ index })).body as { count: number }).count;
}

/**
 * Keeps a copy of `name` as `keep` (idempotent: an earlier run's clone of `name` is reused). Writes
 * to `name` are blocked from here on (a clone needs a read-only source); on failure the block is lifted.
 */
async function keepCopy(client: Client, name: string, keep: string): Promise<void> {
  await setWriteBlock(client, name, true);
  try {
    if ((await client.indices.exists({ index: keep })).body) {
      const settings = (await client.indices.getSettings({ index: keep })).body as Record<string, { settings?: { index?: { resize?: { source?: { name?: string } } } } }>;
      const from = settings[keep]?.settings?.index?.resize?.source?.name;
      if (from !== name) throw new ReplaceIndexError(`cannot keep ${name} as ${keep}: an index of that name exists and is not a copy of ${name}; delete or rename it, or run with --delete-old`);
    } else {
      await client.indices.clone({ index: name, target: keep, wait_for_active_shards: '1', body: { settings: { index: { blocks: { write: null } } } } } as any);
    }
    await client.cluster.health({ index: keep, wait_for_status: 'yellow', timeout: '120s' } as any);
    await client.indices.refresh({ index: `${name},${keep}` });
    const [a, b] = await Promise.all([count(client, name), count(client, keep)]);
    if (a !== b) throw new ReplaceIndexError(`the copy ${keep} of ${name} holds ${b} documents, ${name} ${a}; not replacing ${name}`);
  } catch (err) {
    await setWriteBlock(client, name, false).catch(() => undefined);
    throw err;
  }
}

/**
 * Replaces the concrete index `name` by the alias `name` over `target` (see the module comment).
 * Records `_meta.reindex` on `target` as an alias switch does (`previous` = the kept copy, or none).
 */
export async function replaceIndexWithAlias(
  client: Client,
  name: string,
  target: string,
  info: { sources: string[]; model: ModelIdentity; setId: string; keepOld: boolean },
): Promise<{ previous: string[]; deleted: string[]; kept?: string }> {
  if (!(await assertConcreteIndex(client, name, 'reindex: replacing an index by an alias'))) {
    throw new ReplaceIndexError(`${name} no longer exists: nothing to replace`);
  }
  const kept = info.keepOld ? await keptIndexName(client, name, target) : undefined;
  if (kept) await keepCopy(client, name, kept);
  const previous = kept ? [kept] : [];
  await mergeMeta(client, target, {
    ...modelMeta(info.model),
    reindex: { alias: name, sources: info.sources, previous, replaced_index: name, job_set: info.setId, switched_at: new Date().toISOString() },
  });
  try {
    await updateAliasesSafely(client, [{ remove_index: { index: name } }, { add: { index: target, alias: name } }], 'reindex: replacing an index by an alias');
  } catch (err) {
    if (kept) await setWriteBlock(client, name, false).catch(() => undefined);
    throw err;
  }
  return { previous, deleted: kept ? [] : [name], ...(kept ? { kept } : {}) };
}
