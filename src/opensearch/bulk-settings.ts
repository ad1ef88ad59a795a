import type { Client } from '@opensearch-project/opensearch';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ConceptIndexOverrides } from './indexes.js';

/** Shards and replicas of the indexes saesplade creates, from the config (SAESPLADE_SHARDS / --shards, ...). */
export function indexSettingsOf(config: Pick<Config, 'shards' | 'replicas'>): Pick<ConceptIndexOverrides, 'shards' | 'replicas'> {
  return { shards: config.shards, replicas: config.replicas };
}

/** Where the interval an index had before a relaxed bulk load is kept (until it is restored). */
export function refreshRestoreKey(index: string): string {
  return `saesplade:refresh-restore:${index}`;
}

export interface RelaxedRefresh {
  /** The concrete indexes whose refresh_interval was relaxed. */
  indexes: string[];
  /** Puts back the interval each index had before (idempotent). */
  restore(): Promise<void>;
}

/**
 * Relaxes `refresh_interval` of the concrete indexes behind `name` (an index or an alias) for a
 * bulk load, as OpenSearch's bulk-indexing advice says (`-1` or a long interval while writing,
 * the old value back after). The interval each index had is kept in Redis the first time only
 * (SET NX, 7 days), so a run killed before restoring is repaired by the next one: it restores
 * the interval the index had before the first relaxed run, not the relaxed one.
 */
export async function relaxRefreshInterval(client: Client, redis: Redis, name: string, interval: string, log?: Logger): Promise<RelaxedRefresh> {
  // All settings: filtered by name, an index that never set the interval is left out of the answer.
  const res = await client.indices.getSettings({ index: name, flat_settings: true } as any);
  const body = res.body as Record<string, { settings?: Record<string, string> }>;
  const indexes = Object.keys(body).sort();
  for (const idx of indexes) {
    const current = body[idx]?.settings?.['index.refresh_interval'] ?? null;
    await redis.set(refreshRestoreKey(idx), JSON.stringify(current), 'EX', 7 * 24 * 3600, 'NX');
  }
  if (indexes.length > 0) await client.indices.putSettings({ index: indexes.join(','), body: { index: { refresh_interval: interval } } } as any);
  log?.info({ indexes, refresh_interval: interval }, 'bulk load: refresh_interval relaxed until the writes are done');
  let restoring: Promise<void> | undefined;
  return {
    indexes,
    restore() {
      restoring ??= (async () => {
        for (const idx of indexes) {
          const raw = await redis.get(refreshRestoreKey(idx));
          const original = raw === null ? null : (JSON.parse(raw) as string | null);
          // null resets the setting to the cluster's default (1s).
          await client.indices.putSettings({ index: idx, body: { index: { refresh_interval: original } } } as any);
          await redis.del(refreshRestoreKey(idx));
        }
        log?.info({ indexes }, 'bulk load done: refresh_interval restored');
      })();
      return restoring;
    },
  };
}
