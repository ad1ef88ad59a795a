import type { Command } from 'commander';
import { createEncoder } from '../encoder/index.js';
import { redactUrl } from '../errors.js';
import { checkOpenSearch, createOpenSearchClient } from '../opensearch/client.js';
import { checkRedis, createRedis } from '../redis.js';
import { restoreAbandonedRefresh, type RestoredRefresh } from '../opensearch/bulk-settings.js';
import type { Config } from '../config.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { CommandFailedError } from '../errors.js';

interface Check {
  ok: boolean;
  url: string;
  detail: string;
}

/**
 * `saesplade doctor`: can we reach OpenSearch and Redis, and does the model package load and encode?
 * One line each; exit code 1 if any fails.
 */
export function register(program: Command): void {
  withConfigOptions(
    program
      .command('doctor')
      .description('check that OpenSearch and Redis are reachable and the model package loads, with the current configuration')
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    const opensearch: Check = { ok: false, url: redactUrl(config.opensearchUrl), detail: '' };
    const redis: Check = { ok: false, url: redactUrl(config.redisUrl), detail: '' };
    const model: Check = { ok: false, url: config.modelDir, detail: '' };
    await Promise.all([
      (async () => {
        const client = createOpenSearchClient(config);
        try {
          const id = await checkOpenSearch(client, config.opensearchUrl);
          Object.assign(opensearch, { ok: true, detail: `${id.distribution} ${id.version}` });
        } catch (err) {
          opensearch.detail = (err as Error).message;
        } finally {
          await client.close();
        }
      })(),
      (async () => {
        try {
          const { version } = await checkRedis(config);
          Object.assign(redis, { ok: true, detail: `redis ${version}` });
        } catch (err) {
          redis.detail = (err as Error).message;
        }
      })(),
      (async () => {
        try {
          // Loading validates manifest, files and graph inputs/outputs; one encode proves the graph runs.
          const encoder = await createEncoder({ modelDir: config.modelDir, device: config.device, threads: 1 });
          try {
            const [v] = await encoder.encode(['checking the concept encoder'], 'query');
            const m = encoder.model;
            Object.assign(model, {
              ok: true,
              detail: `${m.name}@${m.version}, ${m.dictionarySize} concepts, ${encoder.device}, test query: ${v?.indices.length ?? 0} concepts`,
            });
          } finally {
            await encoder.close();
          }
        } catch (err) {
          model.detail = (err as Error).message;
        }
      })(),
    ]);
    // A refresh_interval that a killed bulk load left relaxed on the configured index is put back here.
    const refreshRestored = opensearch.ok && redis.ok ? await repairRefresh(config) : [];
    const ok = opensearch.ok && redis.ok && model.ok;
    emit(opts.json as boolean | undefined, { ok, opensearch, redis, model, refreshRestored }, () =>
      [
        `opensearch  ${opensearch.ok ? 'ok  ' : 'FAIL'}  ${opensearch.url}  ${opensearch.detail}`,
        `redis       ${redis.ok ? 'ok  ' : 'FAIL'}  ${redis.url}  ${redis.detail}`,
        `model       ${model.ok ? 'ok  ' : 'FAIL'}  ${model.url}  ${model.detail}`,
        ...refreshRestored.map((r) => `refresh     restored  ${r.index}: refresh_interval back to ${r.refreshInterval ?? 'the default'} (left relaxed by a bulk load that did not end)`),
      ].join('\n'),
    );
    if (!ok) throw new CommandFailedError('doctor: a check failed', { code: 'doctor_failed', reported: true });
  });
}

async function repairRefresh(config: Config): Promise<RestoredRefresh[]> {
  const client = createOpenSearchClient(config);
  const redis = createRedis(config);
  try {
    return await restoreAbandonedRefresh(client, redis, config.index);
  } catch {
    return []; // doctor reports; the next ingest or worker repairs
  } finally {
    await Promise.allSettled([redis.quit(), client.close()]);
  }
}
