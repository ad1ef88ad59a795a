import type { Command } from 'commander';
import { redactUrl } from '../errors.js';
import { checkOpenSearch, createOpenSearchClient } from '../opensearch/client.js';
import { checkRedis } from '../redis.js';
import { configFrom, emit, withConfigOptions } from './common.js';

interface Check {
  ok: boolean;
  url: string;
  detail: string;
}

/** `saesplade doctor`: can we reach OpenSearch and Redis? One line each; exit code 1 if not. */
export function register(program: Command): void {
  withConfigOptions(
    program
      .command('doctor')
      .description('check that OpenSearch and Redis are reachable with the current configuration')
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    const opensearch: Check = { ok: false, url: redactUrl(config.opensearchUrl), detail: '' };
    const redis: Check = { ok: false, url: redactUrl(config.redisUrl), detail: '' };
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
    ]);
    const ok = opensearch.ok && redis.ok;
    emit(opts.json as boolean | undefined, { ok, opensearch, redis }, () =>
      [
        `opensearch  ${opensearch.ok ? 'ok  ' : 'FAIL'}  ${opensearch.url}  ${opensearch.detail}`,
        `redis       ${redis.ok ? 'ok  ' : 'FAIL'}  ${redis.url}  ${redis.detail}`,
      ].join('\n'),
    );
    if (!ok) process.exitCode = 1;
  });
}
