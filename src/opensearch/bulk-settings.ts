import { randomUUID } from 'node:crypto';
import type { Client } from '@opensearch-project/opensearch';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ConceptIndexOverrides } from './indexes.js';
import { mergeMeta, readMetas, type IndexMeta } from './meta.js';

/** Shards and replicas of the indexes saesplade creates, from the config (SAESPLADE_SHARDS / --shards, ...). */
export function indexSettingsOf(config: Pick<Config, 'shards' | 'replicas'>): Pick<ConceptIndexOverrides, 'shards' | 'replicas'> {
  return { shards: config.shards, replicas: config.replicas };
}

/**
 * The `_meta` key where an index keeps the refresh_interval it had before a relaxed bulk load, for
 * as long as it is relaxed. In the index itself, not in Redis: whoever finds the index next (the
 * next ingest, worker, reindex or `doctor`) can put it back, whatever happened to the run that
 * relaxed it (SIGKILL, a lost machine, a flushed Redis).
 */
export const BULK_REFRESH_META = 'saesplade_bulk_refresh';

export interface BulkRefreshMeta {
  /** `index.refresh_interval` before the first relaxed run (null: not set, the cluster's default). */
  original: string | null;
  relaxed: string;
  since: string;
}

/**
 * Redis sorted set of the runs holding `index` relaxed: member = run id, score = when its lease
 * ends (ms). A run renews its lease every LEASE_RENEW_MS while it writes; a run killed stops
 * renewing, so its lease runs out after LEASE_MS and the next command may restore the interval.
 */
export function refreshHoldersKey(index: string): string {
  return `saesplade:bulk-refresh-holders:${index}`;
}
/** Kept by version ≤ 0.1 (the original interval in Redis); read once by the repair, then deleted. */
export function legacyRefreshRestoreKey(index: string): string {
  return `saesplade:refresh-restore:${index}`;
}

/** A relaxing run's lease: long enough to survive a busy event loop, short enough for a quick repair. */
export const LEASE_MS = 15_000;
const LEASE_RENEW_MS = 5_000;

export interface RelaxedRefresh {
  /** The concrete indexes whose refresh_interval was relaxed. */
  indexes: string[];
  /** Puts back the interval each index had before, unless another run still holds it relaxed (idempotent). */
  restore(): Promise<void>;
}

/**
 * Relaxes `refresh_interval` of the concrete indexes behind `name` (an index or an alias) for a
 * bulk load, as OpenSearch's bulk-indexing advice says (`-1` or a long interval while writing,
 * the old value back after). The interval each index had is recorded in its `_meta` the first
 * time only, so a run killed before restoring is repaired by the next command that finds the
 * index (`restoreAbandonedRefresh`), with the interval the index had before the first relaxed run,
 * not the relaxed one. Runs hold a lease in Redis while they write; the last one to end restores.
 */
export async function relaxRefreshInterval(client: Client, redis: Redis, name: string, interval: string, log?: Logger): Promise<RelaxedRefresh> {
  const holder = randomUUID();
  const indexes = await concreteIndexes(client, name);
  // The lease first: from here on no other run restores these indexes under this one.
  for (const idx of indexes) await renewLease(redis, idx, holder);
  const timer = setInterval(() => {
    for (const idx of indexes) renewLease(redis, idx, holder).catch(() => {});
  }, LEASE_RENEW_MS);
  timer.unref?.();
  const settings = await refreshSettings(client, indexes);
  for (const idx of indexes) {
    await mergeMeta(client, idx, (meta) =>
      meta[BULK_REFRESH_META] ? {} : { [BULK_REFRESH_META]: { original: settings[idx] ?? null, relaxed: interval, since: new Date().toISOString() } satisfies BulkRefreshMeta },
    );
  }
  if (indexes.length > 0) await client.indices.putSettings({ index: indexes.join(','), body: { index: { refresh_interval: interval } } } as any);
  log?.info({ indexes, refresh_interval: interval }, 'bulk load: refresh_interval relaxed until the writes are done');
  let restoring: Promise<void> | undefined;
  return {
    indexes,
    restore() {
      restoring ??= (async () => {
        clearInterval(timer);
        for (const idx of indexes) await redis.zrem(refreshHoldersKey(idx), holder);
        const restored = await restoreAbandonedRefresh(client, redis, indexes.join(','));
        if (restored.length > 0) log?.info({ indexes: restored.map((r) => r.index) }, 'bulk load done: refresh_interval restored');
        else if (indexes.length > 0) log?.info({ indexes }, 'bulk load done: refresh_interval left relaxed for another run still writing');
      })();
      return restoring;
    },
  };
}

export interface RestoredRefresh {
  index: string;
  /** What it was put back to (null: the cluster's default). */
  refreshInterval: string | null;
}

/**
 * Puts back the refresh_interval of every concrete index behind `name` that a relaxed bulk load
 * left relaxed (its `_meta` still says so) and that no living run holds (no unexpired lease).
 * Called at the start of ingest, worker, reindex and `doctor`, and by each relaxed run as it ends.
 * A name that does not exist is nothing to repair.
 */
export async function restoreAbandonedRefresh(client: Client, redis: Redis, name: string, log?: Logger): Promise<RestoredRefresh[]> {
  let metas: Record<string, IndexMeta>;
  try {
    metas = await readMetas(client, name);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return [];
    throw err;
  }
  const out: RestoredRefresh[] = [];
  for (const [idx, meta] of Object.entries(metas).sort(([a], [b]) => a.localeCompare(b))) {
    const rec = meta[BULK_REFRESH_META] as BulkRefreshMeta | undefined;
    const legacy = await redis.get(legacyRefreshRestoreKey(idx));
    if (!rec && legacy === null) continue;
    if (await hasLiveHolder(redis, idx)) continue;
    const original = rec ? rec.original : (JSON.parse(legacy!) as string | null);
    // null resets the setting to the cluster's default (1s).
    await client.indices.putSettings({ index: idx, body: { index: { refresh_interval: original } } } as any);
    // An undefined key is dropped from the JSON, so the whole `_meta` is written back without it.
    if (rec) await mergeMeta(client, idx, { [BULK_REFRESH_META]: undefined });
    if (legacy !== null) await redis.del(legacyRefreshRestoreKey(idx));
    out.push({ index: idx, refreshInterval: original });
  }
  if (out.length > 0) log?.warn({ restored: out }, `refresh_interval of ${out.map((r) => `${r.index} back to ${r.refreshInterval ?? 'the default'}`).join(', ')}: a relaxed bulk load ended without restoring it (killed?)`);
  return out;
}

async function renewLease(redis: Redis, index: string, holder: string): Promise<void> {
  const key = refreshHoldersKey(index);
  await redis.multi().zadd(key, Date.now() + LEASE_MS, holder).pexpire(key, 7 * 24 * 3600 * 1000).exec();
}

async function hasLiveHolder(redis: Redis, index: string): Promise<boolean> {
  const key = refreshHoldersKey(index);
  await redis.zremrangebyscore(key, '-inf', Date.now());
  return (await redis.zcard(key)) > 0;
}

async function concreteIndexes(client: Client, name: string): Promise<string[]> {
  return Object.keys((await client.indices.getSettings({ index: name, filter_path: '*.settings.index.uuid' } as any)).body as object).sort();
}

/** `index.refresh_interval` as each index set it (absent: never set). */
async function refreshSettings(client: Client, indexes: string[]): Promise<Record<string, string | undefined>> {
  if (indexes.length === 0) return {};
  // All settings: filtered by name, an index that never set the interval is left out of the answer.
  const res = await client.indices.getSettings({ index: indexes.join(','), flat_settings: true } as any);
  const body = res.body as Record<string, { settings?: Record<string, string> }>;
  return Object.fromEntries(indexes.map((i) => [i, body[i]?.settings?.['index.refresh_interval']]));
}
